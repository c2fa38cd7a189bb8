"""Rendering of problems and plans: text, json, markdown. Pure functions of values."""

from __future__ import annotations

import json
from typing import Any

from .model import Plan
from .problems import Problem


def render_problems(problems: list[Problem], fmt: str, *, bots: int | None = None) -> str:
    ordered = sorted(problems, key=lambda p: (p.file, p.line, p.column, p.path, p.message))
    if fmt == "json":
        return json.dumps([p.as_dict() for p in ordered], indent=2)
    lines = [p.format() for p in ordered]
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    if errors:
        lines.append(f"{errors} error(s), {warnings} warning(s)")
    else:
        count = f"{bots} bot(s) valid" if bots is not None else "valid"
        lines.append(f"{count}, {warnings} warning(s)")
    return "\n".join(lines)


# --- plans --------------------------------------------------------------------------------------

PLAN_FORMAT_VERSION = "1"
SYMBOLS = {
    "create": "+", "replace": "-/+", "update": "~", "start": ">", "stop": ".",
    "remove": "-", "orphan": "?", "noop": " ",
}
VERBS = {
    "create": "will be created", "replace": "must be replaced", "update": "will be updated in place",
    "start": "will be started", "stop": "will be stopped", "remove": "will be removed",
    "orphan": "is an orphan (no manifest); left alone without --prune", "noop": "only leftovers removed",
}


def _value(v: object) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return json.dumps(v) if isinstance(v, str) else str(v)


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


def render_plan(plan: Plan, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(plan_document(plan), indent=2, sort_keys=False)
    lines: list[str] = []
    for a in plan.actions:
        if a.action == "noop" and not a.leftovers:
            continue
        lines.append(f"  {SYMBOLS[a.action]:>3} bot {a.bot} {VERBS[a.action]}")
        for reason in a.reasons:
            lines.append(f"        # {reason}")
        for c in a.changes:
            forces = "  # forces replacement" if a.action == "replace" and c.field not in ("memory", "cpus", "restart") else ""
            lines.append(f"        {c.field}: {_diff_value(c.before, c.after)}{forces}")
        lines.append("")
    for err in plan.errors:
        lines.append(f"  ! {err}")
    if plan.errors:
        lines.append("")
    s = plan.summary()
    if not plan.has_changes and not plan.errors:
        lines.append(f"No changes. Fleet {plan.fleet} matches its manifests.")
    lines.append(
        f"Plan: {s['create']} to create, {s['replace']} to replace, {s['update']} to update, "
        f"{s['start']} to start, {s['stop']} to stop"
        + (f", {s['remove']} to remove" if s["remove"] else "")
        + "."
    )
    if s["remove"]:
        lines.append("Removals run last, and only if every other change succeeds; volumes and secrets are kept.")
    if s["orphans"]:
        lines.append(f"{s['orphans']} orphan container(s) of fleet {plan.fleet} listed above; --prune removes them.")
    if plan.foreign_managed_count:
        lines.append(f"{plan.foreign_managed_count} managed container(s) of other fleets or tools seen and left alone.")
    return "\n".join(lines)


def _diff_value(before: object, after: object) -> str:
    if isinstance(before, dict) and isinstance(after, dict):
        parts = []
        for k in sorted(set(before) | set(after)):
            if before.get(k) != after.get(k):
                parts.append(f"{k}: {_value(before.get(k))} -> {_value(after.get(k))}")
        return "{ " + "; ".join(parts) + " }"
    return f"{_value(before)} -> {_value(after)}"


def render_drift(plan: Plan, fmt: str = "text") -> str:
    """Drift report: every field where the engine differs from the manifests, desired vs actual."""
    drifted = [a for a in plan.actions if a.mutates]
    if fmt == "json":
        return json.dumps({
            "format_version": PLAN_FORMAT_VERSION,
            "fleet": plan.fleet,
            "drifted": [
                {"bot": a.bot, "repair": a.action, "reasons": list(a.reasons),
                 "fields": [{"field": c.field, "desired": c.after, "actual": c.before} for c in a.changes]}
                for a in drifted
            ],
            "errors": list(plan.errors),
        }, indent=2)
    lines = []
    for a in drifted:
        lines.append(f"bot {a.bot}: drifted (apply will {a.action})")
        for reason in a.reasons:
            lines.append(f"    # {reason}")
        for c in a.changes:
            lines.append(f"    {c.field}: desired {_value(c.after)}, actual {_value(c.before)}")
    lines.extend(f"! {e}" for e in plan.errors)
    lines.append(f"Drift: {len(drifted)} bot(s) of fleet {plan.fleet} differ from their manifests."
                 if drifted else f"No drift: fleet {plan.fleet} matches its manifests.")
    return "\n".join(lines)
