"""Facts about the engine, gathered before planning (the planner itself does no I/O).

Cost for an unchanged fleet of N bots: one list call and one image lookup per distinct image,
whatever N is (a second list call only when some bot has no container of ours, to find a
foreign container holding its name). Containers are inspected only when the hash of the spec
they run differs from the manifest's (or with refresh=True, for drift detection): their label's,
or for those the last apply updated in place, the one its record gives. That record shows in the
same list call (it carries the managed label while it lists any such container).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from deployer.backends.base import Backend, UnitReader
from deployer.backends.base import UnitStatus as ContainerStatus
from deployer.core.model import FleetSpec, Observed, ObservedContainer
from deployer.core.vocabulary import CONTAINER_PREFIX, LABEL_MANAGED, LABEL_RECORD
from deployer.plan.planner import PlanOptions, needs_inspect
from deployer.runtime.lock import LABEL_LOCK, live_runs
from deployer.runtime.stamps import updated_in_place_of


def gather(engine: Backend, fleet: FleetSpec, options: PlanOptions, *, refresh: bool = False,
           parallelism: int = 8) -> Observed:
    # every managed unit (botmaker.managed=true), and the last-applied records that list units
    # updated in place (botmaker.managed=record; on a backend whose markers are no units, such as
    # swarm's configs, none shows, and none is needed: nothing changes in place there)
    listed = engine.list_containers(labels=[LABEL_MANAGED])
    managed = [c for c in listed if c.managed]
    record = next((c for c in listed if c.labels.get(LABEL_RECORD) == fleet.name and not c.managed), None)
    updated = updated_in_place_of(record.labels) if record is not None else {}
    ours = [dataclasses.replace(c, applied_hash=updated[c.id]) if c.id in updated else c
            for c in managed if c.fleet == fleet.name]
    foreign_managed = len(managed) - len(ours)
    # A name can only be held by someone else where we hold none: only then look (one call).
    missing = {b.container_name for b in fleet.bots} - {c.name for c in ours}
    foreign_by_name: dict[str, ObservedContainer] = {}
    if missing:
        our_ids = {c.id for c in ours}
        foreign_by_name = {
            c.name: c for c in engine.list_containers(name=CONTAINER_PREFIX)
            if c.name in missing and c.id not in our_ids
        }
    to_inspect = set(c.id for c in ours) if refresh else set(needs_inspect(fleet, tuple(ours), options))
    if to_inspect:
        statuses = inspect_many(engine, to_inspect, parallelism)
        ours = [_with_live_settings(c, statuses[c.id], refresh) if c.id in statuses else c for c in ours]
    images = sorted({b.image for b in fleet.bots})
    infos = {ref: engine.image_info(ref) for ref in images}
    runs: dict[str, str] = {}
    if any(engine.traits.aside_run(c.name) for c in ours):  # a copy kept aside by a run that may still live
        now, markers = engine.list_markers(LABEL_LOCK, fleet.name)
        runs = live_runs(fleet.name, markers, now)
    return Observed(
        fleet=fleet.name,
        containers=tuple(sorted(ours, key=lambda c: c.name)),
        foreign_by_name=foreign_by_name,
        foreign_managed_count=foreign_managed,
        image_ids={ref: info[0] for ref, info in infos.items()},
        image_users={ref: info[1] for ref, info in infos.items()},
        live_runs=runs,
    )


def inspect_many(engine: UnitReader, ids: Iterable[str], parallelism: int = 8) -> dict[str, ContainerStatus]:
    """Inspect units in parallel (the engine answers each in a few ms; a thousand in a row add up)."""
    ids = list(ids)
    if not ids:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(ids)))) as pool:
        return dict(zip(ids, pool.map(engine.inspect, ids), strict=True))


def _with_live_settings(c: ObservedContainer, st: ContainerStatus, refresh: bool) -> ObservedContainer:
    return dataclasses.replace(
        c,
        memory_bytes=st.memory_bytes,
        nano_cpus=st.nano_cpus,
        restart_policy=st.restart_policy,
        restart_max_retries=st.restart_max_retries,
        health=st.health,
        inspected=True,
        live=st.live if refresh else None,
    )
