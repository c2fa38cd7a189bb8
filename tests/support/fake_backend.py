"""An in-memory backend: the whole contract of deployer.backends.base.Backend (and InEngineReplace,
for backends without an aside copy), honest enough to run
the Applier, the lock and the record against, for unit tests and for the 1,000-bot
failure-budget measurement (bench/rollout_budget.py).

What it keeps, like a single Docker host:
- units (containers) with ids, names, states and labels; one name space shared with markers,
  so a create or a rename to a held name raises NameTaken, an unknown id raises NotFound;
- the in-place settings `update` changes (memory, cpus, restart), read back by `inspect`;
- a unit paused by hand (`pause`, not a call of the contract): it refuses a start and is resumed
  by `unpause`, as on Docker; a unit's `health` (None: no healthcheck) is what its healthcheck says,
  in the list and the inspect: set it to play one;
- images: every ref is present unless listed in `missing_images` (then `image_id` is None and a
  create of it raises NotFound, until a `pull`).

What it records, for assertions:
- `calls`: a Counter by kind, as DockerEngine counts them (MUTATING kinds are the ones that
  change bot units);
- `log`: every call in order as a `Call` (kind, target name, container id, whether it failed);
- `max_in_flight`: the most mutating calls that were under way at the same moment (with a
  `latency`, parallel callers overlap the way they do on a real engine);
- `max_starting`: the most units that were started and not yet through their `wait_ready` at
  the same moment (with a `ready_delay`, a unit takes that long to prove itself, like a booting
  gateway); a start nobody waits for (a rolled-back replace restarting the old unit) ends there;
- `call_observers`: told (kind, what) after every call, failed or not, as DockerEngine tells them.

Behaviour on demand:
- containers whose image is in `bad_images` (or whose command is in `bad_commands`) exit at
  once after start, like a gateway with a broken image or config;
- `fail_on(kind=..., name=..., nth=..., error=...)` makes a matching call raise one of the
  contract's error types (before it has any effect, or after it with `after=True`, like an
  answer lost on the way back); `fail_call(k)` fails the k-th call of any kind. Calls are
  counted from the moment the rule is given.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from deployer.backends.base import MUTATING, HelperResult, Marker, UnitStatus, count_mutating
from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.backends.endpoint import Endpoint
from deployer.core.encodings import cpus_from_nano, restart_string
from deployer.core.labels import bot_labels
from deployer.core.model import BotSpec, ObservedContainer
from deployer.core.traits import Traits
from deployer.core.vocabulary import MARKER_IMAGE
from deployer.errors import EngineError, NameTaken, NotFound, RolledBack

BAD_LOG = "gateway: bad config, exiting"


@dataclass
class FakeContainer:
    id: str
    name: str
    image: str
    labels: dict[str, str]
    command: tuple[str, ...] | None = None
    status: str = "created"
    created: float = field(default_factory=time.time)
    spec: dict[str, Any] = field(default_factory=dict)  # the canonical spec it was created from
    memory_bytes: int = 0
    nano_cpus: int = 0
    restart_policy: str = ""  # as the engine reports it: "" is "no"
    restart_max_retries: int = 0
    marker: bool = False
    health: str | None = None  # what its healthcheck says (set it to play one): starting, healthy, unhealthy

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class Call:
    """One call as the fake saw it. `name` is the unit's name at the time of the call (for a
    create: the name asked for; for a rename: the old name, `new_name` the new one)."""

    kind: str
    name: str
    id: str = ""
    new_name: str = ""
    failed: bool = False


@dataclass
class FailRule:
    """Raise `error(message)` on the `nth` call matching kind and name (1-based; the count is of
    matching calls only), and on the `times - 1` matching calls after it."""

    kinds: frozenset[str] | None
    name: str | None
    nth: int
    times: int
    error: type[EngineError]
    after: bool
    seen: int = 0

    def matches(self, kind: str, names: tuple[str, ...]) -> bool:
        return (self.kinds is None or kind in self.kinds) and (self.name is None or self.name in names)

    def hit(self) -> bool:
        self.seen += 1
        return self.nth <= self.seen < self.nth + self.times


class FakeBackend:
    """See the module docstring. Thread-safe for the calls the Applier makes in parallel."""

    def __init__(self, *, latency: float = 0.0, bad_images: frozenset[str] = frozenset(),
                 bad_commands: frozenset[tuple[str, ...]] = frozenset(), traits: Traits = DOCKER_TRAITS,
                 missing_images: Collection[str] = (), ready_delay: float = 0.0):
        self.traits = traits  # by default it plays a single host: renames aside, updates in place
        self.endpoint = Endpoint("fake://memory", source="fake")
        self.latency = latency
        self.ready_delay = ready_delay  # how long wait_ready takes (a unit proving itself)
        self.bad_images = bad_images
        self.bad_commands = bad_commands
        self.missing_images = set(missing_images)
        self.containers: dict[str, FakeContainer] = {}
        self.calls: Counter[str] = Counter()
        self.call_observers: list[Callable[[str, str], None]] = []  # told (kind, what) after every call
        self.log: list[Call] = []
        self.started_creates: list[str] = []  # container names, in order of create
        self.max_in_flight = 0
        self._readiness: list[tuple[str, str]] = []  # ("start" | "ready", unit id), in order
        self.run_once_result: tuple[int, str] = (0, "")
        self.helper_result = HelperResult(0, "", "")
        self.clock: Callable[[], float] = time.time  # the engine's clock (tests may move it)
        self._in_flight = 0
        self._rules: list[FailRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # -- telling it to fail ------------------------------------------------------------------------
    def fail_on(self, kind: str | Collection[str] | None = None, name: str | None = None, *, nth: int = 1,
                times: int = 1, error: type[EngineError] = EngineError, after: bool = False) -> None:
        """Fail the nth call (counted from now) of `kind` (one kind, a set of kinds, or any) on
        the unit or marker named `name` (or any), and the `times - 1` matching calls after it."""
        kinds = None if kind is None else frozenset({kind} if isinstance(kind, str) else kind)
        self._rules.append(FailRule(kinds, name, nth, times, error, after))

    def fail_call(self, k: int, *, error: type[EngineError] = EngineError, mutating: bool = False) -> None:
        """Fail the k-th call from now, of any kind (of any mutating kind with mutating=True)."""
        self.fail_on(MUTATING if mutating else None, nth=k, error=error)

    @property
    def max_starting(self) -> int:
        """The most units started and not yet through wait_ready at one moment (see the module
        docstring); a start with no wait_ready after it does not count."""
        with self._lock:
            events = list(self._readiness)
        waited = {i for i, (kind, cid) in enumerate(events) if kind == "start"
                  and ("ready", cid) in events[i + 1:]}
        starting: set[str] = set()
        peak = 0
        for i, (kind, cid) in enumerate(events):
            if kind == "start" and i in waited:
                starting.add(cid)
                peak = max(peak, len(starting))
            elif kind == "ready":
                starting.discard(cid)
        return peak

    @property
    def mutating_calls(self) -> int:
        return count_mutating(self.calls)

    def calls_of(self, kind: str) -> list[Call]:
        return [c for c in self.log if c.kind == kind]

    # -- plumbing ----------------------------------------------------------------------------------
    def _call(self, kind: str, name: str, effect: Callable[[], Any], *, cid: str = "", new_name: str = "") -> Any:
        """Count and log the call, sleep the latency (as one call in flight), then apply `effect`
        unless a rule fails the call first (or after, with after=True)."""
        with self._lock:
            self.calls[kind] += 1
            names = (name, new_name) if new_name else (name,)
            hits = [r for r in self._rules if r.matches(kind, names) and r.hit()]  # every rule counts
            rule = hits[0] if hits else None
            mutating = kind in MUTATING
            if mutating:
                self._in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            if rule is not None and not rule.after:
                raise rule.error(f"{kind} {name}: injected failure")
            result = effect()
            if rule is not None:
                raise rule.error(f"{kind} {name}: injected failure after the call took effect")
            self._record(Call(kind, name, cid, new_name))
            return result
        except EngineError:
            self._record(Call(kind, name, cid, new_name, failed=True))
            raise
        finally:
            if mutating:
                with self._lock:
                    self._in_flight -= 1
            for observe in self.call_observers:
                observe(kind, f"{kind} {name}")

    def _record(self, call: Call) -> None:
        with self._lock:
            self.log.append(call)

    def _by_name(self, name: str) -> FakeContainer | None:
        return next((c for c in self.containers.values() if c.name == name), None)

    def _name_of(self, cid: str) -> str:
        c = self.containers.get(cid)
        return c.name if c is not None else cid[:12]

    def _get(self, cid: str, what: str) -> FakeContainer:
        c = self.containers.get(cid)
        if c is None:
            raise NotFound(f"{what}: not found (no such container: {cid[:12]})")
        return c

    def _new(self, container: FakeContainer) -> str:
        with self._lock:
            if self._by_name(container.name) is not None:
                raise NameTaken(f"create {container.name}: name already taken by another container")
            self.containers[container.id] = container
            return container.id

    def _next_id(self) -> str:
        with self._lock:
            return f"{next(self._ids):064x}"

    # -- reading -------------------------------------------------------------------------------------
    def list_containers(self, *, labels: list[str] | None = None, name: str | None = None) -> list[ObservedContainer]:
        wanted = [tuple(lbl.split("=", 1)) if "=" in lbl else (lbl, None) for lbl in labels or []]

        def rows() -> list[ObservedContainer]:
            with self._lock:
                found = list(self.containers.values())
            return [ObservedContainer(c.id, c.name, c.image, self._image_digest(c.image), c.status, dict(c.labels),
                                      health=c.health if c.running else None, created=float(int(c.created)))
                    for c in found
                    if all((c.labels.get(k) == v) if v is not None else k in c.labels for k, v in wanted)
                    and (name is None or name in c.name)]  # the engine's name filter matches substrings

        return self._call("list", "containers", rows)

    def inspect(self, container_id: str) -> UnitStatus:
        def status() -> UnitStatus:
            c = self._get(container_id, "inspect")
            return UnitStatus(
                id=c.id, name=c.name, status=c.status, running=c.running or c.status == "paused",  # as Docker says
                exit_code=3 if c.status == "exited" and self._bad(c) else 0, restart_count=0, health=c.health,
                started_at="", image=c.image, image_id=self._image_digest(c.image), labels=dict(c.labels),
                memory_bytes=c.memory_bytes, nano_cpus=c.nano_cpus, restart_policy=c.restart_policy,
                restart_max_retries=c.restart_max_retries, live=self._live(c),
            )

        return self._call("inspect", self._name_of(container_id), status, cid=container_id)

    def image_info(self, ref: str) -> tuple[str | None, str | None]:
        def info() -> tuple[str | None, str | None]:
            return (None, None) if ref in self.missing_images else (self._image_digest(ref), None)

        return self._call("inspect_image", ref, info)

    def image_id(self, ref: str) -> str | None:
        return self.image_info(ref)[0]

    def logs_tail(self, container_id: str, lines: int = 20) -> str:
        def tail() -> str:
            c = self.containers.get(container_id)
            return BAD_LOG if c is not None and self._bad(c) and c.status == "exited" else ""

        return self._call("logs", self._name_of(container_id), tail, cid=container_id)

    def logs_since(self, container_id: str, since: float) -> list[tuple[str, str]]:
        return self._call("logs", self._name_of(container_id), lambda: [], cid=container_id)

    # -- changing --------------------------------------------------------------------------------------
    def pull(self, ref: str) -> None:
        self._call("pull", ref, lambda: self.missing_images.discard(ref))

    def create(self, bot: BotSpec, *, fleet: str, spec: dict[str, Any], spec_hash: str, secrets_dir: str | None,
               extra_labels: dict[str, str] | None = None) -> str:
        def create() -> str:
            if bot.image in self.missing_images:
                raise NotFound(f"create {bot.container_name}: not found (no such image: {bot.image})")
            policy = "" if bot.restart_policy == "no" else bot.restart_policy
            cid = self._new(FakeContainer(
                self._next_id(), bot.container_name, bot.image,
                bot_labels(bot, fleet=fleet, spec=spec, spec_hash=spec_hash, extra=extra_labels),
                bot.command, created=self.clock(), spec=dict(spec), memory_bytes=bot.memory_bytes or 0,
                nano_cpus=bot.nano_cpus or 0, restart_policy=policy, restart_max_retries=bot.restart_max_retries,
            ))
            with self._lock:
                self.started_creates.append(bot.container_name)
            return cid

        return self._call("create", bot.container_name, create)

    def start(self, container_id: str, name: str = "") -> None:
        def start() -> None:
            c = self._get(container_id, f"start {name}")
            if c.status == "paused":  # Docker's answer, word for word
                raise EngineError(f"start {name or c.name}: cannot start a paused container, try unpause instead")
            c.status = "exited" if self._bad(c) else "running"
            with self._lock:
                self._readiness.append(("start", container_id))

        self._call("start", self._name_of(container_id), start, cid=container_id)

    def pause(self, container_id: str) -> None:
        """`docker pause` by hand (not a call of the contract: the deployer never pauses)."""
        with self._lock:
            c = self._get(container_id, "pause")
            assert c.running, f"{c.name} is {c.status}: only a running container can be paused"
            c.status = "paused"

    def unpause(self, container_id: str, name: str = "") -> None:
        def unpause() -> None:
            c = self._get(container_id, f"unpause {name}")
            if c.status != "paused":
                raise EngineError(f"unpause {name or c.name}: container {c.id[:12]} is not paused")
            c.status = "running"

        self._call("unpause", self._name_of(container_id), unpause, cid=container_id)

    def stop(self, container_id: str, name: str = "", timeout: int = 10) -> None:
        def stop() -> None:
            c = self._get(container_id, f"stop {name}")
            if c.running or c.status == "paused":  # Docker stops a paused container too
                c.status = "exited"

        self._call("stop", self._name_of(container_id), stop, cid=container_id)

    def rename(self, container_id: str, new_name: str) -> None:
        def rename() -> None:
            with self._lock:
                c = self._get(container_id, "rename")
                holder = self._by_name(new_name)
                if holder is not None and holder is not c:
                    raise NameTaken(f"rename to {new_name}: name already taken by another container")
                c.name = new_name

        self._call("rename", self._name_of(container_id), rename, cid=container_id, new_name=new_name)

    def remove(self, container_id: str, name: str = "") -> None:
        def remove() -> None:
            with self._lock:
                self._get(container_id, f"remove {name}")
                del self.containers[container_id]

        self._call("remove", self._name_of(container_id), remove, cid=container_id)

    def update(self, container_id: str, bot: BotSpec, name: str = "") -> None:
        """Only the in-place fields, as `docker update` (translate.update_body) changes them."""
        def update() -> None:
            c = self._get(container_id, f"update {name}")
            c.restart_policy = "" if bot.restart_policy == "no" else bot.restart_policy
            c.restart_max_retries = bot.restart_max_retries if bot.restart_policy == "on-failure" else 0
            if bot.memory_bytes is not None:
                c.memory_bytes = bot.memory_bytes
            if bot.nano_cpus is not None:
                c.nano_cpus = bot.nano_cpus

        self._call("update", self._name_of(container_id), update, cid=container_id)

    def replace_unit(self, unit_id: str, bot: BotSpec, *, fleet: str, spec: dict[str, Any], spec_hash: str,
                     secrets_dir: str | None, extra_labels: dict[str, str] | None = None) -> str:
        """InEngineReplace, as a swarm service update with order stop-first plays it: one call
        (logged as an "update"), the unit keeps its id, the old task stops before the new one
        starts, and when the new one fails at once the engine puts the old spec back (and
        running, if it was) and the call raises RolledBack."""
        def replace() -> str:
            c = self._get(unit_id, f"replace {bot.container_name}")
            before = {k: getattr(c, k) for k in ("image", "labels", "command", "spec", "memory_bytes", "nano_cpus",
                                                   "restart_policy", "restart_max_retries", "status")}
            c.status = "exited" if c.running else c.status
            c.image, c.command, c.spec = bot.image, bot.command, dict(spec)
            c.labels = bot_labels(bot, fleet=fleet, spec=spec, spec_hash=spec_hash, extra=extra_labels)
            c.memory_bytes, c.nano_cpus = bot.memory_bytes or 0, bot.nano_cpus or 0
            c.restart_policy = "" if bot.restart_policy == "no" else bot.restart_policy
            c.restart_max_retries = bot.restart_max_retries
            if bot.state == "running":
                c.status = "exited" if self._bad(c) else "running"
                if c.status == "exited":
                    for key, value in before.items():
                        setattr(c, key, value)
                    raise RolledBack(f"replace {bot.container_name}: the new task exited at once; "
                                     "the engine rolled the service back")
            return c.id

        return self._call("update", self._name_of(unit_id), replace, cid=unit_id)

    def wait_ready(self, container_id: str, *, timeout: float, settle: float, healthcheck: bool) -> UnitStatus:
        if self.ready_delay:
            time.sleep(self.ready_delay)
        try:
            return self.inspect(container_id)  # settled after ready_delay: running, or exited
        finally:
            with self._lock:
                self._readiness.append(("ready", container_id))

    # -- markers -----------------------------------------------------------------------------------------
    def create_marker(self, name: str, labels: dict[str, str]) -> str:
        return self._call("marker_create", name, lambda: self._new(FakeContainer(
            self._next_id(), name, MARKER_IMAGE, dict(labels), created=self.clock(), marker=True)))

    def remove_marker(self, marker_id: str, name: str = "") -> None:
        def remove() -> None:
            with self._lock:
                if self.containers.pop(marker_id, None) is None:
                    raise NotFound(f"remove {name or marker_id[:12]}: not found")

        self._call("marker_remove", name or self._name_of(marker_id), remove, cid=marker_id)

    def find_marker(self, name: str) -> tuple[str, dict[str, str], str] | None:
        def find() -> tuple[str, dict[str, str], str] | None:
            c = self._by_name(name)
            return None if c is None else (c.id, dict(c.labels), "")

        return self._call("inspect", name, find)

    def list_markers(self, label: str, value: str) -> tuple[float, list[Marker]]:
        def markers() -> tuple[float, list[Marker]]:
            with self._lock:
                found = list(self.containers.values())
            return self.clock(), [Marker(c.id, c.name, dict(c.labels), float(int(c.created)))
                                  for c in found if c.labels.get(label) == value]

        return self._call("list", f"{label} markers", markers)

    # -- short-lived commands next to the units -----------------------------------------------------------
    def run_once(self, image: str, *, name: str, command: list[str], entrypoint: list[str] | None,
                 user: str, env: dict[str, str], binds: list[tuple[str, str, bool]], tmpfs: dict[str, str],
                 labels: dict[str, str], timeout: float) -> tuple[int, str]:
        """Answers `run_once_result` (set it to play a preflight's verdict)."""
        return self._call("oneshot_create", name, lambda: self.run_once_result)

    def run_helper(self, image: str, argv: list[str], *, binds: list[tuple[str, str, bool]],
                   env: dict[str, str] | None = None, cap_add: tuple[str, ...] = ("DAC_OVERRIDE",),
                   labels: dict[str, str] | None = None, timeout: float = 60,
                   what: str = "helper") -> HelperResult:
        """Answers `helper_result` (set it to play a remote file read)."""
        return self._call("helper", what, lambda: self.helper_result)

    # -- what a container shows ------------------------------------------------------------------------------
    def _bad(self, c: FakeContainer) -> bool:
        return c.image in self.bad_images or (c.command is not None and tuple(c.command) in self.bad_commands)

    @staticmethod
    def _image_digest(ref: str) -> str:
        return "sha256:" + ref.encode().hex()[:64].ljust(64, "0")

    @staticmethod
    def _live(c: FakeContainer) -> dict[str, Any]:
        """The normalised live configuration (translate.live_spec's shape) of a container made
        from its spec, with the in-place fields as they are now."""
        if c.marker or not c.spec:
            return {}
        live = {k: v for k, v in c.spec.items() if k not in ("secrets", "provider", "channels")}
        live["secrets_mount"] = (c.spec.get("secrets") or {}).get("mount")
        live["labels"] = dict(c.labels)
        live["memory"] = c.memory_bytes or None
        live["cpus"] = cpus_from_nano(c.nano_cpus)
        live["restart"] = restart_string(c.restart_policy, c.restart_max_retries)
        return live


__all__ = ["BAD_LOG", "Call", "FailRule", "FakeBackend", "FakeContainer"]
