"""The markdown format, for a pull-request comment: problems and plans, escaped for GitHub-flavoured
markdown and kept under GitHub's size limit."""

from __future__ import annotations

import html
import json
from typing import Any

from deployer.cli.render.base import Reporter
from deployer.cli.render.common import SYMBOLS, problems_verdict, sorted_problems
from deployer.core.encodings import format_memory, with_durations
from deployer.core.model import Action, Plan
from deployer.core.problems import Problem

MARKDOWN_VALUE_LIMIT = 200  # characters of a JSON-encoded value shown in a table cell
MARKDOWN_MAX_LENGTH = 60000  # GitHub refuses comments over 65536 characters
_ABSENT = object()


def problems_markdown(ordered: list[Problem], verdict: str) -> str:
    if not ordered:
        return f"**{_md_text(verdict)}**"
    lines = ["| Location | Path | Severity | Message |", "| --- | --- | --- | --- |"]
    for p in ordered:
        where = p.file if p.line == 0 else f"{p.file}:{p.line}:{p.column}"
        path = _code(p.path) if p.path else ""
        lines.append(f"| {_code(where)} | {path} | {_md_text(p.severity)} | {_md_cell(p.message)} |")
    lines.extend(["", f"**{_md_text(verdict)}**"])
    return "\n".join(lines)


def render_plan_markdown(plan: Plan, *, max_length: int = MARKDOWN_MAX_LENGTH) -> str:
    """The plan as GitHub-flavoured markdown, for a pull-request comment.

    Everything shown comes from the Plan value (nothing from the engine, no timestamps), so the
    same plan always renders the same comment. Values are JSON-encoded, truncated at
    MARKDOWN_VALUE_LIMIT characters and escaped for tables; bot sections past `max_length`
    characters are left out with a note.
    """
    s = plan.summary()
    head = [f"### deployer plan for fleet {_md_text(plan.fleet)}", ""]
    if plan.errors:
        head.append("> [!CAUTION]")
        head.append("> The plan has errors; apply will refuse it and change nothing:")
        head.extend(f"> - {_md_line(err)}" for err in plan.errors)
        head.append("")
    shown = [a for a in plan.actions if a.action != "noop" or a.leftovers]
    if not plan.has_changes and not plan.errors:
        head.append(f"**No changes.** Fleet {_code(plan.fleet)} "
                    + ("does not match its manifests: orphans run (listed below)." if s["orphans"]
                       else "matches its manifests."))
        head.append("")
        if not shown:
            return "\n".join(head).rstrip("\n")
    head.extend(["| Action | Count |", "| --- | ---: |"])
    for key in ("create", "replace", "update", "start", "stop", "remove"):
        head.append(f"| {key} | {s[key]} |")
    if s["orphans"]:
        head.append(f"| orphans | {s['orphans']} |")
    head.append("")

    tail: list[str] = []
    if s["remove"]:
        tail.append("Removals run last, and only if every other change succeeds; volumes and secrets are kept.")
    if s["orphans"]:
        tail.append(f"{s['orphans']} orphan container(s) of fleet {_md_text(plan.fleet)} listed above; "
                    f"`--prune` removes them.")
    if plan.foreign_managed_count:
        tail.append(f"{plan.foreign_managed_count} managed container(s) of other fleets or tools seen and left alone.")

    sections = [_markdown_section(a) for a in shown]
    budget = max_length - sum(len(line) + 1 for line in head + tail) - 200
    kept: list[str] = []
    for section in sections:
        if budget - (len(section) + 1) < 0:
            break
        budget -= len(section) + 1
        kept.append(section)
    body = list(kept)
    if len(kept) < len(sections):
        left = len(sections) - len(kept)
        body.append(f"_{left} more bot(s) not shown, to keep this comment under the size limit; "
                    f"`deployer plan` prints them all._\n")
    text = "\n".join(head + body + tail)
    return text.rstrip("\n")


def unplanned_markdown(fleet: str, problems: list[Problem], error: str, *,
                       max_length: int = MARKDOWN_MAX_LENGTH) -> str:
    """A plan that could not be made, for the pull-request comment: a CAUTION block with the error
    and every problem (as many as fit under `max_length`), so the comment never shows a stale plan."""
    title = "### deployer plan" + (f" for fleet {_md_text(fleet)}" if fleet else "")
    lines = [title, "", "> [!CAUTION]", f"> No plan: {_md_line(error)}" + (":" if problems else "")]
    budget = max_length - sum(len(line) + 1 for line in lines) - 200
    ordered = sorted_problems(problems)
    for i, p in enumerate(ordered):
        line = _md_problem(p)
        budget -= len(line) + 1
        if budget < 0:
            lines.append(f"> - _{len(ordered) - i} more problem(s) not shown, to keep this comment under the size "
                         "limit; `deployer plan` prints them all._")
            break
        lines.append(line)
    return "\n".join(lines)


