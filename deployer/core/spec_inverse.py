"""The inverse of hashing.container_spec: a BotSpec rebuilt from a recorded canonical spec.

Rollback applies what a history entry recorded, through the same planner and applier as any
apply, so it needs BotSpecs back. container_spec(bot_from_spec(name, container_spec(b, d)))
equals container_spec(b, d) for every bot (tests/unit/test_specinverse.py checks it); fields
that the canonical spec leaves out on purpose (state, pullPolicy, the manifest file) are given
by the caller. A spec with a key this version does not know is refused rather than half
restored: change this module together with container_spec.
"""

from __future__ import annotations

from typing import Any

from deployer.core.encodings import nano_from_cpus, parse_restart
from deployer.core.model import BotSpec, Healthcheck, Port, Volume
from deployer.core.vocabulary import SECRETS_MOUNT
from deployer.errors import UnrestorableSpec

SPEC_KEYS = frozenset({
    "image", "command", "env", "user", "ports", "volumes", "secrets", "network", "healthcheck", "labels",
    "provider", "channels", "memory", "cpus", "restart",
})


OPTIONAL_KEYS = frozenset({"placement"})  # written only when set (swarm placement)


def bot_from_spec(name: str, spec: dict[str, Any], *, state: str = "running", pull_policy: str = "IfNotPresent",
                  source_file: str = "", image: str | None = None) -> BotSpec:
    """The BotSpec whose canonical spec is `spec` (with `image` put in place of the recorded
    reference when given, e.g. the image ID it ran)."""
    if spec.get("runtime") == "openclaw":
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
    hc = spec["healthcheck"]
    policy, retries = parse_restart(spec["restart"])
    return BotSpec(
        name=name,
        image=image or spec["image"],
        labels=tuple(sorted(spec["labels"].items())),
        pull_policy=pull_policy,
        provider=tuple(sorted(spec["provider"].items())),
        channels=tuple(spec["channels"]),
        secrets=tuple(spec["secrets"]["names"]),
        env=tuple(sorted(spec["env"].items())),
        command=tuple(spec["command"]) if spec["command"] is not None else None,
        user=spec["user"],
        ports=tuple(_port(p) for p in spec["ports"]),
        volumes=tuple(_volume(v) for v in spec["volumes"]),
        memory_bytes=spec["memory"],
        nano_cpus=nano_from_cpus(spec["cpus"]),
        restart_policy=policy,
        restart_max_retries=retries,
        state=state,
        healthcheck=None if hc is None else Healthcheck(
            test=tuple(hc["test"]), interval_ns=hc["interval"], timeout_ns=hc["timeout"], retries=hc["retries"],
            start_period_ns=hc["startPeriod"],
        ),
        network=spec["network"],
        source_file=source_file,
        placement_constraints=tuple((spec.get("placement") or {}).get("constraints", ())),
        placement_preferences=tuple(p["spread"] for p in (spec.get("placement") or {}).get("preferences", ())),
    )


def secrets_dir_of(name: str, spec: dict[str, Any]) -> str | None:
    """The fleet's secrets directory as the recorded mount shows it (<dir>/<bot>:/run/secrets:ro)."""
    mount = (spec.get("secrets") or {}).get("mount")
    suffix = f"/{name}:{SECRETS_MOUNT}:ro"
    if not mount or not mount.endswith(suffix):
        return None
    return mount[: -len(suffix)] or "/"


def _port(text: str) -> Port:
    """'127.0.0.1:8080:18789/tcp' (the host IP may be IPv6 and hold colons)."""
    rest, _, protocol = text.rpartition("/")
    host_ip, host_port, container_port = rest.rsplit(":", 2)
    return Port(int(container_port), int(host_port), host_ip, protocol)


def _volume(text: str) -> Volume:
    source, target, mode = text.rsplit(":", 2)
    return Volume(source, target, mode == "ro")
