"""Rendering of problems and plans: text, json, markdown. Pure functions of values."""

from __future__ import annotations

import json

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
