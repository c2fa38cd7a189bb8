"""Thin click commands: parse options, call the pieces, print, map errors to one line and an exit code.

This is the only module that prompts or exits. Heavy modules (jsonschema, the docker SDK) are
imported inside the commands, so `deployer --help` and `deployer validate` never load docker.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import click

from deployer import __version__
from deployer.cli.render import formats
from deployer.errors import DeployerError

if TYPE_CHECKING:  # types only: these modules are imported by the commands that need them
    from deployer.backends.base import Backend
    from deployer.flows.apply import ApplyOutcome, ApplyRequest
    from deployer.flows.prepare import PlanSettings, Prepared
    from deployer.runtime.applier import ApplyReport

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _handle_errors(run: Callable[[], Any]) -> Any:
    """Every expected failure becomes one located line (or a list of problems) and exit 1."""
    try:
        return run()
    except DeployerError as exc:
        _say_error(exc)
        sys.exit(EXIT_ERROR)


def _say_error(exc: DeployerError) -> None:
    """One located line; invalid manifests or secrets list every problem first."""
    from deployer.cli.render import render_problems
    from deployer.errors import InvalidManifests, InvalidSecrets

    if isinstance(exc, (InvalidManifests, InvalidSecrets)):
        click.echo(render_problems(exc.problems, "text"), err=True)
    click.echo(f"error: {exc}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deployer")
@click.option("-H", "--host", "engine_host", metavar="URL", default=None,
              help="Engine to use: unix:///path, tcp://host:2376, ssh://user@host[:port]. Wins over everything.")
@click.option("-c", "--context", "engine_context", metavar="NAME", default=None,
              help="docker context to use (from the docker CLI's context store); wins over DOCKER_HOST.")
@click.pass_context
def main(ctx: click.Context, engine_host: str | None, engine_context: str | None) -> None:
    """Declarative deployer for fleets of OpenClaw chat bots on Docker.

    Manifests (apiVersion botmaker/v1, kind Bot / Fleet) live in git; validate them, plan
    the changes against the engine, and apply exactly that plan.

    The engine is chosen as the docker CLI chooses it: --host, else --context, else
    DOCKER_HOST (with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH), else DOCKER_CONTEXT, else the
    currentContext of $DOCKER_CONFIG/config.json (~/.docker), else the local socket. DOCKER_HOST
    wins over DOCKER_CONTEXT and the current context. ssh:// uses the system ssh client and your
    ssh config (keys, known_hosts); it never prompts.

    Exit codes: 0 success, 1 error, 2 changes/drift found (plan --detailed-exitcode, drift).
    """
    ctx.obj = {"host": engine_host, "context": engine_context}


# --- shared options -----------------------------------------------------------------------------

def _options(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply_all(f: Any) -> Any:
        for d in reversed(decorators):
            f = d(f)
        return f
    return apply_all


paths_argument = click.argument("paths", nargs=-1, required=True, type=click.Path())
secrets_dir_option = click.option(
    "--secrets-dir", type=click.Path(), default=None, envvar="DEPLOYER_SECRETS_DIR", show_envvar=True,
    help="Host directory with one sub-directory of secret files per bot (overrides the Fleet's spec.secretsDir).",
)
no_color_option = click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set).")
no_preflight_option = click.option(
    "--no-preflight", is_flag=True,
    help="Skip the gateway's own checks (openclaw config validate, secrets audit) that run offline in the "
         "bot's image for every OpenClaw bot the plan creates, replaces or reloads.")
prune_options = _options(
    click.option("--prune", is_flag=True,
                 help="Remove orphan containers of this fleet (last, and only if everything else succeeded)."),
    click.option("--allow-empty", is_flag=True, help="Allow --prune with a manifest set of zero bots."),
    click.option("--max-removals", type=click.IntRange(0), default=None,
                 help="Refuse a plan that would remove more than N containers."),
    click.option("--adopt", "adopt", multiple=True, metavar="BOT",
                 help="Take over the container holding botmaker-BOT that no fleet manages (it is replaced)."),
)

rollout_options = _options(
    click.option("--max-failures", type=click.IntRange(1), default=3, show_default=True,
                 help="Failure budget: once N changes failed (each is rolled back), no new change starts; "
                      "the ones under way finish."),
    click.option("--canary", type=click.IntRange(0), default=0, show_default=True,
                 help="Apply the first K changes (in plan order) first; go on only if all of them succeeded."),
)


def _color(no_color: bool) -> bool:
    from deployer.cli.render import use_color

    return use_color(no_color, sys.stdout)


def _load(paths: list[str]) -> Any:
    """The validated fleet; warnings are printed, errors end the command."""
    from deployer.flows.prepare import load_fleet

    fleet, warnings = _handle_errors(lambda: load_fleet(paths))
    for w in warnings:
        click.echo(w.format(), err=True)
    return fleet


def _engine(max_pool_size: int = 16, backend: str | None = None) -> Backend:
    """The backend for the engine chosen by --host / --context / the environment (docker CLI rules):
    the one place the CLI builds one. Its kind is the fleet's spec.backend, or DEPLOYER_BACKEND for
    the commands that read no manifest (unlock, history, rollback)."""
    from deployer.backends.endpoint import resolve

    ctx = click.get_current_context(silent=True)
    chosen = (ctx.find_root().obj if ctx is not None else None) or {}
    endpoint = _handle_errors(lambda: resolve(os.environ, host=chosen.get("host"), context=chosen.get("context")))
    kind = backend or os.environ.get("DEPLOYER_BACKEND") or "docker"
    where = "" if backend else " (DEPLOYER_BACKEND)"
    return _handle_errors(lambda: _open(kind, where, max_pool_size, endpoint))


def _open(kind: str, where: str, max_pool_size: int, endpoint: Any) -> Backend:
    from deployer.backends import open_backend
    from deployer.errors import UnknownBackend

    try:
        return open_backend(kind, max_pool_size=max_pool_size, endpoint=endpoint)
    except UnknownBackend as exc:
        raise UnknownBackend(f"{exc}{where}") from None


def _engine_line(engine: Backend) -> str:
    return f"engine: {engine.endpoint.describe()}"


def _prepare(paths: list[str], settings: PlanSettings, *, parallelism: int = 8, engine: Any = None,
             fleet: Any = None) -> tuple[Prepared, Any]:
    """Plan the fleet (loaded from paths unless given) against the engine; warnings and notes to stderr."""
    from deployer.flows.prepare import prepare

    fleet = fleet or _load(paths)
    engine = engine or _engine(max(16, parallelism * 2), fleet.backend)
    options = settings.plan_options(fleet, engine.traits)
    prepared = prepare(fleet, options, engine, refresh=settings.refresh, parallelism=parallelism,
                       preflight=settings.preflight, pull_for_preflight=settings.pull_for_preflight)
    for w in prepared.warnings:
        click.echo(w.format(), err=True)
    for note in prepared.notes:
        click.echo(note, err=True)
    return prepared, engine


def _settings(secrets_dir: str | None, *, prune: bool = False, allow_empty: bool = False,
              max_removals: int | None = None, adopt: tuple[str, ...] = (), **rest: bool) -> PlanSettings:
    from deployer.flows.prepare import PlanSettings

    return PlanSettings(secrets_dir=secrets_dir, prune=prune, allow_empty=allow_empty, max_removals=max_removals,
                        adopt=frozenset(adopt), **rest)


# --- validate -----------------------------------------------------------------------------------

def format_option(kind: str) -> Callable[[Any], Any]:
    """--format, with the choices of the renderer registry for this kind of report."""
    return click.option("--format", "fmt", type=click.Choice(formats(kind)), default="text", show_default=True)


@main.command()
@paths_argument
@format_option("problems")
@click.option("--secrets", "check_secrets", is_flag=True,
              help="Also check every bot's secret files (paths, modes, owners, conflicts); needs no engine.")
@secrets_dir_option
def validate(paths: tuple[str, ...], fmt: str, check_secrets: bool, secrets_dir: str | None) -> None:
    """Check manifests against the schemas and the semantic rules; report every problem.

    Exit 0 when there is no error (warnings allowed), 1 when there is any.
    """
    from deployer.cli.render import render_problems
    from deployer.manifests.fastpath import load_and_validate

    result = load_and_validate(list(paths))
    problems = list(result.problems)
    if check_secrets and result.fleet is not None:
        from deployer.flows.prepare import chosen_secrets_dir
        from deployer.secrets.checks import check_fleet_secrets

        chosen = chosen_secrets_dir(result.fleet, secrets_dir)
        problems += check_fleet_secrets(result.fleet, chosen, create_key=False).problems
    out = render_problems(problems, fmt, bots=len(result.fleet.bots) if result.fleet else None)
    if out:
        click.echo(out)
    sys.exit(EXIT_ERROR if any(p.is_error for p in problems) else EXIT_OK)


# --- plan ---------------------------------------------------------------------------------------

def _render_plan(plan: Any, fmt: str, color: bool) -> str:
    from deployer.cli import render

    return render.render_plan(plan, fmt, color=color)


@main.command()
@paths_argument
@format_option("plan")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None,
              help="Save the plan (with digests of manifests and engine state) for `apply --plan`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes, 0 when none.")
@click.option("--refresh", is_flag=True, help="Inspect every container and compare its real configuration (drift).")
@prune_options
@secrets_dir_option
@no_preflight_option
@no_color_option
def plan(paths: tuple[str, ...], fmt: str, out_file: str | None, detailed_exitcode: bool, refresh: bool,
         prune: bool, allow_empty: bool, max_removals: int | None, adopt: tuple[str, ...],
         secrets_dir: str | None, no_preflight: bool, no_color: bool) -> None:
    """Show what apply would change on the engine, field by field. Changes no bot, takes no lock
    (the preflight runs throwaway containers of the bots' images, offline)."""
    settings = _settings(secrets_dir, prune=prune, allow_empty=allow_empty, max_removals=max_removals, adopt=adopt,
                         refresh=refresh, preflight=not no_preflight)
    prepared, engine = _handle_errors(lambda: _prepare(list(paths), settings))
    if fmt == "text":
        click.echo(_engine_line(engine))
    click.echo(_render_plan(prepared.plan, fmt, _color(no_color)))
    if prepared.plan.errors:
        sys.exit(EXIT_ERROR)
    if out_file:
        from deployer.flows.planfile import write_plan_file

        write_plan_file(out_file, paths=list(paths), fleet=prepared.fleet, observed=prepared.observed,
                        options=prepared.options, refresh=refresh, plan=prepared.plan)
        click.echo(f"Saved the plan to {out_file}; apply exactly it with: deployer apply --plan {out_file}", err=True)
    sys.exit(EXIT_CHANGES if detailed_exitcode and prepared.plan.has_changes else EXIT_OK)


# --- apply --------------------------------------------------------------------------------------

@main.command()
@click.argument("paths", nargs=-1, required=False, type=click.Path())
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), default=None,
              help="Apply exactly this saved plan (from `plan --out`); refused if manifests or engine moved since.")
