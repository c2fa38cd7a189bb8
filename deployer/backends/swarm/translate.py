"""BotSpec <-> Docker Swarm API, both ways, as pure functions of plain data: the one home of every
swarm encoding (ServiceSpec, RestartPolicy conditions, resource limits, host-mode ports, secret
references, placement, update and rollback configs; task states; config and secret names).
Unit-tested against recorded `docker service inspect` / task answers (tests/unit/data/swarm/).

What the engine stores is what it is sent plus a few defaults it fills in (Isolation, ForceUpdate,
Runtime, UpdateConfig.Parallelism...). So an update always starts from the stored spec read just
before (engine.py), changing only what the deployer means to change, and what is compared for
drift is the canonical spec (live_spec), never the raw dicts.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deployer.backends.base import Marker, UnitStatus
from deployer.backends.docker.translate import healthcheck
from deployer.core.encodings import cpus_from_nano
from deployer.core.labels import bot_labels
from deployer.core.model import BotSpec, ObservedContainer, parse_fingerprint_label
from deployer.core.vocabulary import (
    LABEL_BOT,
    LABEL_FLEET,
    LABEL_MANAGED,
    LABEL_MARKER,
    LABEL_MARKER_NAME,
    LABEL_SECRETS,
    LABEL_SPEC,
    LABEL_SPEC_HASH,
    SECRET_OBJECT_PREFIX,
    SECRETS_MOUNT,
)

NAME_MAX = 64  # swarm's limit for config and secret names ([a-zA-Z0-9-_.], alphanumeric at both ends)
MARKER_DATA = b"botmaker marker\n"  # a config must hold at least one byte; markers carry state in labels
SHORT_PRINT = 12  # hex characters of the keyed fingerprint in a secret's name
DEFAULT_MONITOR_NS = 5_000_000_000  # swarm's own default update monitor window (5 s)

# restart: canonical -> swarm condition; "any" comes back as always or unless-stopped, whichever was recorded
_CONDITION = {"no": "none", "always": "any", "unless-stopped": "any", "on-failure": "on-failure"}


# --- names ------------------------------------------------------------------------------------

def short_name(name: str, limit: int = NAME_MAX) -> str:
    """`name` when swarm accepts its length, else a stable shortening that keeps its head and
    tells names apart by a hash of the whole (the full name is kept in a label)."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    head = name[: limit - len(digest) - 1].rstrip("-_.")
    return f"{head}-{digest}"


def secret_object_name(fleet: str, bot: str, name: str, fingerprint: str) -> str:
    """botmaker-<fleet>-<bot>-<NAME>-<short keyed fingerprint>: one Docker secret per content."""
    short = fingerprint[:SHORT_PRINT]
    full = f"{SECRET_OBJECT_PREFIX}{fleet}-{bot}-{name}-{short}"
    if len(full) <= NAME_MAX:
        return full
    # keep the fingerprint at the end, readable: the part before it is shortened
    return short_name(f"{SECRET_OBJECT_PREFIX}{fleet}-{bot}-{name}", NAME_MAX - len(short) - 1) + "-" + short


def marker_config_name(name: str) -> str:
    return short_name(name)


# --- BotSpec -> ServiceSpec ---------------------------------------------------------------------

@dataclass(frozen=True)
class SecretRef:
    """One Docker secret mounted at /run/secrets/<file_name>."""

    secret_id: str
    secret_name: str
    file_name: str
    uid: int
    gid: int
    mode: int = 0o400


def restart_policy(bot: BotSpec) -> dict[str, Any]:
    policy: dict[str, Any] = {"Condition": _CONDITION[bot.restart_policy]}
    if bot.restart_policy == "on-failure":
        policy["MaxAttempts"] = bot.restart_max_retries
    return policy


def unit_labels(bot: BotSpec) -> dict[str, str]:
    """The task containers' labels: the manifest's own and ownership (so `docker ps` on a node
    shows whose container it is). The recorded spec and the stamps stay on the service."""
    return {**dict(bot.labels), LABEL_MANAGED: "true", LABEL_FLEET: "", LABEL_BOT: bot.name}


