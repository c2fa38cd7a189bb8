"""The backend contract: what the planner, the applier, the lock and the record need from
wherever the bots run, with no Docker in it.

A backend keeps *units* (one per bot: a container on a single host, a service on a swarm) and
*markers* (small named records with labels whose names are unique, so creating one is atomic:
the fleet lock, its heartbeats, the last-applied record and the history). It declares its
`Traits`, and the planner asks them instead of knowing the engine ("can memory change in
place?", "is there an aside copy during a replace?").

Every engine failure is an `EngineError` carrying one line fit for an operator; the kinds a
caller acts on have their own class. A backend chooses the class in one place (its error map).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from deployer.core.model import BotSpec, ObservedContainer
from deployer.core.traits import Traits

# Calls that change bot units. Marker calls (lock, record) are counted apart as marker_create /
# marker_remove, and preflight or helper runs as oneshot_* / helper.
MUTATING = frozenset({"pull", "create", "start", "stop", "update", "rename", "remove", "unpause"})


@dataclass(frozen=True)
class Marker:
    """A marker as one list call shows it; created is the engine's clock (whole seconds)."""

    id: str
    name: str
    labels: dict[str, str]
    created: float


@dataclass(frozen=True)
class UnitStatus:
    """One unit, inspected. `live` is its configuration normalised to the keys of
    core.spec.container_spec (plus `secrets_mount`), which is what drift compares."""

    id: str
    name: str
    status: str  # created, running, restarting, exited, dead, paused
    running: bool
    exit_code: int
    restart_count: int
    health: str | None  # starting, healthy, unhealthy, or None without a healthcheck
    started_at: str
    image: str
    image_id: str
    labels: dict[str, str]
    memory_bytes: int
    nano_cpus: int
    restart_policy: str
    restart_max_retries: int
    live: dict[str, Any]
    # where the unit runs when the backend spreads units over machines (a swarm node), else ""
    node: str = ""
    # the engine's last word on why the unit is not running (a swarm task's error), else ""
    error: str = ""


@dataclass(frozen=True)
class HelperResult:
    exit_code: int
    stdout: str
    stderr: str


class EndpointInfo(Protocol):
    """Where a backend talks to (deployer.endpoint.Endpoint): named in messages, and whether the
    paths of its bots' files (secrets, state, configs) are this machine's own."""

    @property
    def files_local(self) -> bool: ...

    def describe(self) -> str: ...


@runtime_checkable
class MarkerStore(Protocol):
    """Named, labelled records with atomic create: the lock, its heartbeats, the record."""

    def create_marker(self, name: str, labels: dict[str, str]) -> str:
        """Create it; NameTaken when the name is held. Returns its id."""

    def remove_marker(self, marker_id: str, name: str = "") -> None: ...

    def find_marker(self, name: str) -> tuple[str, dict[str, str], str] | None:
        """(id, labels, created) of the marker with exactly this name, or None."""

    def list_markers(self, label: str, value: str) -> tuple[float, list[Marker]]:
        """Every marker with label=value, and the engine's clock at the answer (so ages are
        measured on one clock whatever the runners' clocks say)."""


@runtime_checkable
class UnitReader(Protocol):
    """Observing a fleet: one cheap list, inspects only where the plan needs them."""

    def list_containers(self, *, labels: list[str] | None = None,
                        name: str | None = None) -> list[ObservedContainer]: ...

    def inspect(self, container_id: str) -> UnitStatus: ...

    def image_info(self, ref: str) -> tuple[str | None, str | None]:
        """(image id, the image's configured user), or (None, None) when the engine lacks it."""

    def image_id(self, ref: str) -> str | None: ...

    def logs_tail(self, container_id: str, lines: int = 20) -> str: ...

    def logs_since(self, container_id: str, since: float) -> list[tuple[str, str]]: ...


@runtime_checkable
class UnitWriter(Protocol):
    """The mutations a plan's actions need, and readiness after a start."""

    def pull(self, ref: str) -> None: ...

    def create(self, bot: BotSpec, *, fleet: str, spec: dict[str, Any], spec_hash: str,
               secrets_dir: str | None, extra_labels: dict[str, str] | None = None) -> str: ...

    def start(self, container_id: str, name: str = "") -> None: ...

    def stop(self, container_id: str, name: str = "", timeout: int = 10) -> None: ...

    def remove(self, container_id: str, name: str = "") -> None: ...

    def rename(self, container_id: str, new_name: str) -> None: ...

    def unpause(self, container_id: str, name: str = "") -> None:
        """Resume a paused unit (frozen by hand, e.g. `docker pause`): its processes go on where
        they stopped. A unit that cannot be paused (a swarm service) raises EngineError."""

    def update(self, container_id: str, bot: BotSpec, name: str = "") -> None:
        """Change the traits' in-place fields of a running unit without recreating it."""

    def wait_ready(self, container_id: str, *, timeout: float, settle: float, healthcheck: bool) -> UnitStatus:
        """Poll until the unit runs (and is healthy when it has a healthcheck), or fails."""


@runtime_checkable
class HostRunner(Protocol):
    """Short-lived commands next to the units: the OpenClaw preflight and remote file reads."""

    def run_once(self, image: str, *, name: str, command: list[str], entrypoint: list[str] | None,
                 user: str, env: dict[str, str], binds: list[tuple[str, str, bool]], tmpfs: dict[str, str],
                 labels: dict[str, str], timeout: float) -> tuple[int, str]: ...

    def run_helper(self, image: str, argv: list[str], *, binds: list[tuple[str, str, bool]],
                   env: dict[str, str] | None = None, cap_add: tuple[str, ...] = ("DAC_OVERRIDE",),
                   labels: dict[str, str] | None = None, timeout: float = 60,
                   what: str = "helper") -> HelperResult: ...


@runtime_checkable
class InEngineReplace(Protocol):
    """For backends without an aside copy (Traits.aside_mark is None)."""

    def replace_unit(self, unit_id: str, bot: BotSpec, *, fleet: str, spec: dict[str, Any], spec_hash: str,
                     secrets_dir: str | None, extra_labels: dict[str, str] | None = None) -> str:
        """Move the unit to the bot's new spec in one update (old task stopped before the new
        one starts); returns the unit's id. RolledBack when the engine rolled it back."""


@runtime_checkable
class Backend(UnitReader, UnitWriter, MarkerStore, HostRunner, Protocol):
    """Everything above, plus the traits, the endpoint it talks to and a count of calls by kind
    (tests and benches assert "0 mutating calls" on it)."""

    traits: Traits
    calls: Counter[str]
    call_observers: list[Callable[[str, str], None]]  # told (kind, what) after every engine call

    @property
    def endpoint(self) -> EndpointInfo: ...

    @property
    def mutating_calls(self) -> int: ...


def count_mutating(calls: Counter[str]) -> int:
    return sum(n for k, n in calls.items() if k in MUTATING)
