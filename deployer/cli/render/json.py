"""The json format, for programs: stable documents (the plan's is versioned, schemas/plan.schema.json)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from deployer.cli.render.base import Reporter
from deployer.cli.render.common import drifted, sorted_problems
from deployer.core.model import Plan
from deployer.core.problems import Problem
from deployer.plan.document import PLAN_FORMAT_VERSION, plan_document, unplanned_document

if TYPE_CHECKING:  # flows/status.py talks to the engine; the reporters only read its data
    from deployer.flows.status import StatusReport
    from deployer.runtime.history import Entry

STATUS_FORMAT_VERSION = "1"  # of the status document (README, "status --format json"); bumped on any incompatible change


def problems_json(problems: list[Problem]) -> str:
    return json.dumps([p.as_dict() for p in sorted_problems(problems)], indent=2)


def plan_json(plan: Plan) -> str:
    return json.dumps(plan_document(plan), indent=2, sort_keys=False)


def unplanned_json(fleet: str, problems: list[Problem], error: str) -> str:
    return json.dumps(unplanned_document(fleet, sorted_problems(problems), error), indent=2)


def drift_json(plan: Plan) -> str:
    return json.dumps({
        "format_version": PLAN_FORMAT_VERSION,
        "fleet": plan.fleet,
        "drifted": [
            {"bot": a.bot, "repair": a.action, "reasons": list(a.reasons),
             "fields": [{"field": c.field, "desired": c.after, "actual": c.before} for c in a.changes]}
            for a in drifted(plan)
        ],
        "errors": list(plan.errors),
    }, indent=2)


def status_json(report: StatusReport) -> str:
    doc: dict[str, Any] = {"format_version": STATUS_FORMAT_VERSION, "fleet": report.fleet,
                           "last_apply": report.last_apply,
                           # node: only where the backend spreads units over machines (swarm)
                           "bots": [{k: v for k, v in asdict(r).items() if k != "node" or v} for r in report.rows]}
    if report.engine:
        doc["engine"] = report.engine
    return json.dumps(doc, indent=2)


class JsonReporter(Reporter):
    """For programs: stable documents (the plan's is versioned, schemas/plan.schema.json)."""

    name = "json"

    def problems(self, problems: list[Problem], *, bots: int | None = None) -> str:
        return problems_json(problems)

    def plan(self, plan: Plan) -> str:
        return plan_json(plan)

    def unplanned(self, fleet: str, problems: list[Problem], error: str) -> str:
        return unplanned_json(fleet, problems, error)

    def drift(self, plan: Plan) -> str:
        return drift_json(plan)

    def status(self, report: StatusReport) -> str:
        return status_json(report)

    def history(self, fleet: str, entries: list[Entry], *, bots: bool = False) -> str:
        """Every field of every entry, all bots (`bots` is for the text)."""
        return json.dumps({"fleet": fleet, "entries": [e.as_json() for e in entries]}, indent=2, sort_keys=True)