@click.option("--yes", "-y", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=4, show_default=True,
              help="How many bots are changed at once.")
@click.option("--wait-timeout", type=click.FloatRange(1, 3600), default=180, show_default=True,
              help="Seconds to wait for a started container to run (and be healthy); a real OpenClaw gateway "
                   "needs 10-60 s on a small host.")
@click.option("--stop-timeout", type=click.IntRange(0, 3600), default=10, show_default=True,
              help="Seconds a container gets to stop gracefully before it is killed.")
@click.option("--lock-timeout", type=click.FloatRange(0), default=0, show_default=True,
              help="Seconds to wait for another run's lock on this fleet (0: fail at once).")
@click.option("--lock-ttl", type=click.FloatRange(5), default=60, show_default=True,
              help="Seconds without a heartbeat after which our lock counts as abandoned and may be taken "
                   "over; the apply renews it every TTL/4 while it runs.")
@click.option("--revision", default=None, help="Revision to stamp (default: git HEAD of the manifests' repository).")
@click.option("--refresh", is_flag=True, help="Inspect every container first and repair drift.")
@rollout_options
@prune_options
@secrets_dir_option
@no_preflight_option
@no_color_option
def apply(paths: tuple[str, ...], plan_file: str | None, yes: bool, parallelism: int, wait_timeout: float,
          stop_timeout: int, lock_timeout: float, lock_ttl: float, revision: str | None, refresh: bool,
          max_failures: int, canary: int, prune: bool, allow_empty: bool, max_removals: int | None,
          adopt: tuple[str, ...], secrets_dir: str | None, no_preflight: bool, no_color: bool) -> None:
    """Converge the engine to the manifests: lock the fleet, plan, show, confirm, execute, record."""
    from deployer.flows.apply import ApplyRequest
    from deployer.flows.prepare import PlanSettings

    saved = None
    if plan_file:
        from deployer.flows.planfile import check_manifests, read_plan_file

        saved = _handle_errors(lambda: read_plan_file(plan_file))
        if paths:
            _fail("give either PATHS or --plan, not both: a saved plan knows its manifests")
        paths = tuple(saved.paths)
        settings = PlanSettings.of_saved_plan(saved, preflight=not no_preflight)
        _handle_errors(lambda: check_manifests(saved))
    elif not paths:
        _fail("give the manifest PATHS to apply, or --plan FILE")
    else:
        settings = _settings(secrets_dir, prune=prune, allow_empty=allow_empty, max_removals=max_removals,
                             adopt=adopt, refresh=refresh, preflight=not no_preflight, pull_for_preflight=True)
    if not yes and not saved and not sys.stdin.isatty():
        _fail("refusing to apply without confirmation: no terminal to ask on; pass --yes to apply non-interactively")

    fleet = _load(list(paths))  # once: the lock needs the fleet's name, the plan the whole of it
    engine = _engine(max(16, parallelism * 2), fleet.backend)
    _apply_and_exit(engine, ApplyRequest(
        fleet=fleet, settings=settings, paths=tuple(paths), revision=revision, saved=saved, parallelism=parallelism,
        wait_timeout=wait_timeout, stop_timeout=stop_timeout, max_failures=max_failures, canary=canary,
        lock_ttl=lock_ttl, lock_timeout=lock_timeout,
    ), ask=not yes and saved is None, no_color=no_color)


