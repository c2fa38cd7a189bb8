"""Thin click commands: parse options, call the pieces, map DeployerError to one line and an exit code."""

from __future__ import annotations

import sys

import click

from . import __version__
from .problems import DeployerError

FORMATS_VALIDATE = ["text", "json"]


def _fail(message: str) -> "NoReturn":  # noqa: F821
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deployer")
def main() -> None:
    """Declarative deployer for fleets of OpenClaw chat bots on Docker.

    Manifests (apiVersion botmaker/v1, kind Bot / Fleet) live in git; validate them, plan
    the changes against the engine, and apply exactly that plan.
    """


_secrets_dir_option = click.option(
    "--secrets-dir", type=click.Path(), default=None,
    help="Host directory with one sub-directory of secret files per bot (overrides the Fleet's "
         "spec.secretsDir; also DEPLOYER_SECRETS_DIR).",
)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS_VALIDATE), default="text", show_default=True)
@click.option("--secrets", "check_secrets", is_flag=True,
              help="Also check every bot's secret files (paths, modes, owners, conflicts); needs no engine.")
@_secrets_dir_option
def validate(paths: tuple[str, ...], fmt: str, check_secrets: bool, secrets_dir: str | None) -> None:
    """Check manifests against the schemas and the semantic rules; report every problem.

    Exit 0 when there is no error (warnings allowed), 1 when there is any.
    """
    from .manifest import load_paths
    from .render import render_problems
    from .validation import validate_documents

    documents, load_problems = load_paths(list(paths))
    result = validate_documents(documents, load_problems)
    problems = list(result.problems)
    if check_secrets and result.fleet is not None:
        from .secrets import check_fleet_secrets

        options = _plan_options(result.fleet, secrets_dir)
        problems += check_fleet_secrets(result.fleet, options.secrets_dir, create_key=False).problems
    out = render_problems(problems, fmt, bots=len(result.fleet.bots) if result.fleet else None)
    if out:
        click.echo(out)
    sys.exit(1 if any(p.is_error for p in problems) else 0)


# --- shared steps -------------------------------------------------------------------------------

def _load_fleet(paths: tuple[str, ...]):  # -> FleetSpec
    from .manifest import load_paths
    from .render import render_problems
    from .validation import validate_documents

    documents, load_problems = load_paths(list(paths))
    result = validate_documents(documents, load_problems)
    if result.errors or result.fleet is None:
        click.echo(render_problems(result.problems, "text"), err=True)
        sys.exit(1)
    for w in result.warnings:
        click.echo(w.format(), err=True)
    return result.fleet


def _plan_options(fleet, secrets_dir: str | None, **kwargs):  # -> PlanOptions
    import os

    from .planner import PlanOptions

    chosen = secrets_dir or os.environ.get("DEPLOYER_SECRETS_DIR") or fleet.secrets_dir
    return PlanOptions(secrets_dir=chosen, **kwargs)


def _make_plan(paths: tuple[str, ...], secrets_dir: str | None, *, refresh: bool = False,
               parallelism: int = 8, **plan_kwargs):
    """Load, validate, observe, check secrets, plan. Nothing here changes a container."""
    import dataclasses

    from .engine import DockerEngine
    from .observe import gather
    from .planner import plan as make_plan
    from .secrets import check_fleet_secrets

    fleet = _load_fleet(paths)
    options = _plan_options(fleet, secrets_dir, **plan_kwargs)
    if options.adopt - {b.name for b in fleet.bots}:
        _fail(f"--adopt names bots that no manifest declares: {', '.join(sorted(options.adopt - {b.name for b in fleet.bots}))}")
    engine = DockerEngine(max_pool_size=max(16, parallelism * 2))
    observed = gather(engine, fleet, options, refresh=refresh, parallelism=parallelism)
    secrets = check_fleet_secrets(fleet, options.secrets_dir, image_users=observed.image_users)
    _report_secret_problems(secrets.problems)
    options = dataclasses.replace(options, secret_fingerprints=secrets.fingerprints)
    return fleet, options, engine, make_plan(fleet, observed, options)


def _report_secret_problems(problems) -> None:  # type: ignore[no-untyped-def]
    for p in problems:
        click.echo(p.format(), err=True)
    errors = sum(1 for p in problems if p.is_error)
    if errors:
        _fail(f"{errors} secret problem(s) above; nothing was changed")


def _prune_options(f):  # type: ignore[no-untyped-def]
    for option in reversed([
        click.option("--prune", is_flag=True,
                     help="Remove orphan containers of this fleet (last, and only if everything else succeeded)."),
        click.option("--allow-empty", is_flag=True, help="Allow --prune with a manifest set of zero bots."),
        click.option("--max-removals", type=click.IntRange(0), default=None,
                     help="Refuse a plan that would remove more than N containers."),
        click.option("--adopt", "adopt", multiple=True, metavar="BOT",
                     help="Take over the container holding botmaker-BOT that no fleet manages (replaced by ours)."),
    ]):
        f = option(f)
    return f