def service_spec(bot: BotSpec, *, fleet: str, spec: dict[str, Any], spec_hash: str,
                 extra_labels: dict[str, str] | None, secrets: list[SecretRef],
                 monitor_ns: int = DEFAULT_MONITOR_NS) -> dict[str, Any]:
    """The ServiceSpec of a bot: one replica (0 when stopped), dnsrr (no VIP), host-mode ports,
    stop-first updates that swarm rolls back by itself when the new task fails."""
    container: dict[str, Any] = {
        "Image": bot.image,
        "Labels": {**unit_labels(bot), LABEL_FLEET: fleet, LABEL_SPEC_HASH: spec_hash},
    }
    if bot.env:
        container["Env"] = [f"{k}={v}" for k, v in bot.env]
    if bot.command is not None:
        container["Args"] = list(bot.command)  # like docker's Cmd: the image's entrypoint stays
    if bot.user:
        container["User"] = bot.user
    if bot.hostname is not None:
        container["Hostname"] = bot.hostname
    mounts = [{"Type": "bind" if v.is_bind else "volume", "Source": v.source, "Target": v.target,
               "ReadOnly": v.read_only} for v in bot.volumes]
    if mounts:
        container["Mounts"] = mounts
    hc = healthcheck(bot)
    if hc is not None:
        container["Healthcheck"] = hc
    if secrets:
        container["Secrets"] = [
            {"File": {"Name": s.file_name, "UID": str(s.uid), "GID": str(s.gid), "Mode": s.mode},
             "SecretID": s.secret_id, "SecretName": s.secret_name}
            for s in sorted(secrets, key=lambda s: s.file_name)
        ]
    template: dict[str, Any] = {"ContainerSpec": container, "RestartPolicy": restart_policy(bot)}
    limits: dict[str, int] = {}
    if bot.memory_bytes is not None:
        limits["MemoryBytes"] = bot.memory_bytes
    if bot.nano_cpus is not None:
        limits["NanoCPUs"] = bot.nano_cpus
    if limits:
        template["Resources"] = {"Limits": limits}
    if bot.placement_constraints or bot.placement_preferences:
        placement: dict[str, Any] = {}
        if bot.placement_constraints:
            placement["Constraints"] = list(bot.placement_constraints)
        if bot.placement_preferences:
            placement["Preferences"] = [{"Spread": {"SpreadDescriptor": d}} for d in bot.placement_preferences]
        template["Placement"] = placement
    if bot.network and bot.network != "bridge":
        template["Networks"] = [{"Target": bot.network}]
    endpoint: dict[str, Any] = {"Mode": "dnsrr"}  # no IPVS needed; a VIP makes no sense for one poller
    if bot.ports:
        endpoint["Ports"] = [{"Protocol": p.protocol, "TargetPort": p.container_port, "PublishedPort": p.host_port,
                              "PublishMode": "host"} for p in bot.ports]
    return {
        "Name": bot.container_name,
        "Labels": bot_labels(bot, fleet=fleet, spec=spec, spec_hash=spec_hash, extra=extra_labels),
        "TaskTemplate": template,
        "Mode": {"Replicated": {"Replicas": 1 if bot.state == "running" else 0}},
        "UpdateConfig": {"Parallelism": 1, "Order": "stop-first", "FailureAction": "rollback",
                         "Monitor": monitor_ns},
        "RollbackConfig": {"Parallelism": 1, "Order": "stop-first", "FailureAction": "pause",
                           "Monitor": monitor_ns},
        "EndpointSpec": endpoint,
    }


def with_replicas(stored: dict[str, Any], replicas: int) -> dict[str, Any]:
    """The stored spec with only its replica count changed (nothing else is touched, so nothing
    the engine filled in is pinned or dropped)."""
    out = json.loads(json.dumps(stored))
    out.setdefault("Mode", {}).setdefault("Replicated", {})["Replicas"] = replicas
    return out


def avoid_placement_only_update(stored: dict[str, Any], new: dict[str, Any]) -> bool:
    """Bump ForceUpdate when the new spec differs from the stored one only in its placement.

    swarmkit in dockerd 20.10 (orchestrator.IsTaskDirty -> nodeMatches) dereferences a task's
    node when the task differs from the service only in placement: a task not assigned to a node
    yet then panics the manager (seen on the test swarm, repairing a constraint changed by hand
    while the task it caused was pending). With ForceUpdate changed the task differs in more than
    its placement, so that path is never taken; the task is replaced, as the plan said.
    Returns whether it bumped."""
    old_t, new_t = stored.get("TaskTemplate") or {}, new.get("TaskTemplate") or {}
    if (old_t.get("Placement") or {}) == (new_t.get("Placement") or {}):
        return False
    if _comparable(old_t.get("ContainerSpec")) != _comparable(new_t.get("ContainerSpec")):
        return False
    new_t["ForceUpdate"] = int(old_t.get("ForceUpdate") or 0) + 1
    return True


