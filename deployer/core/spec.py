"""The canonical desired container spec and its versioned hash.

Only the manifest (and the fleet's secrets directory) goes in: nothing read from the engine,
no daemon defaults. So an unchanged manifest always hashes the same, whatever the tool or
daemon version, and never causes a spurious replace. Bump SPEC_VERSION only together with a
migration, since a new version changes every hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from deployer.core.encodings import cpus_from_nano, restart_string
from deployer.core.model import BotSpec
from deployer.core.vocabulary import SECRETS_MOUNT

SPEC_VERSION = "v1"


def secrets_source(bot: BotSpec, secrets_dir: str | None) -> str | None:
    if not bot.secrets or not secrets_dir:
        return None
    return secrets_dir.rstrip("/") + "/" + bot.name


def container_spec(bot: BotSpec, secrets_dir: str | None = None) -> dict[str, Any]:
    """Everything that defines the container, as plain JSON data with a fixed shape.

    `state` and `pullPolicy` are left out on purpose: they are how we run the container,
    not what it is. Its inverse is specinverse.bot_from_spec (rollback): change both together.
    """
    hc = bot.healthcheck
    source = secrets_source(bot, secrets_dir)
    spec = {
        "image": bot.image,
        "command": list(bot.command) if bot.command is not None else None,
        "env": dict(bot.env),
        "user": bot.user,
        "ports": sorted(
            f"{p.host_ip}:{p.host_port}:{p.container_port}/{p.protocol}" for p in bot.ports
        ),
        "volumes": sorted(
            f"{v.source}:{v.target}:{'ro' if v.read_only else 'rw'}" for v in bot.volumes
        ),
        "secrets": {
            "mount": f"{source}:{SECRETS_MOUNT}:ro" if source else None,
            "names": list(bot.secrets),
        },
        "network": bot.network,
        "healthcheck": None
        if hc is None
        else {
            "test": list(hc.test),
            "interval": hc.interval_ns,
            "timeout": hc.timeout_ns,
            "retries": hc.retries,
            "startPeriod": hc.start_period_ns,
        },
        "labels": dict(bot.labels),
        "provider": dict(bot.provider),
        "channels": sorted(bot.channels),  # order carries no meaning: reordering must not replace
        "memory": bot.memory_bytes,
        "cpus": cpus_from_nano(bot.nano_cpus),
        "restart": restart_string(bot.restart_policy, bot.restart_max_retries),
    }
    if bot.is_openclaw:
        # Model, provider and channels live in the generated config, which the gateway reloads
        # without a restart: they are compared with the config file, not recorded in the
        # container's immutable labels (which would go stale after a reload).
        del spec["provider"], spec["channels"]
        spec["runtime"] = bot.runtime
    if bot.hostname is not None:
        spec["hostname"] = bot.hostname
    if bot.placement_constraints or bot.placement_preferences:
        # only when set: the hashes of bots without placement (every docker-backend bot) stay as they were
        spec["placement"] = placement_spec(bot)
    return spec


def placement_spec(bot: BotSpec) -> dict[str, Any]:
    """The canonical placement: constraints as written (order kept: swarm keeps it), spreads in order."""
    return {"constraints": list(bot.placement_constraints),
            "preferences": [{"spread": d} for d in bot.placement_preferences]}


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def spec_hash(spec: dict[str, Any]) -> str:
    digest = hashlib.sha256(canonical_json(spec).encode()).hexdigest()
    return f"{SPEC_VERSION}-{digest[:32]}"
