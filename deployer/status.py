"""`deployer status`: the fleet as it runs now, beside what the manifests want."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from .engine import DockerEngine
from .model import FleetSpec
from .observe import gather
from .planner import PlanOptions, plan


@dataclass(frozen=True)
class StatusRow:
    bot: str
    desired_state: str
    actual_state: str
    health: str
    image: str
    started_at: str
    restart_count: int
    in_sync: bool
    pending: str  # the planned action when not in sync


def collect_status(fleet: FleetSpec, options: PlanOptions, engine: DockerEngine | None = None) -> list[StatusRow]:
    engine = engine or DockerEngine()
    observed = gather(engine, fleet, options)
    the_plan = plan(fleet, observed, options)
    by_bot = {a.bot: a for a in the_plan.actions}
    current = {a.bot: a.container_id for a in the_plan.actions if a.container_id}
    ids = [cid for cid in current.values() if cid]
    with ThreadPoolExecutor(max_workers=8) as pool:
        details = dict(zip(ids, pool.map(engine.inspect, ids)))
    rows = []
    desired = {b.name: b for b in fleet.bots}
    for name in sorted(set(desired) | set(by_bot)):
        action = by_bot.get(name)
        st = details.get(current.get(name) or "")
        bot = desired.get(name)
        rows.append(StatusRow(
            bot=name,
            desired_state=bot.state if bot else "absent (orphan)",
            actual_state=(st.status if st else "missing"),
            health=(st.health or "-") if st else "-",
            image=(st.image if st else (bot.image if bot else "-")),
            started_at=(st.started_at[:19].replace("T", " ") if st and st.started_at and not st.started_at.startswith("0001") else "-"),
            restart_count=st.restart_count if st else 0,
            in_sync=action is not None and not action.mutates,
            pending="" if action is None or not action.mutates else action.action,
        ))
    return rows


def render_status(fleet: str, rows: list[StatusRow], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"fleet": fleet, "bots": [asdict(r) for r in rows]}, indent=2)
    header = ("BOT", "DESIRED", "ACTUAL", "HEALTH", "RESTARTS", "STARTED", "SYNC", "IMAGE")
    table = [header] + [
        (r.bot, r.desired_state, r.actual_state, r.health, str(r.restart_count), r.started_at,
         "in sync" if r.in_sync else f"pending {r.pending}", r.image)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [f"Fleet {fleet}:"]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    return "\n".join(lines)
