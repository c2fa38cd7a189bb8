"""What several formats share: the order and verdict of problems, the words and symbols of actions,
the summary line."""

from __future__ import annotations

import json

from deployer.core.model import Action, Method, Plan
from deployer.core.problems import Problem


def sorted_problems(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file, p.line, p.column, p.path, p.message))


def problems_verdict(problems: list[Problem], bots: int | None) -> str:
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    if errors:
        return f"{errors} error(s), {warnings} warning(s)"
    count = f"{bots} bot(s) valid" if bots is not None else "valid"
    return f"{count}, {warnings} warning(s)"


SYMBOLS = {
    "create": "+", "replace": "-/+", "update": "~", "start": ">", "stop": ".",
    "remove": "-", "orphan": "?", "noop": " ",
}
VERBS = {
    "create": "will be created", "replace": "must be replaced", "update": "will be updated in place",
    "start": "will be started", "stop": "will be stopped", "remove": "will be removed",
    "orphan": "is an orphan (no manifest); left alone without --prune", "noop": "only extra copies removed",
}


def verb(a: Action) -> str:
    if a.method is Method.HOT_RELOAD:
        return VERBS[a.action] + " (gateway reloads its config)"
    return VERBS[a.action]


def value(v: object) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return json.dumps(v) if isinstance(v, str) else str(v)


def summary_line(plan: Plan) -> str:
    s = plan.summary()
    return (
        f"Plan: {s['create']} to create, {s['replace']} to replace, {s['update']} to update, "
        f"{s['start']} to start, {s['stop']} to stop"
        + (f", {s['remove']} to remove" if s["remove"] else "")
        + "."
    )


def drifted(plan: Plan) -> list[Action]:
    return [a for a in plan.actions if a.mutates]
