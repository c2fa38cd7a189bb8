"""The inverse of spec.container_spec: a BotSpec rebuilt from a recorded canonical spec.

Rollback applies what a history entry recorded, through the same planner and applier as any
apply, so it needs BotSpecs back. container_spec(bot_from_spec(name, container_spec(b, d)))
equals container_spec(b, d) for every bot (tests/unit/test_specinverse.py checks it); fields
that the canonical spec leaves out on purpose (state, pullPolicy, the manifest file) are given
by the caller. Both read the one table of the spec's fields, spec.SPEC_FIELDS. A spec with a
key this version does not know is refused rather than half restored.
"""

from __future__ import annotations

from typing import Any

from deployer.core.model import BotSpec
from deployer.core.spec import SPEC_FIELDS, Decode
from deployer.core.vocabulary import RUNTIME_OPENCLAW, SECRETS_MOUNT
from deployer.errors import UnrestorableSpec

DECODERS: dict[str, Decode] = {f.key: f.decode for f in SPEC_FIELDS if f.decode is not None}
SPEC_KEYS = frozenset(f.key for f in SPEC_FIELDS if f.key in DECODERS and not f.optional)  # in every restorable spec
OPTIONAL_KEYS = frozenset(f.key for f in SPEC_FIELDS if f.key in DECODERS and f.optional)  # written only when set


def bot_from_spec(name: str, spec: dict[str, Any], *, state: str = "running", pull_policy: str = BotSpec.pull_policy,
                  source_file: str = "", image: str | None = None) -> BotSpec:
    """The BotSpec whose canonical spec is `spec` (with `image` put in place of the recorded
    reference when given, e.g. the image ID it ran)."""
    if spec.get("runtime") == RUNTIME_OPENCLAW:
        # its model, provider and channels live in the generated config, not in the container's
        # recorded spec, and history does not keep configs yet
        raise UnrestorableSpec(
            f"bot {name}: an OpenClaw bot cannot be rolled back yet (history keeps its container spec, not its "
            "generated config); revert its manifest in git and apply it")
    unknown = set(spec) - SPEC_KEYS - OPTIONAL_KEYS
    missing = SPEC_KEYS - set(spec)
    if unknown or missing:
        raise UnrestorableSpec(
            f"bot {name}: the recorded spec cannot be rebuilt by this deployer version"
            + (f" (unknown fields: {', '.join(sorted(unknown))})" if unknown else "")
            + (f" (missing fields: {', '.join(sorted(missing))})" if missing else "")
        )
    arguments: dict[str, Any] = {"name": name, "state": state, "pull_policy": pull_policy, "source_file": source_file}
    for key, decode in DECODERS.items():
        if key in spec:
            arguments.update(decode(spec[key]))
    if image:
        arguments["image"] = image
    return BotSpec(**arguments)


def secrets_dir_of(name: str, spec: dict[str, Any]) -> str | None:
    """The fleet's secrets directory as the recorded mount shows it (<dir>/<bot>:/run/secrets:ro)."""
    mount = (spec.get("secrets") or {}).get("mount")
    suffix = f"/{name}:{SECRETS_MOUNT}:ro"
    if not mount or not mount.endswith(suffix):
        return None
    return mount[: -len(suffix)] or "/"