def _apply_and_exit(engine: Backend, request: ApplyRequest, *, ask: bool, no_color: bool) -> NoReturn:
    """Run the apply flow with the terminal as its hooks; say how it ended and exit with its code."""
    from deployer.flows.apply import ApplyHooks, run_apply

    def show(prepared: Prepared, notes: list[str]) -> None:
        click.echo(_engine_line(engine))
        click.echo(_render_plan(prepared.plan, "text", _color(no_color)))
        for line in notes:
            click.echo(line)

    def progress(bot: str, event: str, message: str) -> None:
        mark = {"start": "...", "done": "ok ", "fail": "ERR", "skip": "-- "}.get(event, "   ")
        click.echo(f"[{mark}] {bot}: {message}")

    hooks = ApplyHooks(notify=lambda text: click.echo(text, err=True), show=show,
                       confirm=lambda plan: not ask or click.confirm("Apply this plan?", default=False),
                       progress=progress, applied=_show_report)
    previous = _interrupts_raise()
    try:
        outcome = run_apply(request, engine, hooks)
    finally:
        _restore_signals(previous)
    sys.exit(_said(outcome))


def _show_report(report: ApplyReport, result: str) -> None:
    """Per bot what was done, then why a rollout stopped early, then the result line."""
    click.echo("")
    for r in report.results:
        status = "ok" if r.ok else ("rolled back" if r.rolled_back else "FAILED")
        detail = "" if r.ok else r.message
        click.echo(f"  {r.bot:<30} {r.action:<8} {status:<12} {r.seconds:6.1f}s  {detail}".rstrip())
    for bot in report.skipped:
        click.echo(f"  {bot:<30} remove   skipped      (an earlier change failed; nothing pruned)")
    for a in report.not_started:
        click.echo(f"  {a.bot:<30} {a.action:<8} not started")
    if report.stopped:
        failed = len(report.failed)
        rolled = sum(r.rolled_back for r in report.failed)
        click.echo(f"\nRollout stopped early: {report.stopped}. The changes under way were finished; "
                   f"{len(report.results) - failed} succeeded, {failed} failed ({rolled} of them rolled back "
                   f"to the old container), {len(report.not_started)} not started.")
    click.echo(f"\nApply finished: {result}.")


