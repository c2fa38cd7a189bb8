"""The github format: GitHub Actions workflow commands (annotations on the manifests), then the
plain verdict or summary line."""

from __future__ import annotations

from deployer.cli.render.base import Reporter
from deployer.cli.render.common import problems_verdict, sorted_problems, summary_line
from deployer.core.model import Plan
from deployer.core.problems import Problem


def github_escape_data(text: str) -> str:
    """A workflow command's message: % CR LF encoded, as the Actions runner decodes them."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_escape_property(text: str) -> str:
    """A workflow command's property value: like the message, and also : and ,."""
    return github_escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_command(command: str, message: str, properties: list[tuple[str, str]] | None = None) -> str:
    props = ",".join(f"{k}={github_escape_property(v)}" for k, v in (properties or []))
    return f"::{command}{' ' + props if props else ''}::{github_escape_data(message)}"


def problems_github(problems: list[Problem], bots: int | None) -> str:
    return "\n".join([_problem_github(p) for p in sorted_problems(problems)] + [problems_verdict(problems, bots)])


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
    lines.append(summary_line(plan))
    return "\n".join(lines)


def unplanned_github(problems: list[Problem], error: str) -> str:
    """An annotation per problem (on its manifest line) then the verdict; or one for the error alone."""
    if not problems:
        return "\n".join([github_command("error", error), "No plan."])
    return "\n".join([*(_problem_github(p) for p in sorted_problems(problems)), f"No plan: {error}"])


class GithubReporter(Reporter):
    """GitHub Actions workflow commands (annotations on the manifests), then the plain verdict."""

    name = "github"

    def problems(self, problems: list[Problem], *, bots: int | None = None) -> str:
        return problems_github(problems, bots)

    def plan(self, plan: Plan) -> str:
        return render_plan_github(plan)

    def unplanned(self, fleet: str, problems: list[Problem], error: str) -> str:
        return unplanned_github(problems, error)
