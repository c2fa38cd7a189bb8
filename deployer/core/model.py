"""Plain frozen data: the desired fleet, what the engine has, and the plan between them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from deployer.core.vocabulary import (
    CONTAINER_PREFIX,
    DEFAULT_FLEET,
    FINGERPRINT_VERSION,
    GATEWAY_CLI,
    GATEWAY_PORT,
    LABEL_BOT,
    LABEL_FLEET,
    LABEL_MANAGED,
    LABEL_SPEC_HASH,
    OPENCLAW_UID,
    RUNTIME_CONTAINER,
    RUNTIME_OPENCLAW,
)


def fingerprint_label(prints: dict[str, str]) -> str:
    """Label value: per-secret keyed fingerprints, so a plan can say which secret changed."""
    return FINGERPRINT_VERSION + ";" + ",".join(f"{k}={v}" for k, v in sorted(prints.items()))


def parse_fingerprint_label(value: str | None) -> dict[str, str] | None:
    if not value or not value.startswith(FINGERPRINT_VERSION + ";"):
        return None
    body = value[len(FINGERPRINT_VERSION) + 1:]
    out = {}
    for part in filter(None, body.split(",")):
        name, _, fp = part.partition("=")
        out[name] = fp
    return out


def merge_maps(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`: maps merge key by key (recursively); lists and scalars replace."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_maps(out[key], value)
        else:
            out[key] = value
    return out


def container_name(bot: str) -> str:
    return CONTAINER_PREFIX + bot


@dataclass(frozen=True)
class Port:
    container_port: int
    host_port: int
    host_ip: str = "127.0.0.1"
    protocol: str = "tcp"


@dataclass(frozen=True)
class Volume:
    source: str
    target: str
    read_only: bool = False

    @property
    def is_bind(self) -> bool:
        return self.source.startswith("/")


@dataclass(frozen=True)
class Healthcheck:
    test: tuple[str, ...]  # Docker form: ("CMD", ...) or ("CMD-SHELL", "...")
    interval_ns: int = 0
    timeout_ns: int = 0
    retries: int = 0
    start_period_ns: int = 0


@dataclass(frozen=True)
class BotSpec:
    """One bot's desired container, defaults merged and values normalised."""

    name: str
    image: str
    labels: tuple[tuple[str, str], ...] = ()
    pull_policy: str = "IfNotPresent"
    provider: tuple[tuple[str, str], ...] = ()
    channels: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] | None = None
    user: str | None = None
    ports: tuple[Port, ...] = ()
    volumes: tuple[Volume, ...] = ()
    memory_bytes: int | None = None
    nano_cpus: int | None = None
    restart_policy: str = "unless-stopped"
    restart_max_retries: int = 0
    state: str = "running"
    healthcheck: Healthcheck | None = None
    network: str = "bridge"
    source_file: str = ""
    # runtime "openclaw": the deployer renders the gateway's config (deployer/openclaw); "container":
    # the container only. Built from a manifest the default is openclaw; in code, a plain container.
    runtime: str = RUNTIME_CONTAINER
    channel_settings: tuple[tuple[str, str], ...] = ()  # (channel type, canonical JSON of its settings)
    gateway_port: int = GATEWAY_PORT
    gateway_bind: str | None = None  # None: lan when the bot publishes a port, else loopback
    gateway_cli: tuple[str, ...] = GATEWAY_CLI
    openclaw_config: str = "{}"  # canonical JSON of spec.openclaw, merged into the generated config
    hostname: str | None = None  # the container's hostname; None: Docker's default (the container ID)
    # swarm backend only: where the bot's one task may run (constraint strings such as
    # node.labels.region==eu) and spread preferences (descriptors such as node.labels.region)
    placement_constraints: tuple[str, ...] = ()
    placement_preferences: tuple[str, ...] = ()

    @property
    def is_openclaw(self) -> bool:
        return self.runtime == RUNTIME_OPENCLAW

    @property
    def container_name(self) -> str:
        return container_name(self.name)


@dataclass(frozen=True)
class FleetSpec:
    name: str = DEFAULT_FLEET
    secrets_dir: str | None = None
    bots: tuple[BotSpec, ...] = ()
    state_dir: str | None = None  # <stateDir>/<bot>: each OpenClaw bot's state, never deleted
    config_dir: str | None = None  # <configDir>/<bot>/openclaw.json: generated, mounted read-only
    backend: str = "docker"  # where the bots run: docker (one engine) or swarm (one service per bot)