def _said(outcome: ApplyOutcome) -> int:
    """The last words of an apply (after the lock is released) and its exit code."""
    from deployer.flows.apply import ApplyStatus

    status = outcome.status
    if status is ApplyStatus.FAILED and outcome.error is not None:
        _say_error(outcome.error)
    elif status is ApplyStatus.REFUSED:
        click.echo("error: the plan has errors (above); nothing was changed", err=True)
    elif status is ApplyStatus.CANCELLED:
        click.echo("Apply cancelled; nothing was changed.")
    elif status is ApplyStatus.INTERRUPTED and outcome.report is not None:
        click.echo("Interrupted after the apply finished (its summary is above); the fleet's last-applied "
                   "record may not have been written: the next apply writes it.", err=True)
    elif status is ApplyStatus.INTERRUPTED:
        click.echo("Interrupted before any change was made; nothing was changed.", err=True)
    for warning in outcome.warnings:
        click.echo(f"warning: {warning}", err=True)
    return _exit_code(outcome)


def _exit_code(outcome: ApplyOutcome) -> int:
    from deployer.flows.apply import ApplyStatus

    report = outcome.report
    if outcome.status is ApplyStatus.INTERRUPTED or (report is not None and report.interrupted):
        return 130
    if outcome.status is ApplyStatus.NO_CHANGES:
        return EXIT_OK
    if outcome.status is ApplyStatus.APPLIED and report is not None:
        return EXIT_ERROR if report.failed or report.not_started else EXIT_OK
    return EXIT_ERROR


