"""`deployer status`: the fleet as it runs now, beside what the manifests want.

Collection only: `collect_status` gathers a StatusReport (plain data); the reporters of
deployer/cli/render turn it into text or json.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deployer.backends.base import Backend
from deployer.core.model import ORPHAN, Action
from deployer.core.vocabulary import LABEL_REVISION
from deployer.flows.prepare import Prepared
from deployer.runtime.observe import inspect_many
from deployer.runtime.stamps import read_record


@dataclass(frozen=True)
class StatusRow:
    """One bot; None where there is nothing to say (no container, no healthcheck, never started)."""

    bot: str
    desired_state: str
    actual_state: str
    health: str | None  # healthy, unhealthy, starting; None without a healthcheck or a container
    image: str | None
    started_at: str | None  # UTC, ISO 8601 with Z, to the second (as applied_at)
    restart_count: int
    revision: str | None  # the revision stamped by the apply that made the container (12 characters)
    in_sync: bool
    pending: str  # the planned action when not in sync ("prune" for an orphan)
    node: str = ""  # where the unit runs, on a backend that spreads units over machines (swarm)


@dataclass(frozen=True)
class StatusReport:
    fleet: str
    rows: list[StatusRow]
    # the fleet's last-applied record (stamps.read_record), its summary decoded (counts per action)
    last_apply: dict[str, Any] | None
    engine: str | None = None  # which engine was asked (its endpoint, described)


def collect_status(prepared: Prepared, engine: Backend) -> StatusReport:
    """Each bot's container inspected (in parallel) beside its plan, and the fleet's last apply."""
    return StatusReport(prepared.fleet.name, status_rows(prepared, engine),
                        last_apply(read_record(engine, prepared.fleet.name)), engine=engine.endpoint.describe())


def last_apply(record: dict[str, str] | None) -> dict[str, Any] | None:
    """The record as data: its summary (stored as a JSON label) decoded; None when unreadable."""
    if record is None:
        return None
    try:
        summary = json.loads(record.get("summary") or "null")
    except ValueError:
        summary = None
    return {**record, "summary": summary if isinstance(summary, dict) else None}


_ENGINE_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)")


def utc_second(stamp: str) -> str | None:
    """An engine's RFC 3339 time (nanoseconds, Z or an offset) as UTC to the second with Z, the
    way applied_at is written; None for an empty or zero time (never started: 0001-01-01...)."""
    m = _ENGINE_TIME.fullmatch(stamp or "")
    if m is None or stamp.startswith("0001"):
        return None
    when = datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(2) == "Z" else m.group(2)))
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        rows.append(StatusRow(
            bot=name,
            desired_state=bot.state if bot else "absent (orphan)",
            actual_state=st.status if st else "missing",
            health=(st.health or None) if st else None,
            image=st.image if st else (bot.image if bot else None),
            started_at=utc_second(st.started_at) if st else None,
            restart_count=st.restart_count if st else 0,
            revision=(st.labels.get(LABEL_REVISION, "")[:12] or None) if st else None,
            in_sync=action is not None and action.in_sync,
            # what brings it in sync: the planned action; an orphan is removed only by --prune
            pending=_pending(action),
            node=st.node if st else "",
        ))
    return rows