@dataclass(frozen=True)
class ObservedContainer:
    """A container as one sparse list call shows it (plus an inspect when the plan needs one)."""

    id: str
    name: str  # without the leading slash
    image: str  # the reference it was created from
    image_id: str
    state: str  # created, running, paused, restarting, exited, dead
    labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    # the healthcheck's verdict (starting, healthy, unhealthy), None without one or when unknown
    health: str | None = None
    created: float = 0.0  # when the unit was created, on the engine's clock (0: unknown)
    # Only filled in by an inspect, for containers whose in-place settings may differ:
    memory_bytes: int | None = None
    nano_cpus: int | None = None
    restart_policy: str | None = None
    restart_max_retries: int | None = None
    inspected: bool = False
    # With --refresh: the real configuration, normalised to the canonical spec's shape
    live: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    # From the fleet's last-applied record: the hash of the spec the last apply left this unit
    # running, when an in-place update made it differ from the spec label (which cannot change)
    applied_hash: str | None = None

    @property
    def bot(self) -> str | None:
        return self.labels.get(LABEL_BOT)

    @property
    def fleet(self) -> str | None:
        return self.labels.get(LABEL_FLEET)

    @property
    def managed(self) -> bool:
        return self.labels.get(LABEL_MANAGED) == "true"

    @property
    def runs_hash(self) -> str | None:
        """The hash of the spec the unit runs, as far as the deployer knows without an inspect:
        the last apply's word for a unit it updated in place, else the label's."""
        return self.applied_hash or self.labels.get(LABEL_SPEC_HASH)

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting")

    @property
    def paused(self) -> bool:
        """Frozen by hand (`docker pause`): neither running nor stopped, and it cannot be started."""
        return self.state == "paused"


@dataclass(frozen=True)
class Observed:
    """Everything the planner may know about the engine, gathered before planning."""

    fleet: str
    containers: tuple[ObservedContainer, ...] = ()  # managed containers of this fleet
    # containers holding a botmaker-<bot> name that this fleet does not manage
    foreign_by_name: dict[str, ObservedContainer] = field(default_factory=dict, compare=False, hash=False)
    foreign_managed_count: int = 0  # managed containers of other fleets / no fleet, left alone
    image_ids: dict[str, str | None] = field(default_factory=dict, compare=False, hash=False)
    image_users: dict[str, str | None] = field(default_factory=dict, compare=False, hash=False)
    # OpenClaw bots: the bytes of <configDir>/<bot>/openclaw.json as found on the host (None: no file)
    configs: dict[str, bytes | None] = field(default_factory=dict, compare=False, hash=False)
    # the applies of this fleet that show life (lock token -> who): the lock's holder, and runs that
    # lost the lock but still finish their changes. Read only when a unit kept aside names its run.
    live_runs: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Change:
    """One field that differs, with the planner's verdict on it: whether it is what makes the
    action a replace (not a change that rides along, in place or by hot reload), and why, in the
    plan's words (the reason line it gave for this change). Two changes of the same field and
    values are equal, whatever the verdict."""

    field: str
    before: Any
    after: Any
    # (dataclasses.field: the name `field` is this class's first attribute)
    forces_replacement: bool = dataclasses.field(default=False, compare=False)
    why: str = dataclasses.field(default="", compare=False)


CREATE = "create"
REPLACE = "replace"
UPDATE = "update"
START = "start"
STOP = "stop"
REMOVE = "remove"
NOOP = "noop"
ORPHAN = "orphan"

# What an apply did to a bot, in the order `history` lists them (words, here so that
# rendering them needs none of the history's encoding).
DONE = {CREATE: "created", REPLACE: "replaced", UPDATE: "updated", START: "started", STOP: "stopped",
        REMOVE: "removed", NOOP: "cleaned up"}
FAILED, NOT_STARTED, NOT_REMOVED = "failed", "not started", "not removed"
OUTCOMES = (*DONE.values(), FAILED, NOT_STARTED, NOT_REMOVED)


