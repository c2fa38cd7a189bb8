"""The commands that compare the manifests with the engine and change nothing: plan, drift, status.
They take no lock; plan may save what it found for `apply --plan`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import click

from deployer.cli import options
from deployer.cli.exits import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, fail, handle_errors
from deployer.cli.options import Pruning
from deployer.cli.shared import engine_line, load, plan_settings, prepare, render_plan, wants_color
from deployer.errors import DeployerError, InvalidManifests, InvalidSecrets


@click.command()
@options.paths_argument
@options.format_option("plan")
@options.out_option
@options.detailed_exitcode_option
@options.refresh_option
@options.prune_options("the manifests")
@options.adopt_option
@options.secrets_dir_option
@options.no_preflight_option
@options.global_options
def plan(paths: tuple[str, ...], fmt: str, out_file: str | None, detailed_exitcode: bool, refresh: bool,
         pruning: Pruning, adopt: tuple[str, ...], secrets_dir: str | None, no_preflight: bool) -> None:
    """Show what apply would change on the engine, field by field. Changes no bot, takes no lock
    (the preflight runs throwaway containers of the bots' images, offline)."""
    if out_file:
        _check_writable(out_file)  # before the plan, which can take minutes
    settings = plan_settings(secrets_dir, pruning, adopt=adopt, refresh=refresh, preflight=not no_preflight)
    fleet = load(list(paths), unplanned(fmt, ""))
    say = unplanned(fmt, fleet.name)
    prepared, engine = handle_errors(lambda: prepare(list(paths), settings, fleet=fleet, on_error=say), say)
    if fmt == "text":
        click.echo(engine_line(engine))
    click.echo(render_plan(prepared.plan, fmt, wants_color()))
    if prepared.plan.errors:
        sys.exit(EXIT_ERROR)
    if out_file:
        from deployer.flows.planfile import write_plan_file

        try:
            write_plan_file(out_file, paths=list(paths), fleet=prepared.fleet, observed=prepared.observed,
                            options=prepared.options, refresh=refresh, plan=prepared.plan)
        except OSError as exc:
            fail(f"cannot write plan file {out_file}: {exc.strerror or exc}")
        click.echo(f"Saved the plan to {out_file}; apply exactly it with: deployer apply --plan {out_file}", err=True)
    # 2: changes, or an orphan running (drift that only --prune removes)
    sys.exit(EXIT_CHANGES if detailed_exitcode and not prepared.plan.in_sync else EXIT_OK)


def unplanned(fmt: str, fleet: str) -> Callable[[DeployerError], None]:
    """How a plan that could not be made is said on stdout in `fmt` (besides the error on stderr), so a
    PR comment or a GitHub annotation shows it rather than nothing: the problems of the manifests or
    secret files, or the one-line error (an engine that cannot be reached)."""
    from deployer.cli.render import render_unplanned

    def say(exc: DeployerError) -> None:
        problems = exc.problems if isinstance(exc, (InvalidManifests, InvalidSecrets)) else []
        shown = render_unplanned(fleet, problems, str(exc), fmt)
        if shown is not None:
            click.echo(shown)

    return say


def _check_writable(path: str) -> None:
    """Refuse an --out that cannot be written (no such directory, not a directory, read-only), in the
    words `apply --plan` uses for a plan file it cannot read. (click refuses an existing directory.)"""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(directory):
        fail(f"cannot write plan file {path}: directory {os.path.dirname(path) or '.'} does not exist")
    if not os.path.isdir(directory):
        fail(f"cannot write plan file {path}: {os.path.dirname(path)} is not a directory")
    target = path if os.path.exists(path) else directory
    if not os.access(target, os.W_OK | (os.X_OK if target == directory else 0)):
        fail(f"cannot write plan file {path}: permission denied")


@click.command()
@options.paths_argument
@options.format_option("drift")
@options.secrets_dir_option
@options.global_options
def drift(paths: tuple[str, ...], fmt: str, secrets_dir: str | None) -> None:
    """Inspect every container of the fleet and report where the engine differs from the manifests.

    Exit 0 when there is no drift, 2 when there is (an orphan counts), 1 on error. Meant for a
    scheduled CI job; `apply --refresh` repairs what it finds (`--prune` removes orphans).
    """
    from deployer.cli.render import render_drift

    prepared, _ = handle_errors(lambda: prepare(list(paths), plan_settings(secrets_dir, refresh=True)))
    click.echo(render_drift(prepared.plan, fmt))
    if prepared.plan.errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_OK if prepared.plan.in_sync else EXIT_CHANGES)


@click.command()
@options.paths_argument
@options.format_option("status")
@options.secrets_dir_option
@options.global_options
def status(paths: tuple[str, ...], fmt: str, secrets_dir: str | None) -> None:
    """Show each bot: desired and actual state, health, image, start time, restarts, revision, in sync;
    and the fleet's last apply (revision, time, who, result)."""
    from deployer.cli.render import render_status
    from deployer.flows.status import collect_status

    def run() -> str:
        # refreshed: a setting changed by hand (docker update) is drift, as `drift` says
        prepared, engine = prepare(list(paths), plan_settings(secrets_dir, refresh=True))
        return render_status(collect_status(prepared, engine), fmt)

    click.echo(handle_errors(run))
