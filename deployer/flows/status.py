"""`deployer status`: the fleet as it runs now, beside what the manifests want.

Collection only: `collect_status` gathers a StatusReport (plain data); the reporters of
deployer/cli/render turn it into text or json.
"""

from __future__ import annotations

from dataclasses import dataclass

from deployer.backends.base import Backend
from deployer.core.model import ORPHAN, Action
from deployer.flows.prepare import Prepared
from deployer.runtime.observe import inspect_many
from deployer.runtime.stamps import L_REVISION, read_record


@dataclass(frozen=True)
class StatusRow:
    bot: str
    desired_state: str
    actual_state: str
    health: str
    image: str
    started_at: str
    restart_count: int
    revision: str
    in_sync: bool
    pending: str  # the planned action when not in sync
    node: str = ""  # where the unit runs, on a backend that spreads units over machines (swarm)


@dataclass(frozen=True)
class StatusReport:
    fleet: str
    rows: list[StatusRow]
    last_apply: dict[str, str] | None  # the fleet's last-applied record (stamps.read_record)
    engine: str | None = None  # which engine was asked (its endpoint, described)


def collect_status(prepared: Prepared, engine: Backend) -> StatusReport:
    """Each bot's container inspected (in parallel) beside its plan, and the fleet's last apply."""
    return StatusReport(prepared.fleet.name, status_rows(prepared, engine), read_record(engine, prepared.fleet.name),
                        engine=engine.endpoint.describe())


def _pending(action: Action | None) -> str:
    if action is None or action.in_sync:
        return ""
    return "prune" if action.action == ORPHAN else action.action


def status_rows(prepared: Prepared, engine: Backend) -> list[StatusRow]:
    by_bot = {a.bot: a for a in prepared.plan.actions}
    current = {a.bot: a.container_id for a in prepared.plan.actions if a.container_id}
    ids = list(current.values())
    details = inspect_many(engine, ids)
    desired = {b.name: b for b in prepared.fleet.bots}
    rows = []
    for name in sorted(set(desired) | set(by_bot)):
        action = by_bot.get(name)
        st = details.get(current.get(name) or "")
        bot = desired.get(name)
        started = st.started_at if st else ""
        rows.append(StatusRow(
            bot=name,
            desired_state=bot.state if bot else "absent (orphan)",
            actual_state=st.status if st else "missing",
            health=(st.health or "-") if st else "-",
            image=st.image if st else (bot.image if bot else "-"),
            started_at=started[:19].replace("T", " ") if started and not started.startswith("0001") else "-",
            restart_count=st.restart_count if st else 0,
            revision=(st.labels.get(L_REVISION, "-")[:12] if st else "-"),
            in_sync=action is not None and action.in_sync,
            # what brings it in sync: the planned action; an orphan is removed only by --prune
            pending=_pending(action),
            node=st.node if st else "",
        ))
    return rows