def _interrupts_raise() -> Any:
    """SIGTERM (CI cancelling a job) unwinds like Ctrl-C, so the lock is released and a report printed."""
    try:
        return signal.signal(signal.SIGTERM, signal.default_int_handler)
    except ValueError:  # not in the main thread (e.g. under a test runner)
        return None


def _restore_signals(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


# --- drift, status, unlock ----------------------------------------------------------------------

@main.command()
@paths_argument
@format_option("drift")
@secrets_dir_option
def drift(paths: tuple[str, ...], fmt: str, secrets_dir: str | None) -> None:
    """Inspect every container of the fleet and report where the engine differs from the manifests.

    Exit 0 when there is no drift, 2 when there is, 1 on error. Meant for a scheduled CI job;
    `apply --refresh` repairs what it finds.
    """
    from deployer.cli.render import render_drift

    prepared, _ = _handle_errors(lambda: _prepare(list(paths), _settings(secrets_dir, refresh=True)))
    click.echo(render_drift(prepared.plan, fmt))
    if prepared.plan.errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CHANGES if prepared.plan.has_changes else EXIT_OK)


@main.command()
@paths_argument
@format_option("status")
@secrets_dir_option
def status(paths: tuple[str, ...], fmt: str, secrets_dir: str | None) -> None:
    """Show each bot: desired and actual state, health, image, start time, restarts, revision, in sync;
    and the fleet's last apply (revision, time, who, result)."""
    from deployer.cli.render import render_status
    from deployer.flows.status import collect_status

    def run() -> str:
        prepared, engine = _prepare(list(paths), _settings(secrets_dir))
        return render_status(collect_status(prepared, engine), fmt)

    click.echo(_handle_errors(run))


