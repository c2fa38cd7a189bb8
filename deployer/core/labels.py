"""The label policy for a bot's unit: which labels every backend writes, so that ownership
(managed, fleet, bot), the recorded spec and its hash read the same on a container and on a
swarm service."""

from __future__ import annotations

from typing import Any

from deployer.core.model import BotSpec
from deployer.core.spec import canonical_json
from deployer.core.vocabulary import (
    LABEL_BOT,
    LABEL_CHANNELS,
    LABEL_FLEET,
    LABEL_MANAGED,
    LABEL_MODEL,
    LABEL_PROVIDER,
    LABEL_SPEC,
    LABEL_SPEC_HASH,
)


def ownership_filters(fleet: str | None = None) -> list[str]:
    """The label filters of one fleet's units (or every managed unit)."""
    return [f"{LABEL_MANAGED}=true"] + ([f"{LABEL_FLEET}={fleet}"] if fleet else [])


def bot_labels(bot: BotSpec, *, fleet: str, spec: dict[str, Any], spec_hash: str,
               extra: dict[str, str] | None = None) -> dict[str, str]:
    """The manifest's own labels, the informational ones, then ours (which win)."""
    labels = dict(bot.labels)
    # for docker ps readers; an OpenClaw bot's model and channels live in its config (they
    # change by hot reload, and these labels could not follow)
    if bot.provider and not bot.is_openclaw:
        provider = dict(bot.provider)
        if "model" in provider:
            labels[LABEL_MODEL] = provider["model"]
        labels[LABEL_PROVIDER] = provider.get("name", "")
    if bot.channels and not bot.is_openclaw:
        labels[LABEL_CHANNELS] = ",".join(bot.channels)
    labels.update(extra or {})
    labels.update({
        LABEL_MANAGED: "true",
        LABEL_BOT: bot.name,
        LABEL_FLEET: fleet,
        LABEL_SPEC_HASH: spec_hash,
        LABEL_SPEC: canonical_json(spec),
    })
    return labels