def _prune_kwargs(prune: bool, allow_empty: bool, max_removals: int | None, adopt: tuple[str, ...]) -> dict:
    return dict(prune=prune, allow_empty=allow_empty, max_removals=max_removals, adopt=frozenset(adopt))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes, 0 when none.")
@click.option("--refresh", is_flag=True, help="Inspect every container and compare its real configuration (drift).")
@_prune_options
@_secrets_dir_option
def plan(paths: tuple[str, ...], fmt: str, detailed_exitcode: bool, refresh: bool, prune: bool, allow_empty: bool,
         max_removals: int | None, adopt: tuple[str, ...], secrets_dir: str | None) -> None:
    """Show what apply would change on the engine, field by field. Changes nothing."""
    from .render import render_plan

    try:
        _, _, _, the_plan = _make_plan(paths, secrets_dir, refresh=refresh,
                                       **_prune_kwargs(prune, allow_empty, max_removals, adopt))
    except DeployerError as exc:
        _fail(str(exc))
    click.echo(render_plan(the_plan, fmt))
    if the_plan.errors:
        sys.exit(1)
    sys.exit(2 if detailed_exitcode and the_plan.has_changes else 0)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--yes", "-y", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=4, show_default=True,
              help="How many bots are changed at once.")
@click.option("--wait-timeout", type=click.FloatRange(1, 3600), default=60, show_default=True,
              help="Seconds to wait for a started container to run (and be healthy).")
@click.option("--stop-timeout", type=click.IntRange(0, 3600), default=10, show_default=True,
              help="Seconds a container gets to stop gracefully before it is killed.")
@click.option("--refresh", is_flag=True, help="Inspect every container first and repair drift.")
@_prune_options
@_secrets_dir_option
def apply(paths: tuple[str, ...], yes: bool, parallelism: int, wait_timeout: float, stop_timeout: int,
          refresh: bool, prune: bool, allow_empty: bool, max_removals: int | None, adopt: tuple[str, ...],
          secrets_dir: str | None) -> None:
    """Converge the engine to the manifests: compute the plan, show it, confirm, execute it."""
    from .applier import Applier, ApplyOptions
    from .render import render_plan

    try:
        _, options, engine, the_plan = _make_plan(paths, secrets_dir, refresh=refresh, parallelism=parallelism,
                                                  **_prune_kwargs(prune, allow_empty, max_removals, adopt))
    except DeployerError as exc:
        _fail(str(exc))
    click.echo(render_plan(the_plan, "text"))
    if the_plan.errors:
        _fail("the plan has errors (above); nothing was changed")
    if not the_plan.has_changes:
        sys.exit(0)
    if not yes:
        if not sys.stdin.isatty():
            _fail("refusing to apply without confirmation: no terminal to ask on; pass --yes to apply non-interactively")
        if not click.confirm("Apply this plan?", default=False):
            click.echo("Apply cancelled; nothing was changed.")
            sys.exit(1)

    def progress(bot: str, event: str, message: str) -> None:
        mark = {"start": "...", "done": "ok ", "fail": "ERR", "skip": "--"}.get(event, "   ")
        click.echo(f"[{mark}] {bot}: {message}")

    applier = Applier(engine, the_plan.fleet, ApplyOptions(
        parallelism=parallelism, wait_timeout=wait_timeout, stop_timeout=stop_timeout, plan_options=options,
    ), progress)
    report = applier.apply(the_plan)
    click.echo("")
    for r in report.results:
        status = "ok" if r.ok else ("rolled back" if r.rolled_back else "FAILED")
        click.echo(f"  {r.bot:<30} {r.action:<8} {status:<12} {r.seconds:6.1f}s  {r.message if not r.ok else ''}".rstrip())
    for bot in report.skipped:
        click.echo(f"  {bot:<30} remove   skipped      (an earlier change failed; nothing pruned)")
    failed = len(report.failed)
    click.echo(f"\nApply finished: {len(report.results) - failed} succeeded, {failed} failed"
               + (f", {len(report.skipped)} skipped" if report.skipped else "") + ".")
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_secrets_dir_option
def drift(paths: tuple[str, ...], fmt: str, secrets_dir: str | None) -> None:
    """Inspect every container of the fleet and report where the engine differs from the manifests.

    Exit 0 when there is no drift, 2 when there is, 1 on error. Meant for a scheduled CI job;
    `apply --refresh` repairs what it finds.
    """
    from .render import render_drift

    try:
        _, _, _, the_plan = _make_plan(paths, secrets_dir, refresh=True)
    except DeployerError as exc:
        _fail(str(exc))
    click.echo(render_drift(the_plan, fmt))
    if the_plan.errors:
        sys.exit(1)
    sys.exit(2 if the_plan.has_changes else 0)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_secrets_dir_option
def status(paths: tuple[str, ...], fmt: str, secrets_dir: str | None) -> None:
    """Show each bot: desired and actual state, health, image, start time, restarts, in sync or not."""
    from .status import collect_status, render_status

    try:
        fleet = _load_fleet(paths)
        rows = collect_status(fleet, _plan_options(fleet, secrets_dir))
    except DeployerError as exc:
        _fail(str(exc))
    click.echo(render_status(fleet.name, rows, fmt))