def _comparable(container: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(container or {})
    if out.get("Isolation") == "default":  # filled in by the engine
        del out["Isolation"]
    return out


def replicas(spec: dict[str, Any]) -> int | None:
    """The replica count of a replicated service; None for a global one."""
    mode = spec.get("Mode") or {}
    if "Replicated" not in mode:
        return None
    return int((mode.get("Replicated") or {}).get("Replicas") or 0)


def secret_refs_of(spec: dict[str, Any]) -> set[str]:
    """IDs of the secrets a service spec references."""
    container = ((spec or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}
    return {s.get("SecretID", "") for s in container.get("Secrets") or []}


# --- services and tasks -> the contract's views --------------------------------------------------

def observed_from_service(svc: dict[str, Any]) -> ObservedContainer:
    """A service as the planner sees a unit. Its state is what the service asks for: running
    with one replica, exited with none (a stopped bot), "scaled to N" otherwise (drift: scaled by
    hand), so the planner's running/stopped rules apply unchanged."""
    spec = svc.get("Spec") or {}
    n = replicas(spec)
    state = "running" if n == 1 else "exited" if n == 0 else ("global" if n is None else f"scaled to {n}")
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    return ObservedContainer(
        id=svc["ID"], name=spec.get("Name", ""), image=container.get("Image", ""), image_id="", state=state,
        labels=spec.get("Labels") or {},
    )


def parse_time(text: str | None) -> float:
    """RFC 3339 with nanoseconds (the engine's) as epoch seconds; 0.0 when unreadable."""
    if not text:
        return 0.0
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        return 0.0
    base = datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    return base.timestamp() + (float("0" + m.group(2)) if m.group(2) else 0.0)


def marker_from_config(cfg: dict[str, Any]) -> Marker:
    spec = cfg.get("Spec") or {}
    labels = dict(spec.get("Labels") or {})
    name = labels.get(LABEL_MARKER_NAME) or spec.get("Name", "")
    return Marker(cfg["ID"], name, labels, float(int(parse_time(cfg.get("CreatedAt")))))


def marker_labels(name: str, labels: dict[str, str]) -> dict[str, str]:
    return {**labels, LABEL_MARKER: "true", LABEL_MARKER_NAME: name}


def wanted_tasks(svc: dict[str, Any], tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tasks made from the service's current spec (their container spec is a copy of it),
    newest first."""
    want = ((svc.get("Spec") or {}).get("TaskTemplate") or {}).get("ContainerSpec")
    mine = [t for t in tasks if t.get("ServiceID") == svc["ID"] and (t.get("Spec") or {}).get("ContainerSpec") == want]
    return sorted(mine, key=lambda t: t.get("CreatedAt", ""), reverse=True)


_FAILED = ("failed", "rejected", "orphaned")


def status_from_service(svc: dict[str, Any], tasks: list[dict[str, Any]],
                        nodes: dict[str, str] | None = None) -> UnitStatus:
    """A service and its tasks as one unit: the state of the newest task of the current spec
    (or "stopped" with no replica), restarts = the tasks of that spec that ended before it."""
    spec = svc.get("Spec") or {}
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    template = spec.get("TaskTemplate") or {}
    limits = (template.get("Resources") or {}).get("Limits") or {}
    restart = template.get("RestartPolicy") or {}
    mine = wanted_tasks(svc, tasks)
    # the newest task swarm wants running (a task of a slot being scaled away is shutting down)
    current = next((t for t in mine if t.get("DesiredState") == "running"), mine[0] if mine else None)
    n = replicas(spec)
    if current is None:
        state = "stopped" if n == 0 else "pending"
    elif n == 0 and current.get("DesiredState") == "shutdown":
        state = "stopped"
    else:
        state = (current.get("Status") or {}).get("State", "")
    status = (current or {}).get("Status") or {}
    cstatus = status.get("ContainerStatus") or {}
    health: str | None = None
    if container.get("Healthcheck") and state in ("starting", "running"):
        health = "starting" if state == "starting" else "healthy"  # a swarm task runs only once healthy
    running = state == "running"
    err = status.get("Err") or ""
    return UnitStatus(
        id=svc["ID"],
        name=spec.get("Name", ""),
        status=state,
        running=running,
        exit_code=int(cstatus.get("ExitCode") or 0),
        # restarts: earlier tasks of the same slot and spec that ended on their own
        restart_count=sum(1 for t in mine if t is not current and t.get("Slot") == (current or {}).get("Slot")
                          and (t.get("Status") or {}).get("State") in _FAILED + ("complete",)),
        health=health,
        started_at=status.get("Timestamp", "") if running else "",
        image=container.get("Image", ""),
        image_id="",
        labels=spec.get("Labels") or {},
        memory_bytes=int(limits.get("MemoryBytes") or 0),
        nano_cpus=int(limits.get("NanoCPUs") or 0),
        restart_policy=_restart_back(restart, _recorded(spec)),
        restart_max_retries=int(restart.get("MaxAttempts") or 0) if restart.get("Condition") == "on-failure" else 0,
        live=live_spec(svc),
        node=(nodes or {}).get(current.get("NodeID", ""), current.get("NodeID", "")) if current and state != "stopped" else "",
        error=err,
    )


def _recorded(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads((spec.get("Labels") or {}).get(LABEL_SPEC, ""))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _restart_back(policy: dict[str, Any], recorded: dict[str, Any]) -> str:
    """swarm's condition as a canonical policy name; "any" is always or unless-stopped (swarm has
    no difference): whichever the recorded spec says."""
    condition = policy.get("Condition") or "any"
    if condition == "none":
        return "no"
    if condition == "on-failure":
        return "on-failure"
    was = str(recorded.get("restart") or "")
    return was if was in ("always", "unless-stopped") else "always"


def live_spec(svc: dict[str, Any]) -> dict[str, Any]:
    """A service's spec normalised to the keys of core.spec.container_spec (plus secrets_mount and
    placement), for drift comparison: the planner compares it field by field with the manifest.

    Secrets: the mount is the recorded one when the service references exactly the secret
    versions its fingerprint label names, else a description of what it does reference (a
    secret swapped by hand then shows as drift). The network is the recorded one when the
    service has one (swarm stores the network's ID, not its name).
    """
    spec = svc.get("Spec") or {}
    template = spec.get("TaskTemplate") or {}
    container = template.get("ContainerSpec") or {}
    limits = (template.get("Resources") or {}).get("Limits") or {}
    labels = spec.get("Labels") or {}
    recorded = _recorded(spec)
    env = dict(item.split("=", 1) if "=" in item else (item, "") for item in (container.get("Env") or []))
    ports = sorted(f"0.0.0.0:{p.get('PublishedPort')}:{p.get('TargetPort')}/{p.get('Protocol') or 'tcp'}"
                   for p in (spec.get("EndpointSpec") or {}).get("Ports") or [])
    volumes = sorted(f"{m.get('Source', '')}:{m.get('Target')}:{'ro' if m.get('ReadOnly') else 'rw'}"
                     for m in container.get("Mounts") or [])
    refs = sorted(f"{s.get('File', {}).get('Name')}@{_print_of(s.get('SecretName', ''))}"
                  for s in container.get("Secrets") or [])
    prints = parse_fingerprint_label(labels.get(LABEL_SECRETS)) or {}
    wanted = sorted(f"{k}@{v[:SHORT_PRINT]}" for k, v in prints.items())
    recorded_mount = (recorded.get("secrets") or {}).get("mount")
    if not refs:
        secrets_mount = None
    elif refs == wanted and recorded_mount:
        secrets_mount = recorded_mount
    else:
        secrets_mount = f"swarm secrets {','.join(refs)}:{SECRETS_MOUNT}"
    hc = container.get("Healthcheck")
    restart = template.get("RestartPolicy") or {}
    policy = _restart_back(restart, recorded)
    placement = template.get("Placement") or {}
    constraints = list(placement.get("Constraints") or [])
    spreads = [((p.get("Spread") or {}).get("SpreadDescriptor")) for p in placement.get("Preferences") or []]
    out: dict[str, Any] = {
        "image": container.get("Image"),
        "hostname": container.get("Hostname"),
        "command": container.get("Args"),
        "env": env,
        "user": container.get("User") or None,
        "ports": ports,
        "volumes": volumes,
        "secrets_mount": secrets_mount,
        "network": (recorded.get("network") or "?") if template.get("Networks") else "bridge",
        "healthcheck": None if not hc else {
            "test": hc.get("Test"), "interval": hc.get("Interval", 0), "timeout": hc.get("Timeout", 0),
            "retries": hc.get("Retries", 0), "startPeriod": hc.get("StartPeriod", 0),
        },
        "labels": {**labels, **(container.get("Labels") or {})},
        "memory": limits.get("MemoryBytes") or None,
        "cpus": cpus_from_nano(limits.get("NanoCPUs")),
        "restart": f"on-failure:{int(restart.get('MaxAttempts') or 0)}" if policy == "on-failure" else policy,
        "placement": ({"constraints": constraints, "preferences": [{"spread": d} for d in spreads]}
                      if constraints or spreads else None),
    }
    return out


def _print_of(secret_name: str) -> str:
    return secret_name.rsplit("-", 1)[-1] if "-" in secret_name else ""


# --- progress of an update ------------------------------------------------------------------------

def update_state(svc: dict[str, Any]) -> tuple[str, str]:
    """(state, message) of the service's last update; ("", "") when it never had one."""
    us = svc.get("UpdateStatus") or {}
    return str(us.get("State") or ""), str(us.get("Message") or "")


def update_started(svc: dict[str, Any]) -> str:
    return str((svc.get("UpdateStatus") or {}).get("StartedAt") or "")


def no_such_image(tasks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A task the node rejected because it lacks the image (swarm would retry it forever)."""
    for t in tasks:
        st = t.get("Status") or {}
        if st.get("State") == "rejected" and "no such image" in (st.get("Err") or "").lower():
            return t
    return None