@main.command()
@click.argument("fleet")
@click.option("--force", is_flag=True, required=False, help="Remove the lock whoever holds it.")
def unlock(fleet: str, force: bool) -> None:
    """Remove a fleet's engine-side lock left by a dead run (needs --force)."""
    from deployer.runtime.lock import current_holder, force_unlock

    engine = _engine()
    if not force:
        holder = _handle_errors(lambda: current_holder(engine, fleet))
        if holder is None:
            click.echo(f"fleet {fleet} is not locked")
            sys.exit(EXIT_OK)
        _fail(f"fleet {fleet} is locked by {holder}; pass --force to remove the lock (only when that run is dead)")
    holder = _handle_errors(lambda: force_unlock(engine, fleet))
    click.echo(f"removed the lock of fleet {fleet} held by {holder}" if holder else f"fleet {fleet} was not locked")


# --- history and rollback -------------------------------------------------------------------------

def _fleet_argument(fleet: str) -> str:
    import re

    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fleet):
        _fail(f"{fleet!r} is not a fleet name (a DNS label: lowercase letters, digits and '-')")
    return fleet


@main.command()
@click.argument("fleet")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="Show the newest N entries.")
def history(fleet: str, fmt: str, limit: int) -> None:
    """The fleet's last applies, newest first: entry, revision, time, who, CI job, result, and per
    bot the spec hash and the image ID it ran. Kept on the engine (the newest 20)."""
    from deployer.runtime.history import read_history, render_history

    entries = _handle_errors(lambda: read_history(_engine(), _fleet_argument(fleet)))
    click.echo(render_history(fleet, entries[:limit], fmt))


@main.command()
@click.argument("fleet")
@click.option("--to", "to", required=True, metavar="ENTRY",
              help="The history entry (its number, see `deployer history`) or a revision to go back to.")
@click.option("--yes", "-y", is_flag=True, help="Roll back without asking for confirmation.")
@click.option("--dry-run", is_flag=True, help="Show the rollback's plan only: no lock, no change.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=4, show_default=True,
              help="How many bots are changed at once.")
@click.option("--wait-timeout", type=click.FloatRange(1, 3600), default=60, show_default=True,
              help="Seconds to wait for a started container to run (and be healthy).")
@click.option("--stop-timeout", type=click.IntRange(0, 3600), default=10, show_default=True,
              help="Seconds a container gets to stop gracefully before it is killed.")
@click.option("--lock-timeout", type=click.FloatRange(0), default=0, show_default=True,
              help="Seconds to wait for another run's lock on this fleet (0: fail at once).")
@click.option("--lock-ttl", type=click.FloatRange(5), default=60, show_default=True,
              help="Seconds without a heartbeat after which our lock counts as abandoned.")
@rollout_options
@click.option("--prune", is_flag=True, help="Also remove bots that the entry did not have.")
@click.option("--allow-empty", is_flag=True, help="Allow --prune when the entry had zero bots.")
@click.option("--max-removals", type=click.IntRange(0), default=None,
              help="Refuse a plan that would remove more than N containers.")
