"""The text format, for people at a terminal (the default): problems, plans (optionally coloured),
drift and status."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

import click

from deployer.cli.render.base import Reporter
from deployer.cli.render.common import (
    SYMBOLS,
    drifted,
    no_changes_line,
    problems_verdict,
    sorted_problems,
    summary_line,
    value,
    verb,
)
from deployer.core.model import OUTCOMES, Method, Plan
from deployer.core.problems import Problem

if TYPE_CHECKING:  # flows/status.py talks to the engine; the reporters only read its data
    from deployer.flows.status import StatusReport
    from deployer.runtime.history import Entry


def problems_text(problems: list[Problem], bots: int | None) -> str:
    lines = [p.format() for p in sorted_problems(problems)]
    lines.append(problems_verdict(problems, bots))
    return "\n".join(lines)


# --- plans --------------------------------------------------------------------------------------

def plan_text(plan: Plan, color: bool) -> str:
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
            if a.action == "create":  # the fields the new unit gets (before: nothing)
                lines.append(f"        {c.field}: {value(c.after, c.field)}")
                continue
            forces = "  # forces replacement" if c.forces_replacement else ""
            lines.append(f"        {c.field}: {_diff_value(c.field, c.before, c.after)}{forces}")
        lines.append("")
    for err in plan.errors:
        lines.append(style(f"  ! {err}", fg="red", bold=True))
    if plan.errors:
        lines.append("")
    s = plan.summary()
    if not plan.has_changes and not plan.errors:
        lines.append(no_changes_line(plan))
    lines.append(summary_line(plan))
    if s["remove"]:
        lines.append("Removals run last, and only if every other change succeeds; volumes and secrets are kept.")
    if s["orphans"]:
        lines.append(f"{s['orphans']} orphan container(s) of fleet {plan.fleet} listed above; --prune removes them.")
    if plan.foreign_managed_count:
        lines.append(f"{plan.foreign_managed_count} managed container(s) of other fleets or tools seen and left alone.")
    return "\n".join(lines)


def _diff_value(field: str, before: object, after: object) -> str:
    if isinstance(before, dict) and isinstance(after, dict):
        parts = []
        for k in sorted(set(before) | set(after)):
            if before.get(k) != after.get(k):
                parts.append(f"{k}: {value(before.get(k), f'{field}.{k}')} -> {value(after.get(k), f'{field}.{k}')}")
        return "{ " + "; ".join(parts) + " }"
    return f"{value(before, field)} -> {value(after, field)}"


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


# --- drift --------------------------------------------------------------------------------------

def drift_text(plan: Plan) -> str:
    """Every field where the engine differs from the manifests, desired vs actual."""
    found = drifted(plan)
    lines = []
    for a in found:
        if a.action == "orphan":
            lines.append(f"bot {a.bot}: drifted (an orphan: apply --prune removes it)")
        else:
            repair = ("remove the extra copies" if a.action == "noop"
                      else "unpause" if a.method is Method.UNPAUSE else a.action)
            lines.append(f"bot {a.bot}: drifted (apply will {repair})")
        for reason in a.reasons:
            lines.append(f"    # {reason}")
        for c in a.changes:
            lines.append(f"    {c.field}: desired {value(c.after, c.field)}, actual {value(c.before, c.field)}")
    lines.extend(f"! {e}" for e in plan.errors)
    lines.append(f"Drift: {len(found)} bot(s) of fleet {plan.fleet} differ from their manifests."
                 if found else f"No drift: fleet {plan.fleet} matches its manifests.")
    return "\n".join(lines)


# --- status -------------------------------------------------------------------------------------

def status_text(report: StatusReport) -> str:
    header: tuple[str, ...] = ("BOT", "DESIRED", "ACTUAL", "HEALTH", "RESTARTS", "STARTED", "REVISION", "SYNC",
                               "IMAGE")
    table: list[tuple[str, ...]] = [header] + [
        (r.bot, r.desired_state, r.actual_state, r.health or "-", str(r.restart_count), _started(r.started_at),
         r.revision or "-", "in sync" if r.in_sync else f"pending {r.pending}", r.image or "-")
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


def _started(stamp: str | None) -> str:
    """2026-01-01T00:00:00Z (UTC) as 2026-01-01 00:00:00 in the table."""
    return stamp.replace("T", " ").removesuffix("Z") if stamp else "-"


NAMES_SHOWN = 10  # per kind of change in `history`'s text; the rest are counted ("+N more")


def history_text(fleet: str, entries: list[Entry], bots: bool) -> str:
    """`deployer history`: per entry its line, its result and what it changed (at most NAMES_SHOWN
    names per kind); the per-bot record (spec hash, image ID) only with bots=True."""
    if not entries:
        return f"fleet {fleet} has no recorded applies"
    lines = []
    for e in entries:
        what = f"rollback to #{e.rollback_to}" if e.kind == "rollback" else "apply"
        lines.append(f"#{e.seq}  {e.applied_at}  {what}  revision {e.revision}  by {e.applied_by}"
                     + (f"  ({e.ci_job})" if e.ci_job else ""))
        lines.append(f"    result: {e.result}" + ("" if e.restorable else "  [specs not recorded: cannot roll back]"))
        lines += [f"    {line}" for line in change_lines(e)]
        if bots:
            lines.append(f"    bots ({len(e.bots)}):")
            for name, b in sorted(e.bots.items()):
                image = (b.spec or {}).get("image", "?")
                image = "image pinned by a rollback" if image.startswith("sha256:") else image
                lines.append(f"      {name:<30} {b.state:<8} {b.spec_hash:<36} {image} "
                             f"({b.image_id.split(':', 1)[-1][:12]})")
    if not bots:
        lines.append(f"(each bot's spec hash and image ID: deployer history {fleet} --entry N, or --bots)")
    return "\n".join(lines)


def change_lines(e: Entry) -> list[str]:
    """What an entry changed, one line per kind, in OUTCOMES order: 'replaced 2: a, b'."""
    if e.changes is None:  # written before entries kept it: the plan's counts are all there is
        planned = ", ".join(f"{n} {kind}" for kind, n in e.summary.items() if n)
        return [f"planned: {planned or 'nothing'} (which bots changed was not recorded)"]
    by_outcome: dict[str, list[str]] = {}
    for bot, outcome in sorted(e.changes.items()):
        by_outcome.setdefault(outcome, []).append(bot)
    order = list(OUTCOMES) + sorted(set(by_outcome) - set(OUTCOMES))
    lines = []
    for outcome in order:
        names = by_outcome.get(outcome)
        if not names:
            continue
        shown = ", ".join(names[:NAMES_SHOWN])
        more = f" +{len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
        lines.append(f"{outcome} {len(names)}: {shown}{more}")
    return lines or ["changed: nothing"]


class TextReporter(Reporter):
    """For people at a terminal: the default."""

    name = "text"

    def problems(self, problems: list[Problem], *, bots: int | None = None) -> str:
        return problems_text(problems, bots)

    def plan(self, plan: Plan) -> str:
        return plan_text(plan, self.color)

    def drift(self, plan: Plan) -> str:
        return drift_text(plan)

    def status(self, report: StatusReport) -> str:
        return status_text(report)

    def history(self, fleet: str, entries: list[Entry], *, bots: bool = False) -> str:
        return history_text(fleet, entries, bots)
