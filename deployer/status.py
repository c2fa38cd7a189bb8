"""`deployer status`: the fleet as it runs now, beside what the manifests want."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from .backends.base import Backend
from .observe import inspect_many
from .stamps import L_REVISION
from .workflow import Prepared


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


def collect_status(prepared: Prepared, engine: Backend) -> list[StatusRow]:
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
            in_sync=action is not None and not action.mutates,
            pending="" if action is None or not action.mutates else action.action,
            node=st.node if st else "",
        ))
    return rows


def render_status(fleet: str, rows: list[StatusRow], record: dict[str, Any] | None, fmt: str,
                  engine: str | None = None) -> str:
    if fmt == "json":
        doc = {"fleet": fleet, "last_apply": record, "bots": [asdict(r) for r in rows]}
        if engine:
            doc["engine"] = engine
        return json.dumps(doc, indent=2)
    header = ("BOT", "DESIRED", "ACTUAL", "HEALTH", "RESTARTS", "STARTED", "REVISION", "SYNC", "IMAGE")
    table = [header] + [
        (r.bot, r.desired_state, r.actual_state, r.health, str(r.restart_count), r.started_at, r.revision,
         "in sync" if r.in_sync else f"pending {r.pending}", r.image)
        for r in rows
    ]
    if any(r.node for r in rows):  # a swarm: say on which node each bot's task runs
        table = [row[:3] + (("NODE",) if i == 0 else (rows[i - 1].node or "-",)) + row[3:]
                 for i, row in enumerate(table)]
        header = table[0]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [f"Fleet {fleet}:"] + ([f"  engine: {engine}"] if engine else [])
    if record:
        lines.append(f"  last apply: revision {record['revision'] or '-'} at {record['applied_at']} by "
                     f"{record['applied_by']}: {record['result']}")
    else:
        lines.append("  last apply: none recorded")
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    return "\n".join(lines)