@secrets_dir_option
@no_color_option
def rollback(fleet: str, to: str, yes: bool, dry_run: bool, parallelism: int, wait_timeout: float,
             stop_timeout: int, lock_timeout: float, lock_ttl: float, max_failures: int, canary: int, prune: bool,
             allow_empty: bool, max_removals: int | None, secrets_dir: str | None, no_color: bool) -> None:
    """Put the fleet back as a history entry recorded it: its canonical specs, with images pinned to
    the image IDs that ran then, and today's secret files. Planned field by field and applied
    through the same lock, confirmation, failure budget and record as apply."""
    from deployer.flows import rollback as rb
    from deployer.flows.apply import ApplyRequest
    from deployer.runtime.history import find_entry, read_history

    engine = _engine(max(16, parallelism * 2))
    entries = _handle_errors(lambda: read_history(engine, _fleet_argument(fleet)))
    entry = _handle_errors(lambda: find_entry(entries, to))
    spec = _handle_errors(lambda: rb.fleet_at(entry, fleet))
    if not yes and not dry_run and not sys.stdin.isatty():
        _fail("refusing to roll back without confirmation: no terminal to ask on; pass --yes")
    missing = _handle_errors(lambda: [b for b in {b.image: b for b in spec.bots}.values()
                                      if engine.image_id(b.image) is None])
    if missing:
        for b in missing[:-1]:
            click.echo(f"error: bot {b.name}: image {b.image} is no longer on the engine", err=True)
        _fail(f"bot {missing[-1].name}: image {missing[-1].image} (the image ID it ran at entry #{entry.seq}) is "
              "no longer on the engine, so that entry cannot be restored; nothing was changed")
    click.echo(rb.banner(entry, fleet))
    settings = _settings(secrets_dir, prune=prune, allow_empty=allow_empty, max_removals=max_removals, preflight=True)
    if dry_run:
        prepared, _ = _handle_errors(lambda: _prepare([], settings, parallelism=parallelism, engine=engine, fleet=spec))
        click.echo(_render_plan(prepared.plan, "text", _color(no_color)))
        for line in rb.notes(entry, prepared.fleet, prepared.options.secrets_dir):
            click.echo(line)
        sys.exit(EXIT_ERROR if prepared.plan.errors else EXIT_OK)
    _apply_and_exit(engine, ApplyRequest(
        fleet=spec, settings=settings, rollback_of=entry, parallelism=parallelism, wait_timeout=wait_timeout,
        stop_timeout=stop_timeout, max_failures=max_failures, canary=canary, lock_ttl=lock_ttl,
        lock_timeout=lock_timeout,
    ), ask=not yes, no_color=no_color)


# --- secret ------------------------------------------------------------------------------------

@main.group()
def secret() -> None:
    """Write a bot's secret files the way the gateway and the checks demand."""


@secret.command("set")
@click.argument("bot")
@click.argument("name")
@click.option("-f", "--manifests", "paths", multiple=True, type=click.Path(),
              help="The manifests (for the Fleet's spec.secretsDir and the bot's uid); repeatable.")
@secrets_dir_option
@click.option("--uid", type=click.IntRange(0), default=None,
              help="Owner of the file (default: the bot's spec.user, else 1000, OpenClaw's uid).")
def secret_set(bot: str, name: str, paths: tuple[str, ...], secrets_dir: str | None, uid: int | None) -> None:
    """Write <secretsDir>/BOT/NAME from standard input (never from an argument, which would land in
    shell history and `ps`): a new file 0600 owned by the container's uid, fsynced, renamed into
    place (no hard link), with the directories created 0700.

    Example: printf %s "$TOKEN" | deployer secret set support-bot TELEGRAM_BOT_TOKEN -f manifests/
    """
    from deployer.flows.secret_set import set_secret

    if sys.stdin.isatty():
        _fail("the value is read from standard input; pipe it in, e.g.: "
              f"printf %s \"$VALUE\" | deployer secret set {bot} {name} ...")
    value = sys.stdin.buffer.read()
    fleet = _load(list(paths)) if paths else None
    path, warning = _handle_errors(lambda: set_secret(bot, name, value, fleet=fleet, secrets_dir=secrets_dir,
                                                      uid=uid))
    if warning:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote {path} ({len(value)} bytes, mode 0600)")
