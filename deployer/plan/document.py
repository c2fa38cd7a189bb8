"""The stable, versioned JSON form of a plan: what `plan --format json` prints and a saved plan
embeds (schema: schemas/plan.schema.json)."""

from __future__ import annotations

from typing import Any

from deployer.core.model import Plan

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
