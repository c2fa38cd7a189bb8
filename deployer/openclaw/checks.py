"""Validation rules for OpenClaw bots, on a bot's merged spec (plain data, located by the caller)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deployer.core.encodings import parse_memory
from deployer.core.problems import ERROR, WARNING
from deployer.core.vocabulary import GATEWAY_PORT
from deployer.openclaw.config import BUNDLED_CHANNELS, CHANNELS, CONFIG_MOUNT, GATEWAY_ENV, GATEWAY_TOKEN, STATE_MOUNT

Report = Callable[[tuple[str | int, ...], str, str], None]  # (path under spec, message, severity)

MIN_MEMORY = 1024**3
# spec.openclaw paths the deployer writes itself -> the manifest field to use instead
OWNED = {
    ("gateway", "mode"): "nothing (the deployer always runs the gateway in local mode)",
    ("gateway", "port"): "spec.gateway.port",
    ("gateway", "bind"): "spec.gateway.bind",
    ("gateway", "auth"): "spec.gateway.auth and the secret OPENCLAW_GATEWAY_TOKEN",
    ("secrets", "providers"): "spec.secrets (each declared secret file gets its provider)",
    ("agents", "defaults", "model"): "spec.provider.model",
}
CREDENTIAL_FIELDS = sorted({f for fields in CHANNELS.values() for f in fields} | {"tokenFile"})


def check_openclaw_spec(spec: dict[str, Any], report: Report) -> None:
    runtime = spec.get("runtime", "openclaw")
    if runtime != "openclaw":
        for key in ("gateway", "openclaw"):
            if key in spec:
                report((key,), f"spec.{key} only applies to runtime openclaw; it is ignored for runtime {runtime}",
                       WARNING)
        return
    secrets = _list(spec.get("secrets"))
    gateway = _dict(spec.get("gateway"))
    ports = _list(spec.get("ports"))
    bind = gateway.get("bind") or ("lan" if ports else "loopback")
    if bind == "loopback" and ports:
        report(("gateway", "bind"), "the gateway binds loopback, so the published ports cannot reach it; "
               "use bind lan (with OPENCLAW_GATEWAY_TOKEN) or publish no port", WARNING)
    if bind != "loopback" and GATEWAY_TOKEN not in secrets:
        why = "gateway.bind is lan" if "bind" in gateway else "the bot publishes a port, so the gateway binds lan"
        report(("gateway", "bind") if "bind" in gateway else ("ports",),
               f"{why}, and a non-loopback gateway does not start without a token: add {GATEWAY_TOKEN} to "
               "spec.secrets (its file holds the token), or set spec.gateway.bind: loopback", ERROR)
    port = gateway.get("port", GATEWAY_PORT)
    reached = any(isinstance(p, dict) and p.get("containerPort") == port for p in ports)
    if ports and isinstance(port, int) and not reached:
        report(("ports",), f"no published port reaches the gateway, which listens on {port} (spec.gateway.port)",
               WARNING)
    env = _dict(spec.get("env"))
    for key, _ in GATEWAY_ENV:
        if key in env:
            report(("env", key), f"env {key} is set by the deployer for runtime openclaw; remove it", ERROR)
    if "OPENCLAW_GATEWAY_PORT" in env:  # the gateway prefers it over the generated gateway.port
        report(("env", "OPENCLAW_GATEWAY_PORT"), "env OPENCLAW_GATEWAY_PORT would override the generated "
               "gateway.port; set spec.gateway.port instead", ERROR)
    volumes = _list(spec.get("volumes"))
    for i, vol in enumerate(volumes):
        target = vol.get("target") if isinstance(vol, dict) else None
        if not isinstance(target, str):
            continue
        for mount, what in ((STATE_MOUNT, "state directory (<stateDir>/<bot>)"),
                            (CONFIG_MOUNT, "generated config (<configDir>/<bot>)")):
            t = target.rstrip("/")
            if t == mount or t.startswith(mount + "/") or mount.startswith(t + "/"):
                where = "is" if t == mount else f"overlaps {mount}, which is"
                report(("volumes", i, "target"),
                       f"{target} {where} where the deployer mounts the gateway's {what}", ERROR)
    memory = _memory(spec)
    if memory is not None and memory < MIN_MEMORY:
        report(("resources", "memory"),
               "an OpenClaw gateway needs about 1g: measured, 512m and 640m were OOM-killed at boot, 768m ran at "
               "its limit, 1g worked (idle 610-700 MiB, boot peak about 800 MiB)", WARNING)
    provider = _dict(spec.get("provider"))
    if provider.get("name") and not provider.get("model"):
        report(("provider",), "no provider.model: the gateway then picks a default model of its own choosing",
               WARNING)
    channels = _list(spec.get("channels"))
    for i, channel in enumerate(channels):
        if not isinstance(channel, dict):
            continue
        ctype = channel.get("type")
        if isinstance(ctype, str) and ctype not in BUNDLED_CHANNELS:
            report(("channels", i, "type"),
                   f"the {ctype} channel needs its OpenClaw plugin (@openclaw/{ctype}), which the openclaw npm "
                   "package does not include (it bundles telegram only): install it into the bot's state dir "
                   "first, or the gateway exits 78", WARNING)
        settings = _dict(channel.get("settings"))
        for key in settings:
            if key in CREDENTIAL_FIELDS or key == "enabled":
                what = "enabled is set by the deployer" if key == "enabled" else \
                    f"{key} is a credential: declare its secret in spec.secrets and the deployer references the file"
                report(("channels", i, "settings", key), f"channel setting {what}", ERROR)
    test = _dict(spec.get("healthcheck")).get("test")
    if isinstance(test, str) or (isinstance(test, list) and test[:1] == ["CMD-SHELL"]):
        report(("healthcheck", "test"),
               "a shell-form healthcheck needs /bin/sh, and gateway images may have none (nor wget or curl): use "
               "the exec form [CMD, node, -e, ...], or leave healthcheck unset for the deployer's /healthz probe",
               WARNING)
    extra = spec.get("openclaw")
    if isinstance(extra, dict):
        _check_owned(extra, report)


# the maps of the generated config that spec.openclaw merges into: anything else there would
# replace the deployer's own entries (or could not be merged at all)
MERGED_MAPS: tuple[tuple[str, ...], ...] = (
    ("gateway",), ("secrets",), ("channels",), ("models",), ("models", "providers"),
    ("agents",), ("agents", "defaults"),
)


def _check_owned(extra: dict[str, Any], report: Report) -> None:
    for merged in MERGED_MAPS:
        parent: Any = extra
        for part in merged[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and merged[-1] in parent and not isinstance(parent[merged[-1]], dict):
            report(("openclaw",) + merged, f"{'.'.join(merged)} must be a map: the generated config's own entries "
                   "are merged with it", ERROR)
    for ctype, entry in _dict(extra.get("channels")).items():
        if not isinstance(entry, dict):
            report(("openclaw", "channels", ctype), f"channels.{ctype} must be a map (the deployer merges the "
                   "channel's settings and tokens into it)", ERROR)
    for path, use in OWNED.items():
        node: Any = extra
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            report(("openclaw",) + path, f"{'.'.join(path)} is written by the deployer; use {use}", ERROR)
    models = _dict(_dict(extra.get("models")).get("providers"))
    for name, entry in models.items():
        if isinstance(entry, dict) and "apiKey" in entry:
            report(("openclaw", "models", "providers", name, "apiKey"),
                   "provider API keys are written by the deployer; use spec.provider and the key's secret "
                   "in spec.secrets", ERROR)
    for ctype, entry in _dict(extra.get("channels")).items():
        if not isinstance(entry, dict):
            continue
        for key in entry:
            if key in CREDENTIAL_FIELDS:
                report(("openclaw", "channels", ctype, key),
                       f"channel credentials are written by the deployer; use spec.channels (type {ctype}) and "
                       "the token's secret in spec.secrets", ERROR)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _memory(spec: dict[str, Any]) -> int | None:
    value = _dict(spec.get("resources")).get("memory")
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return parse_memory(value)
    return None
