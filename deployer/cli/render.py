"""Rendering of problems, plans, drift and status: text, json, markdown, GitHub workflow commands.

One registry, REPORTERS: a format name -> a Reporter class that renders the kinds of report it
knows (a method per kind: problems, plan, drift, status). The CLI takes its --format choices from
`formats(kind)`, and `render_problems` / `render_plan` / `render_drift` / `render_status` are the
front doors that look the format up. Pure functions of values (apart from `use_color`, which looks
at the environment and a stream).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from typing import IO, TYPE_CHECKING, Any, ClassVar

import click

from deployer.core.model import Action, Method, Plan
from deployer.core.problems import Problem
from deployer.plan.document import PLAN_FORMAT_VERSION, plan_document

if TYPE_CHECKING:  # status.py talks to the engine; the reporters only read its data
    from deployer.flows.status import StatusReport


def _sorted_problems(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file, p.line, p.column, p.path, p.message))


def _problems_text(problems: list[Problem], bots: int | None) -> str:
    lines = [p.format() for p in _sorted_problems(problems)]
    lines.append(_problems_verdict(problems, bots))
    return "\n".join(lines)


def _problems_json(problems: list[Problem]) -> str:
    return json.dumps([p.as_dict() for p in _sorted_problems(problems)], indent=2)


def _problems_github(problems: list[Problem], bots: int | None) -> str:
    return "\n".join([_problem_github(p) for p in _sorted_problems(problems)] + [_problems_verdict(problems, bots)])


def _problems_verdict(problems: list[Problem], bots: int | None) -> str:
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    if errors:
        return f"{errors} error(s), {warnings} warning(s)"
    count = f"{bots} bot(s) valid" if bots is not None else "valid"
    return f"{count}, {warnings} warning(s)"


def _problem_github(p: Problem) -> str:
    """`::error file=F,line=L,col=C,title=$.path::message`; line/col left out for file-level problems."""
    props = [("file", p.file)]
    if p.line > 0:
        props.append(("line", str(p.line)))
        if p.column > 0:
            props.append(("col", str(p.column)))
    if p.path:
        props.append(("title", p.path))
    return github_command("error" if p.is_error else "warning", p.message, props)


def _problems_markdown(ordered: list[Problem], verdict: str) -> str:
    if not ordered:
        return f"**{_md_text(verdict)}**"
    lines = ["| Location | Path | Severity | Message |", "| --- | --- | --- | --- |"]
    for p in ordered:
        where = p.file if p.line == 0 else f"{p.file}:{p.line}:{p.column}"
        path = _code(p.path) if p.path else ""
        lines.append(f"| {_code(where)} | {path} | {_md_text(p.severity)} | {_md_cell(p.message)} |")
    lines.extend(["", f"**{_md_text(verdict)}**"])
    return "\n".join(lines)


# --- plans --------------------------------------------------------------------------------------

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


def _value(v: object) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return json.dumps(v) if isinstance(v, str) else str(v)


def _plan_json(plan: Plan) -> str:
    return json.dumps(plan_document(plan), indent=2, sort_keys=False)


def _plan_text(plan: Plan, color: bool) -> str:
    """The plan for people. With color, the symbol and the bot line are styled with ANSI codes;
    without, the output is plain and unchanged."""
    style: Callable[..., str] = click.style if color else _no_style
    lines: list[str] = []
    for a in plan.actions:
        if a.action == "noop" and not a.leftovers:
            continue
        symbol = SYMBOLS[a.action]
        pad = " " * (3 - len(symbol))
        lines.append(f"  {pad}{_styled_symbol(a.action, style)} "
                     + style(f"bot {a.bot} {verb(a)}", **_LINE_STYLES[a.action]))
        for reason in a.reasons:
            lines.append(f"        # {reason}")
        for c in a.changes:
            forces = "  # forces replacement" if c.forces_replacement else ""
            lines.append(f"        {c.field}: {_diff_value(c.before, c.after)}{forces}")
        lines.append("")
    for err in plan.errors:
        lines.append(style(f"  ! {err}", fg="red", bold=True))
    if plan.errors:
        lines.append("")
    s = plan.summary()
    if not plan.has_changes and not plan.errors:
        lines.append(f"No changes. Fleet {plan.fleet} matches its manifests.")
    lines.append(_summary_line(plan))
    if s["remove"]:
        lines.append("Removals run last, and only if every other change succeeds; volumes and secrets are kept.")
    if s["orphans"]:
        lines.append(f"{s['orphans']} orphan container(s) of fleet {plan.fleet} listed above; --prune removes them.")
    if plan.foreign_managed_count:
        lines.append(f"{plan.foreign_managed_count} managed container(s) of other fleets or tools seen and left alone.")
    return "\n".join(lines)


def _summary_line(plan: Plan) -> str:
    s = plan.summary()
    return (
        f"Plan: {s['create']} to create, {s['replace']} to replace, {s['update']} to update, "
        f"{s['start']} to start, {s['stop']} to stop"
        + (f", {s['remove']} to remove" if s["remove"] else "")
        + "."
    )


# --- colour -------------------------------------------------------------------------------------

_LINE_STYLES: dict[str, dict[str, Any]] = {
    "create": {"fg": "green"},
    "replace": {"fg": "yellow", "bold": True},
    "update": {"fg": "yellow"},
    "start": {"fg": "cyan"},
    "stop": {"fg": "cyan"},
    "remove": {"fg": "red", "bold": True},
    "orphan": {"fg": "magenta"},
    "noop": {"dim": True},
}


def _no_style(text: str, **_: Any) -> str:
    return text


def _styled_symbol(action: str, style: Callable[..., str]) -> str:
    if action == "replace":  # -/+ : the old container goes (red), a new one comes (green)
        return style("-", fg="red", bold=True) + style("/", fg="yellow") + style("+", fg="green", bold=True)
    return style(SYMBOLS[action], **{**_LINE_STYLES[action], "bold": action != "noop"})


def use_color(no_color_flag: bool, stream: IO[Any] | None) -> bool:
    """Whether to colour output written to `stream`.

    No when --no-color is given, when NO_COLOR is set to any non-empty value (no-color.org),
    when TERM is "dumb", or when the stream is not a terminal.
    """
    if no_color_flag or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    if isatty is None:
        return False
    try:
        return bool(isatty())
    except (ValueError, OSError):  # closed or detached stream
        return False


def _diff_value(before: object, after: object) -> str:
    if isinstance(before, dict) and isinstance(after, dict):
        parts = []
        for k in sorted(set(before) | set(after)):
            if before.get(k) != after.get(k):
                parts.append(f"{k}: {_value(before.get(k))} -> {_value(after.get(k))}")
        return "{ " + "; ".join(parts) + " }"
    return f"{_value(before)} -> {_value(after)}"


def _drifted(plan: Plan) -> list[Action]:
    return [a for a in plan.actions if a.mutates]


def _drift_json(plan: Plan) -> str:
    return json.dumps({
        "format_version": PLAN_FORMAT_VERSION,
        "fleet": plan.fleet,
        "drifted": [
            {"bot": a.bot, "repair": a.action, "reasons": list(a.reasons),
             "fields": [{"field": c.field, "desired": c.after, "actual": c.before} for c in a.changes]}
            for a in _drifted(plan)
        ],
        "errors": list(plan.errors),
    }, indent=2)


def _drift_text(plan: Plan) -> str:
    """Every field where the engine differs from the manifests, desired vs actual."""
    drifted = _drifted(plan)
    lines = []
    for a in drifted:
        repair = "remove the extra copies" if a.action == "noop" else a.action
        lines.append(f"bot {a.bot}: drifted (apply will {repair})")
        for reason in a.reasons:
            lines.append(f"    # {reason}")
        for c in a.changes:
            lines.append(f"    {c.field}: desired {_value(c.after)}, actual {_value(c.before)}")
    lines.extend(f"! {e}" for e in plan.errors)
    lines.append(f"Drift: {len(drifted)} bot(s) of fleet {plan.fleet} differ from their manifests."
                 if drifted else f"No drift: fleet {plan.fleet} matches its manifests.")
    return "\n".join(lines)


# --- status ---------------------------------------------------------------------------------------

def _status_json(report: StatusReport) -> str:
    doc: dict[str, Any] = {"fleet": report.fleet, "last_apply": report.last_apply,
                           # node: only where the backend spreads units over machines (swarm)
                           "bots": [{k: v for k, v in asdict(r).items() if k != "node" or v} for r in report.rows]}
    if report.engine:
        doc["engine"] = report.engine
    return json.dumps(doc, indent=2)


def _status_text(report: StatusReport) -> str:
    header: tuple[str, ...] = ("BOT", "DESIRED", "ACTUAL", "HEALTH", "RESTARTS", "STARTED", "REVISION", "SYNC",
                               "IMAGE")
    table: list[tuple[str, ...]] = [header] + [
        (r.bot, r.desired_state, r.actual_state, r.health, str(r.restart_count), r.started_at, r.revision,
         "in sync" if r.in_sync else f"pending {r.pending}", r.image)
        for r in report.rows
    ]
    if any(r.node for r in report.rows):  # a swarm: on which node each bot's task runs
        table = [row[:3] + ("NODE" if i == 0 else report.rows[i - 1].node or "-",) + row[3:]
                 for i, row in enumerate(table)]
        header = table[0]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [f"Fleet {report.fleet}:"] + ([f"  engine: {report.engine}"] if report.engine else [])
    record = report.last_apply
    if record:
        lines.append(f"  last apply: revision {record['revision'] or '-'} at {record['applied_at']} by "
                     f"{record['applied_by']}: {record['result']}")
    else:
        lines.append("  last apply: none recorded")
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    return "\n".join(lines)


# --- plans for pull requests: markdown and GitHub workflow commands ------------------------------

MARKDOWN_VALUE_LIMIT = 200  # characters of a JSON-encoded value shown in a table cell
MARKDOWN_MAX_LENGTH = 60000  # GitHub refuses comments over 65536 characters
_ABSENT = object()


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
        head.append(f"**No changes.** Fleet {_code(plan.fleet)} matches its manifests.")
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


def _markdown_section(a: Action) -> str:
    symbol = SYMBOLS[a.action].strip()
    fields = list(dict.fromkeys(c.field for c in a.changes))
    label = "remove leftover copies" if a.action == "noop" else a.action
    summary = (f"<code>{html.escape(symbol)}</code> " if symbol else "") + f"<b>{html.escape(a.bot)}</b>: {label}"
    if fields:
        summary += " (" + html.escape(", ".join(fields)) + ")"
    lines = [f"<details><summary>{summary}</summary>", ""]
    if a.changes:
        lines.extend(["| Field | Before | After |", "| --- | --- | --- |"])
        for c in a.changes:
            for name, before, after in _change_rows(c):
                lines.append(f"| {_code(name)} | {_md_value(before)} | {_md_value(after)} |")
        lines.append("")
    if a.reasons:
        lines.extend(f"- {_md_line(r)}" for r in a.reasons)
        lines.append("")
    lines.extend(["</details>", ""])
    return "\n".join(lines)


def _change_rows(c: Any) -> list[tuple[str, Any, Any]]:
    """One row per change; for two mappings (env, labels, ...) one row per differing key."""
    if isinstance(c.before, dict) and isinstance(c.after, dict):
        rows = []
        for k in sorted(set(c.before) | set(c.after), key=str):
            before, after = c.before.get(k, _ABSENT), c.after.get(k, _ABSENT)
            if before != after:
                rows.append((f"{c.field}[{json.dumps(k, ensure_ascii=False)}]", before, after))
        if rows:
            return rows
    return [(c.field, c.before, c.after)]


def _md_value(v: Any) -> str:
    if v is _ABSENT:
        return "*(absent)*"
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


def github_escape_data(text: str) -> str:
    """A workflow command's message: % CR LF encoded, as the Actions runner decodes them."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_escape_property(text: str) -> str:
    """A workflow command's property value: like the message, and also : and ,."""
    return github_escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_command(command: str, message: str, properties: list[tuple[str, str]] | None = None) -> str:
    props = ",".join(f"{k}={github_escape_property(v)}" for k, v in (properties or []))
    return f"::{command}{' ' + props if props else ''}::{github_escape_data(message)}"


