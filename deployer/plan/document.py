"""The stable, versioned JSON form of a plan: what `plan --format json` prints and a saved plan
embeds (schema: schemas/plan.schema.json)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deployer.core.model import Plan
from deployer.core.problems import Problem

PLAN_FORMAT_VERSION = "1"


def plan_document(plan: Plan) -> dict[str, Any]:
    """The stable, versioned JSON form (schema: schemas/plan.schema.json)."""
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "fleet": plan.fleet,
        "actions": [
            {
                "bot": a.bot,
                "action": a.action,
                "reasons": list(a.reasons),
                "changes": [{"field": c.field, "before": c.before, "after": c.after} for c in a.changes],
            }
            for a in plan.actions
            if a.action != "noop" or a.leftovers
        ],
        "summary": plan.summary(),
        "foreign_managed_containers": plan.foreign_managed_count,
        "errors": list(plan.errors),
    }


def unplanned_document(fleet: str, problems: Sequence[Problem], error: str) -> dict[str, Any]:
    """The document of a plan that could not be made (manifests or secret files wrong, engine
    unreachable): no action, every error in `errors` (one line each, as the text output prints
    them; `error` when no problem says more), and every problem, located, in `problems`.
    `fleet` is "" when the manifests do not say it."""
    errors = [p.format() for p in problems if p.is_error] or [error]
    return {**plan_document(Plan(fleet, (), errors=tuple(errors))),
            "problems": [p.as_dict() for p in problems]}