def _md_problem(p: Problem) -> str:
    where = p.file if p.line == 0 else f"{p.file}:{p.line}:{p.column}"
    located = ": ".join([_code(where)] + ([_code(p.path)] if p.path else []))
    return f"> - {located}: {'' if p.is_error else 'warning: '}{_md_line(p.message)}"


def _markdown_section(a: Action) -> str:
    symbol = SYMBOLS[a.action].strip()
    fields = list(dict.fromkeys(c.field for c in a.changes))
    label = "remove leftover copies" if a.action == "noop" else a.action
    summary = (f"<code>{html.escape(symbol)}</code> " if symbol else "") + f"<b>{html.escape(a.bot)}</b>: {label}"
    if fields and a.action != "create":  # a create sets every field: its table lists them
        summary += " (" + html.escape(", ".join(fields)) + ")"
    lines = [f"<details><summary>{summary}</summary>", ""]
    if a.changes and a.action == "create":  # the fields the new unit gets (before: nothing)
        lines.extend(["| Field | Value |", "| --- | --- |"])
        lines.extend(f"| {_code(c.field)} | {_md_value(c.after, c.field)} |" for c in a.changes)
        lines.append("")
    elif a.changes:
        lines.extend(["| Field | Before | After |", "| --- | --- | --- |"])
        for c in a.changes:
            for name, before, after, of in _change_rows(c):
                lines.append(f"| {_code(name)} | {_md_value(before, of)} | {_md_value(after, of)} |")
        lines.append("")
    if a.reasons:
        lines.extend(f"- {_md_line(r)}" for r in a.reasons)
        lines.append("")
    lines.extend(["</details>", ""])
    return "\n".join(lines)


def _change_rows(c: Any) -> list[tuple[str, Any, Any, str]]:
    """One row per change; for two mappings (env, labels, ...) one row per differing key. Each
    row: its name, before, after, and what the values are of ("healthcheck.interval")."""
    if isinstance(c.before, dict) and isinstance(c.after, dict):
        rows = []
        for k in sorted(set(c.before) | set(c.after), key=str):
            before, after = c.before.get(k, _ABSENT), c.after.get(k, _ABSENT)
            if before != after:
                rows.append((f"{c.field}[{json.dumps(k, ensure_ascii=False)}]", before, after, f"{c.field}.{k}"))
        if rows:
            return rows
    return [(c.field, c.before, c.after, c.field)]


def _md_value(v: Any, field: str = "") -> str:
    """JSON-encoded, but memory and durations in the manifest's units (64m, 1g; 10s, 1m30s)."""
    if v is _ABSENT:
        return "*(absent)*"
    if field == "memory" and isinstance(v, int) and not isinstance(v, bool):
        return _code(format_memory(v))
    shown = with_durations(v, field)
    if isinstance(shown, str) and not isinstance(v, str):  # one duration: as written, like memory
        return _code(shown)
    v = shown
    encoded = json.dumps(v, sort_keys=True, ensure_ascii=False, default=str)
    if len(encoded) > MARKDOWN_VALUE_LIMIT:
        encoded = encoded[:MARKDOWN_VALUE_LIMIT] + "\u2026"
    return _code(encoded)


def _code(text: str) -> str:
    """A table-safe code span: pipes escaped, newlines flattened, fenced by enough backticks."""
    text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    if not text:
        return ""
    run = longest = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_MD_SPECIAL = set("\\`*_[]<>|&~#")


def _md_text(text: str) -> str:
    """Plain text inside markdown: every character that could start markup is backslash-escaped."""
    out = "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)
    if out[:1] in ("-", "+", "=") or (out[:1].isdigit() and out.lstrip("0123456789")[:1] in (".", ")")):
        digits = len(out) - len(out.lstrip("0123456789"))
        out = out[:digits] + "\\" + out[digits:]
    return out


def _md_line(text: str) -> str:
    """Text for one list item or quote line: line breaks become spaces."""
    return _md_text(" ".join(text.splitlines()))


def _md_cell(text: str) -> str:
    """Text for one table cell: line breaks become <br>."""
    return "<br>".join(_md_text(line) for line in text.splitlines()) if text else ""


class MarkdownReporter(Reporter):
    """For a pull-request comment."""

    name = "markdown"

    def problems(self, problems: list[Problem], *, bots: int | None = None) -> str:
        return problems_markdown(sorted_problems(problems), problems_verdict(problems, bots))

    def plan(self, plan: Plan) -> str:
        return render_plan_markdown(plan)

    def unplanned(self, fleet: str, problems: list[Problem], error: str) -> str:
        return unplanned_markdown(fleet, problems, error)
