"""Rendering of problems, plans, drift and status: text, json, markdown, GitHub workflow commands.

One registry, REPORTERS: a format name -> a Reporter class that renders the kinds of report it
knows (a method per kind: problems, plan, drift, status, history). One module per format (text, json,
markdown, github); `base` holds the Reporter contract, `common` what several formats share. The
CLI takes its --format choices from `formats(kind)`, and `render_problems` / `render_plan` /
`render_drift` / `render_status` / `render_history` are the front doors that look the format up. Pure functions of
values (apart from `use_color`, which looks at the environment and a stream).

A new format is a module with a Reporter subclass, added to REPORTERS below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deployer.cli.render.base import KINDS, Reporter, UnknownFormat
from deployer.cli.render.common import SYMBOLS, VERBS, verb
from deployer.cli.render.github import (
    GithubReporter,
    github_command,
    github_escape_data,
    github_escape_property,
    render_plan_github,
)
from deployer.cli.render.json import JsonReporter
from deployer.cli.render.markdown import (
    MARKDOWN_MAX_LENGTH,
    MARKDOWN_VALUE_LIMIT,
    MarkdownReporter,
    render_plan_markdown,
)
from deployer.cli.render.text import TextReporter, use_color
from deployer.core.model import Plan
from deployer.core.problems import Problem
from deployer.plan.document import PLAN_FORMAT_VERSION, plan_document

if TYPE_CHECKING:  # flows/status.py talks to the engine; the reporters only read its data
    from deployer.flows.status import StatusReport
    from deployer.runtime.history import Entry

__all__ = [
    "KINDS", "MARKDOWN_MAX_LENGTH", "MARKDOWN_VALUE_LIMIT", "PLAN_FORMAT_VERSION", "REPORTERS", "SYMBOLS", "VERBS",
    "GithubReporter", "JsonReporter", "MarkdownReporter", "Reporter", "TextReporter", "UnknownFormat",
    "formats", "github_command", "github_escape_data", "github_escape_property", "plan_document", "render_drift",
    "render_history", "render_plan", "render_plan_github", "render_plan_markdown", "render_problems", "render_status", "render_unplanned", "reporter",
    "use_color", "verb",
]

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


def render_unplanned(fleet: str, problems: list[Problem], error: str, fmt: str) -> str | None:
    """A plan that could not be made, in the plan's format (None: text, where stderr says it all)."""
    return reporter(fmt).unplanned(fleet, problems, error)


def render_drift(plan: Plan, fmt: str = "text") -> str:
    """Drift report: every field where the engine differs from the manifests, desired vs actual."""
    return reporter(fmt).drift(plan)


def render_status(report: StatusReport, fmt: str = "text") -> str:
    return reporter(fmt).status(report)


def render_history(fleet: str, entries: list[Entry], fmt: str = "text", *, bots: bool = False) -> str:
    return reporter(fmt).history(fleet, entries, bots=bots)