class Method(StrEnum):
    """How the applier carries out an action. The planner picks it from the backend's traits and
    OpenClaw's reload classes; the renderer prints it and the applier follows it."""

    CREATE = "create"
    START = "start"
    UNPAUSE = "unpause"  # a unit paused by hand resumes; a paused unit cannot be started
    STOP = "stop"
    REMOVE = "remove"
    IN_PLACE = "in-place update"  # the engine changes the unit's settings; a state change rides along
    HOT_RELOAD = "hot reload"  # the running gateway is handed its new config and must report it applied
    STOP_FIRST_REPLACE = "stop-first replace"  # old unit stopped and kept aside until the new one is up
    IN_ENGINE_REPLACE = "in-engine replace"  # one engine-side update that stops first and rolls back itself
    CLEAN_UP = "clean-up"  # nothing to change: only copies left by an interrupted apply are removed
    # an interrupted stop-first replace: the new unit must prove itself (ready, healthy) before the
    # old one kept aside goes; otherwise the aside copy is restored, as the replace would have done
    FINISH_REPLACE = "finish an interrupted replace"
    LEAVE = "leave alone"  # an orphan without --prune


# An action built without a method (by hand, in tests) is carried out the plain way of its kind.
PLAIN_METHODS: dict[str, Method] = {
    CREATE: Method.CREATE, REPLACE: Method.STOP_FIRST_REPLACE, UPDATE: Method.IN_PLACE, START: Method.START,
    STOP: Method.STOP, REMOVE: Method.REMOVE, NOOP: Method.CLEAN_UP, ORPHAN: Method.LEAVE,
}


@dataclass(frozen=True)
class Action:
    bot: str
    action: str
    reasons: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    container_id: str | None = None  # the current container, if any
    leftovers: tuple[str, ...] = ()  # ids of stale copies (renamed aside by an interrupted apply)
    desired: BotSpec | None = field(default=None, compare=False)
    # OpenClaw bots: the generated config must be (re)written before the container step
    write_config: bool = False
    # how it is carried out (the planner always says; see Method); None: PLAIN_METHODS[action]
    how: Method | None = None
    # what a hot reload the gateway does not confirm falls back to (a replace), None: nothing
    fallback: Method | None = None
    # Method.FINISH_REPLACE: the id of the old unit the interrupted replace kept aside, restored
    # when the new one does not prove itself
    aside: str | None = None

    @property
    def method(self) -> Method:
        return self.how if self.how is not None else PLAIN_METHODS[self.action]

    @property
    def mutates(self) -> bool:
        return self.action not in (NOOP, ORPHAN) or bool(self.leftovers)

    @property
    def in_sync(self) -> bool:
        """The engine runs what the manifests say for this bot: nothing to change, and no orphan
        (a unit no manifest declares is drift, though only --prune removes it)."""
        return not self.mutates and self.action != ORPHAN


@dataclass(frozen=True)
class Plan:
    fleet: str
    actions: tuple[Action, ...]
    foreign_managed_count: int = 0
    errors: tuple[str, ...] = ()  # conflicts that make the plan unappliable

    def summary(self) -> dict[str, int]:
        counts = {k: 0 for k in (CREATE, REPLACE, UPDATE, START, STOP, REMOVE)}
        for a in self.actions:
            if a.action in counts:
                counts[a.action] += 1
        counts["orphans"] = sum(1 for a in self.actions if a.action == ORPHAN)
        return counts

    @property
    def has_changes(self) -> bool:
        return any(a.mutates for a in self.actions)

    @property
    def in_sync(self) -> bool:
        """No change to make and no orphan running: what drift and plan --detailed-exitcode ask."""
        return all(a.in_sync for a in self.actions)


def parse_uid(user: str | None) -> int | None:
    if not user:
        return None
    head = user.split(":", 1)[0]
    return int(head) if head.isdigit() else None


def container_uid(bot: BotSpec, image_users: dict[str, str | None] | None = None) -> int | None:
    """The uid the bot's container runs as: spec.user, else the image's numeric User; an OpenClaw
    gateway image's `node` user is uid 1000."""
    uid = parse_uid(bot.user) if bot.user else parse_uid((image_users or {}).get(bot.image))
    if uid is None and bot.is_openclaw and not bot.user:
        uid = OPENCLAW_UID
    return uid
