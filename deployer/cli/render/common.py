"""What several formats share: the order and verdict of problems, the words and symbols of actions,
the summary line."""

from __future__ import annotations

import json
import unicodedata

from deployer.core.encodings import format_memory, with_durations
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
    if a.method is Method.UNPAUSE:
        return "will be unpaused"
    return VERBS[a.action]


def value(v: object, field: str = "") -> str:
    """A value as people read it: strings and structures as JSON with their letters as they are
    (only invisible and control characters escaped), memory and durations in the manifest's units
    (64m, 1g; 10s, 1m30s). `field`: the spec field, or one of its keys ("healthcheck.interval")."""
    if v is None:
        return "(none)"
    if field == "memory" and isinstance(v, int) and not isinstance(v, bool):
        return format_memory(v)
    shown = with_durations(v, field)
    if isinstance(shown, str) and not isinstance(v, str):  # one duration: as written, like memory
        return shown
    v = shown
    if isinstance(v, (dict, list, str)):
        return readable_json(v)
    return str(v)


# characters that would move the cursor, hide text or reorder it on a terminal: escaped as \uXXXX
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def readable_json(v: object) -> str:
    """JSON (keys sorted) that keeps é, ü, emoji, CJK as they are, unlike json.dumps' default
    (h\\u00e9llo); control, format (bidi overrides, zero-width) and separator characters stay escaped."""
    text = json.dumps(v, sort_keys=True, ensure_ascii=False)
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escaped(ch) if unicodedata.category(ch) in _HIDDEN_CATEGORIES else ch for ch in text)


def _escaped(ch: str) -> str:
    """\\uXXXX, as a surrogate pair past the BMP (what json.dumps writes)."""
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def summary_line(plan: Plan) -> str:
    s = plan.summary()
    return (
        f"Plan: {s['create']} to create, {s['replace']} to replace, {s['update']} to update, "
        f"{s['start']} to start, {s['stop']} to stop"
        + (f", {s['remove']} to remove" if s["remove"] else "")
        + "."
    )


def drifted(plan: Plan) -> list[Action]:
    """The bots the engine does not run as the manifests say, orphans included."""
    return [a for a in plan.actions if not a.in_sync]


def no_changes_line(plan: Plan) -> str:
    """For a plan with nothing to do: whether the fleet matches its manifests (not with an orphan)."""
    if plan.summary()["orphans"]:
        return f"No changes. Fleet {plan.fleet} does not match its manifests: orphans run (listed above)."
    return f"No changes. Fleet {plan.fleet} matches its manifests."