def render_plan_github(plan: Plan, manifest_files: dict[str, str] | None = None) -> str:
    """The plan as GitHub Actions workflow commands, then the plain summary line.

    One ::notice per changed bot (on its manifest file when known: Action.desired.source_file,
    else `manifest_files[bot]`), ::warning for orphans and removals, ::error for plan errors.
    """
    lines: list[str] = []
    for a in plan.actions:
        if a.action == "noop" and not a.leftovers:
            continue
        source = (a.desired.source_file if a.desired is not None else "") or (manifest_files or {}).get(a.bot, "")
        level = "warning" if a.action in ("orphan", "remove") else "notice"
        label = "remove leftover copies" if a.action == "noop" else a.action
        message = f"bot {a.bot}: {label}" + (f" ({'; '.join(a.reasons)})" if a.reasons else "")
        lines.append(github_command(level, message, [("file", source)] if source else None))
    for err in plan.errors:
        lines.append(github_command("error", err))
    lines.append(_summary_line(plan))
    return "\n".join(lines)


# --- the registry -------------------------------------------------------------------------------

KINDS = ("problems", "plan", "drift", "status")


class UnknownFormat(ValueError):
    pass


class Reporter:
    """One output format. A subclass renders a kind of report by overriding its method; the kinds
    it leaves alone are not offered in that format (see `formats`)."""

    name: ClassVar[str]

    def __init__(self, *, color: bool = False) -> None:
        self.color = color  # only the text format styles anything

    def problems(self, problems: list[Problem], *, bots: int | None = None) -> str:
        raise UnknownFormat(f"format {self.name} does not render problems")

    def plan(self, plan: Plan) -> str:
        raise UnknownFormat(f"format {self.name} does not render plans")

    def drift(self, plan: Plan) -> str:
        raise UnknownFormat(f"format {self.name} does not render drift")

    def status(self, report: StatusReport) -> str:
        raise UnknownFormat(f"format {self.name} does not render status")

    @classmethod
    def renders(cls, kind: str) -> bool:
        if kind not in KINDS:
            raise ValueError(f"unknown kind of report {kind!r}; one of {', '.join(KINDS)}")
        return getattr(cls, kind) is not getattr(Reporter, kind)


