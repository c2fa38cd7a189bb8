"""The canonical desired container spec and its versioned hash.

Only the manifest (and the fleet's secrets directory) goes in: nothing read from the engine,
no daemon defaults. So an unchanged manifest always hashes the same, whatever the tool or
daemon version, and never causes a spurious replace. Bump SPEC_VERSION only together with a
migration, since a new version changes every hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deployer.core.encodings import cpus_from_nano, nano_from_cpus, parse_restart, restart_string
from deployer.core.model import BotSpec, Healthcheck, Port, Volume
from deployer.core.vocabulary import SECRETS_MOUNT

SPEC_VERSION = "v1"


def secrets_source(bot: BotSpec, secrets_dir: str | None) -> str | None:
    if not bot.secrets or not secrets_dir:
        return None
    return secrets_dir.rstrip("/") + "/" + bot.name


# (bot, the fleet's secrets dir) -> the field's JSON value; and back: the JSON value -> BotSpec arguments
Encode = Callable[[BotSpec, str | None], Any]
Decode = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class SpecField:
    """One key of the canonical spec: how a BotSpec writes it and how a recorded value reads back.

    `written`: whether a bot's spec has the key (None: every bot's has).
    `optional`: a restorable spec may lack it (written only when set; the BotSpec default then);
    otherwise bot_from_spec requires it. `decode` None: a spec holding the key is not restorable."""

    key: str
    encode: Encode
    decode: Decode | None
    written: Callable[[BotSpec], bool] | None = None
    optional: bool = False


def _as_is(key: str, attribute: str) -> SpecField:
    """A field whose JSON value is the BotSpec attribute itself."""
    return SpecField(key, lambda bot, _: getattr(bot, attribute), lambda value: {attribute: value})


def _port_text(p: Port) -> str:
    return f"{p.host_ip}:{p.host_port}:{p.container_port}/{p.protocol}"


def _port(text: str) -> Port:
    """'127.0.0.1:8080:18789/tcp' (the host IP may be IPv6 and hold colons)."""
    rest, _, protocol = text.rpartition("/")
    host_ip, host_port, container_port = rest.rsplit(":", 2)
    return Port(int(container_port), int(host_port), host_ip, protocol)


def _volume_text(v: Volume) -> str:
    return f"{v.source}:{v.target}:{'ro' if v.read_only else 'rw'}"


def _volume(text: str) -> Volume:
    source, target, mode = text.rsplit(":", 2)
    return Volume(source, target, mode == "ro")


def _secrets(bot: BotSpec, secrets_dir: str | None) -> dict[str, Any]:
    source = secrets_source(bot, secrets_dir)
    return {"mount": f"{source}:{SECRETS_MOUNT}:ro" if source else None, "names": list(bot.secrets)}


def _healthcheck(hc: Healthcheck | None) -> dict[str, Any] | None:
    if hc is None:
        return None
    return {"test": list(hc.test), "interval": hc.interval_ns, "timeout": hc.timeout_ns, "retries": hc.retries,
            "startPeriod": hc.start_period_ns}


def _healthcheck_back(hc: dict[str, Any] | None) -> Healthcheck | None:
    if hc is None:
        return None
    return Healthcheck(test=tuple(hc["test"]), interval_ns=hc["interval"], timeout_ns=hc["timeout"],
                       retries=hc["retries"], start_period_ns=hc["startPeriod"])


def _placement_back(placement: dict[str, Any] | None) -> dict[str, Any]:
    return {"placement_constraints": tuple((placement or {}).get("constraints", ())),
            "placement_preferences": tuple(p["spread"] for p in (placement or {}).get("preferences", ()))}


def _restart_back(restart: str) -> dict[str, Any]:
    policy, max_retries = parse_restart(restart)
    return {"restart_policy": policy, "restart_max_retries": max_retries}


def _plain_container(bot: BotSpec) -> bool:
    # An OpenClaw bot's model, provider and channels live in the generated config, which the
    # gateway reloads without a restart: they are compared with the config file, not recorded in
    # the container's immutable labels (which would go stale after a reload).
    return not bot.is_openclaw


# The canonical spec, key by key, in the order the planner lists changes. A new field is one row
# here (and a migration note if it changes existing hashes: write it only when set, as placement).
SPEC_FIELDS: tuple[SpecField, ...] = (
    _as_is("image", "image"),
    SpecField("command", lambda bot, _: list(bot.command) if bot.command is not None else None,
              lambda value: {"command": tuple(value) if value is not None else None}),
    SpecField("env", lambda bot, _: dict(bot.env), lambda value: {"env": tuple(sorted(value.items()))}),
    _as_is("user", "user"),
    SpecField("ports", lambda bot, _: sorted(_port_text(p) for p in bot.ports),
              lambda value: {"ports": tuple(_port(p) for p in value)}),
    SpecField("volumes", lambda bot, _: sorted(_volume_text(v) for v in bot.volumes),
              lambda value: {"volumes": tuple(_volume(v) for v in value)}),
    SpecField("secrets", _secrets, lambda value: {"secrets": tuple(value["names"])}),
    _as_is("network", "network"),
    SpecField("healthcheck", lambda bot, _: _healthcheck(bot.healthcheck),
              lambda value: {"healthcheck": _healthcheck_back(value)}),
    SpecField("labels", lambda bot, _: dict(bot.labels), lambda value: {"labels": tuple(sorted(value.items()))}),
    SpecField("provider", lambda bot, _: dict(bot.provider), lambda value: {"provider": tuple(sorted(value.items()))},
              written=_plain_container),
    # order carries no meaning: reordering must not replace
    SpecField("channels", lambda bot, _: sorted(bot.channels), lambda value: {"channels": tuple(value)},
              written=_plain_container),
    _as_is("memory", "memory_bytes"),
    SpecField("cpus", lambda bot, _: cpus_from_nano(bot.nano_cpus), lambda value: {"nano_cpus": nano_from_cpus(value)}),
    SpecField("restart", lambda bot, _: restart_string(bot.restart_policy, bot.restart_max_retries),
              _restart_back),
    # Rollback refuses OpenClaw bots (history keeps their container spec, not their generated
    # config), so neither their runtime nor the hostname only gateways set reads back
    SpecField("runtime", lambda bot, _: bot.runtime, None, written=lambda bot: bot.is_openclaw),
    SpecField("hostname", lambda bot, _: bot.hostname, None, written=lambda bot: bot.hostname is not None),
    # only when set: the hashes of bots without placement (every docker-backend bot) stay as they were
    SpecField("placement", lambda bot, _: placement_spec(bot), _placement_back,
              written=lambda bot: bool(bot.placement_constraints or bot.placement_preferences), optional=True),
)


def container_spec(bot: BotSpec, secrets_dir: str | None = None) -> dict[str, Any]:
    """Everything that defines the container, as plain JSON data with a fixed shape (SPEC_FIELDS).

    `state` and `pullPolicy` are left out on purpose: they are how we run the container,
    not what it is. Its inverse is spec_inverse.bot_from_spec (rollback), which reads the same table.
    """
    return {f.key: f.encode(bot, secrets_dir) for f in SPEC_FIELDS if f.written is None or f.written(bot)}


def placement_spec(bot: BotSpec) -> dict[str, Any]:
    """The canonical placement: constraints as written (order kept: swarm keeps it), spreads in order."""
    return {"constraints": list(bot.placement_constraints),
            "preferences": [{"spread": d} for d in bot.placement_preferences]}


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def spec_hash(spec: dict[str, Any]) -> str:
    digest = hashlib.sha256(canonical_json(spec).encode()).hexdigest()
    return f"{SPEC_VERSION}-{digest[:32]}"
