"""BotSpec <-> Docker Engine API, both ways, as pure functions of plain data: the one home of
every Docker encoding (RestartPolicy, NanoCpus, Memory/MemorySwap, mounts, port bindings,
healthcheck durations, the list and inspect shapes). Unit-tested against recorded `docker
inspect` answers (tests/unit/data/inspect/)."""

from __future__ import annotations

from typing import Any

from deployer.backends.base import Marker, UnitStatus
from deployer.core.encodings import cpus_from_nano, restart_string
from deployer.core.labels import bot_labels
from deployer.core.model import BotSpec, ObservedContainer
from deployer.core.spec import secrets_source
from deployer.core.vocabulary import LABEL_HELPER, SECRETS_MOUNT


def restart_policy(bot: BotSpec) -> dict[str, Any]:
    """The Engine API's RestartPolicy ("" is Docker's "no")."""
    policy: dict[str, Any] = {"Name": bot.restart_policy if bot.restart_policy != "no" else ""}
    if bot.restart_policy == "on-failure":
        policy["MaximumRetryCount"] = bot.restart_max_retries
    return policy


def update_body(bot: BotSpec) -> dict[str, Any]:
    """The body of POST /containers/{id}/update: the in-place fields (DOCKER_TRAITS)."""
    body: dict[str, Any] = {"RestartPolicy": restart_policy(bot)}
    if bot.memory_bytes is not None:
        body["Memory"] = body["MemorySwap"] = bot.memory_bytes  # a hard cap, as at create
    if bot.nano_cpus is not None:
        body["NanoCpus"] = bot.nano_cpus
    return body


def healthcheck(bot: BotSpec) -> dict[str, Any] | None:
    if bot.healthcheck is None:
        return None
    hc = bot.healthcheck
    out: dict[str, Any] = {"Test": list(hc.test)}
    for key, value in (("Interval", hc.interval_ns), ("Timeout", hc.timeout_ns), ("Retries", hc.retries),
                       ("StartPeriod", hc.start_period_ns)):
        if value:
            out[key] = value
    return out


def mounts(bot: BotSpec, secrets_dir: str | None) -> list[dict[str, Any]]:
    """The HostConfig.Mounts of a bot: its volumes, then its secrets directory read-only."""
    out = [{"Target": v.target, "Source": v.source, "Type": "bind" if v.is_bind else "volume",
            "ReadOnly": v.read_only} for v in bot.volumes]
    source = secrets_source(bot, secrets_dir)
    if source:
        out.append({"Target": SECRETS_MOUNT, "Source": source, "Type": "bind", "ReadOnly": True})
    return out


def port_bindings(bot: BotSpec) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for p in bot.ports:
        out.setdefault(f"{p.container_port}/{p.protocol}", []).append(
            {"HostIp": p.host_ip, "HostPort": str(p.host_port)})
    return out