class TextReporter(Reporter):
    """For people at a terminal: the default."""

    name = "text"

    def problems(self, problems: list[Problem], *, bots: int | None = None) -> str:
        return _problems_text(problems, bots)

    def plan(self, plan: Plan) -> str:
        return _plan_text(plan, self.color)

    def drift(self, plan: Plan) -> str:
        return _drift_text(plan)

    def status(self, report: StatusReport) -> str:
        return _status_text(report)


class JsonReporter(Reporter):
    """For programs: stable documents (the plan's is versioned, schemas/plan.schema.json)."""

    name = "json"

    def problems(self, problems: list[Problem], *, bots: int | None = None) -> str:
        return _problems_json(problems)

    def plan(self, plan: Plan) -> str:
        return _plan_json(plan)

    def drift(self, plan: Plan) -> str:
        return _drift_json(plan)

    def status(self, report: StatusReport) -> str:
        return _status_json(report)


class MarkdownReporter(Reporter):
    """For a pull-request comment."""

    name = "markdown"

    def problems(self, problems: list[Problem], *, bots: int | None = None) -> str:
        return _problems_markdown(_sorted_problems(problems), _problems_verdict(problems, bots))

    def plan(self, plan: Plan) -> str:
        return render_plan_markdown(plan)


class GithubReporter(Reporter):
    """GitHub Actions workflow commands (annotations on the manifests), then the plain verdict."""

    name = "github"

    def problems(self, problems: list[Problem], *, bots: int | None = None) -> str:
        return _problems_github(problems, bots)

    def plan(self, plan: Plan) -> str:
        return render_plan_github(plan)