def create_body(bot: BotSpec, *, fleet: str, spec: dict[str, Any], spec_hash: str, secrets_dir: str | None,
                extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The body of POST /containers/create?name=<bot.container_name> for a bot's container."""
    host: dict[str, Any] = {
        "Mounts": mounts(bot, secrets_dir),
        "RestartPolicy": restart_policy(bot),
        "NetworkMode": bot.network or "default",  # what the SDK sends for an unset network
    }
    bindings = port_bindings(bot)
    if bindings:
        host["PortBindings"] = bindings
    if bot.memory_bytes is not None:
        host["Memory"] = host["MemorySwap"] = bot.memory_bytes  # a hard cap: no swap beyond it
    if bot.nano_cpus is not None:
        host["NanoCpus"] = bot.nano_cpus
    body: dict[str, Any] = {
        "Image": bot.image,
        "Env": [f"{k}={v}" for k, v in bot.env],
        "User": bot.user or "",
        "Labels": bot_labels(bot, fleet=fleet, spec=spec, spec_hash=spec_hash, extra=extra_labels),
        "HostConfig": host,
    }
    if bot.command is not None:
        body["Cmd"] = list(bot.command)
    if bot.hostname is not None:
        body["Hostname"] = bot.hostname
    if bot.ports:
        body["ExposedPorts"] = {f"{p.container_port}/{p.protocol}": {} for p in bot.ports}
    hc = healthcheck(bot)
    if hc is not None:
        body["Healthcheck"] = hc
    return body


# The list's Status of a running container ends with its healthcheck's verdict, as the engine
# writes it (container.State.String()): "Up 2 minutes (healthy)", "Up 3 seconds (health: starting)".
_HEALTH_IN_STATUS = {"(healthy)": "healthy", "(unhealthy)": "unhealthy", "(health: starting)": "starting"}


def health_from_status(status: str) -> str | None:
    """The healthcheck's verdict in a list row's Status, None when it shows none."""
    return next((health for tail, health in _HEALTH_IN_STATUS.items() if status.endswith(tail)), None)


def observed_from_row(r: dict[str, Any]) -> ObservedContainer:
    """One row of GET /containers/json (the sparse list: no inspect)."""
    return ObservedContainer(
        id=r["Id"],
        name=(r.get("Names") or ["/?"])[0].lstrip("/"),
        image=r.get("Image", ""),
        image_id=r.get("ImageID", ""),
        state=r.get("State", ""),
        labels=r.get("Labels") or {},
        health=health_from_status(r.get("Status") or ""),
        created=float(r.get("Created") or 0),
    )


def marker_from_row(r: dict[str, Any]) -> Marker:
    return Marker(r["Id"], (r.get("Names") or ["/?"])[0].lstrip("/"), r.get("Labels") or {},
                  float(r.get("Created") or 0))


def status_from_inspect(data: dict[str, Any]) -> UnitStatus:
    state = data.get("State") or {}
    host = data.get("HostConfig") or {}
    config = data.get("Config") or {}
    restart = host.get("RestartPolicy") or {}
    return UnitStatus(
        id=data["Id"],
        name=data.get("Name", "").lstrip("/"),
        status=state.get("Status", ""),
        running=bool(state.get("Running")),
        exit_code=int(state.get("ExitCode") or 0),
        restart_count=int(data.get("RestartCount") or 0),
        health=(state.get("Health") or {}).get("Status"),
        started_at=state.get("StartedAt", ""),
        image=config.get("Image", ""),
        image_id=data.get("Image", ""),
        labels=config.get("Labels") or {},
        memory_bytes=int(host.get("Memory") or 0),
        nano_cpus=int(host.get("NanoCpus") or 0),
        restart_policy=restart.get("Name") or "no",
        restart_max_retries=int(restart.get("MaximumRetryCount") or 0),
        live=live_spec(data),
    )


def live_spec(data: dict[str, Any]) -> dict[str, Any]:
    """An inspect, normalised to the shape of core.spec.container_spec, for drift comparison.

    Keys the daemon fills from the image (env, labels, command) cannot be told apart from
    the container's own; the planner compares only what the manifest sets for those.
    """
    config = data.get("Config") or {}
    host = data.get("HostConfig") or {}
    env = dict(item.split("=", 1) if "=" in item else (item, "") for item in (config.get("Env") or []))
    ports = []
    for key, bindings in (host.get("PortBindings") or {}).items():
        container_port, _, proto = key.partition("/")
        for b in bindings or []:
            ports.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}:{container_port}/{proto or 'tcp'}")
    volumes, secrets_mount = [], None
    for m in data.get("Mounts") or []:
        source = m.get("Source", "") if m.get("Type") == "bind" else m.get("Name", "")
        entry = f"{source}:{m.get('Destination')}:{'rw' if m.get('RW') else 'ro'}"
        if m.get("Destination") == SECRETS_MOUNT:
            secrets_mount = entry
        else:
            volumes.append(entry)
    hc = config.get("Healthcheck")
    restart = host.get("RestartPolicy") or {}
    return {
        "image": config.get("Image"),
        "hostname": config.get("Hostname"),
        "command": config.get("Cmd"),
        "env": env,
        "user": config.get("User") or None,
        "ports": sorted(ports),
        "volumes": sorted(volumes),
        "secrets_mount": secrets_mount,
        "network": host.get("NetworkMode"),
        "healthcheck": None if not hc else {
            "test": hc.get("Test"), "interval": hc.get("Interval", 0), "timeout": hc.get("Timeout", 0),
            "retries": hc.get("Retries", 0), "startPeriod": hc.get("StartPeriod", 0),
        },
        "labels": config.get("Labels") or {},
        "memory": host.get("Memory") or None,
        "cpus": cpus_from_nano(host.get("NanoCpus")),
        "restart": restart_string(restart.get("Name"), restart.get("MaximumRetryCount")),
    }


def oneshot_body(image: str, *, command: list[str], entrypoint: list[str] | None, user: str,
                 env: dict[str, str], binds: list[tuple[str, str, bool]], tmpfs: dict[str, str],
                 labels: dict[str, str]) -> dict[str, Any]:
    """A throwaway container (the OpenClaw preflight): no network, read-only root, no probe."""
    body: dict[str, Any] = {
        "Image": image, "Cmd": command, "User": user, "Labels": labels,
        "Env": [f"{k}={v}" for k, v in sorted(env.items())],
        "NetworkDisabled": True,
        "Healthcheck": {"Test": ["NONE"]},  # no probe of a gateway that is never started
        "HostConfig": {
            "Mounts": [{"Target": t, "Source": s, "Type": "bind", "ReadOnly": ro} for s, t, ro in binds],
            "Tmpfs": tmpfs, "ReadonlyRootfs": True, "NetworkMode": "none",  # never auto-removed: we read its logs
        },
    }
    if entrypoint is not None:
        body["Entrypoint"] = entrypoint
    return body


def helper_body(image: str, argv: list[str], *, binds: list[tuple[str, str, bool]], env: dict[str, str] | None,
                cap_add: tuple[str, ...], labels: dict[str, str] | None) -> dict[str, Any]:
    """A short-lived root helper on the engine host: no network, every capability dropped but
    cap_add, read-only root, no new privileges."""
    host: dict[str, Any] = {
        "Mounts": [{"Target": t, "Source": src, "Type": "bind", "ReadOnly": ro} for src, t, ro in binds],
        "NetworkMode": "none", "CapDrop": ["ALL"], "ReadonlyRootfs": True, "SecurityOpt": ["no-new-privileges"],
    }
    if cap_add:
        host["CapAdd"] = list(cap_add)
    body: dict[str, Any] = {
        "Image": image, "Entrypoint": argv[:1], "Cmd": argv[1:], "User": "0",
        "Labels": {LABEL_HELPER: "true", **(labels or {})}, "HostConfig": host, "NetworkDisabled": True,
    }
    if env:
        body["Env"] = [f"{k}={v}" for k, v in env.items()]
    return body