REPORTERS: dict[str, type[Reporter]] = {
    cls.name: cls for cls in (TextReporter, JsonReporter, MarkdownReporter, GithubReporter)
}


def formats(kind: str) -> list[str]:
    """The format names that render `kind`, in registry order (text first: the default)."""
    return [name for name, cls in REPORTERS.items() if cls.renders(kind)]


def reporter(fmt: str, *, color: bool = False) -> Reporter:
    try:
        cls = REPORTERS[fmt]
    except KeyError:
        raise UnknownFormat(f"unknown format {fmt!r}; one of {', '.join(REPORTERS)}") from None
    return cls(color=color)


def render_problems(problems: list[Problem], fmt: str, *, bots: int | None = None) -> str:
    return reporter(fmt).problems(problems, bots=bots)


def render_plan(plan: Plan, fmt: str = "text", color: bool = False) -> str:
    """The plan as text (for people; with color, styled with ANSI codes), json (plan_document),
    markdown or github."""
    return reporter(fmt, color=color).plan(plan)


def render_drift(plan: Plan, fmt: str = "text") -> str:
    """Drift report: every field where the engine differs from the manifests, desired vs actual."""
    return reporter(fmt).drift(plan)


def render_status(report: StatusReport, fmt: str = "text") -> str:
    return reporter(fmt).status(report)
