"""The commands that change bots: apply and rollback. Both run the apply flow under the fleet lock
with the same rollout options (options.rollout_options), the terminal as its hooks, and one exit
code from its outcome. The only commands that ask a question (unless --yes)."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

from deployer.cli import options
from deployer.cli.exits import EXIT_ERROR, EXIT_OK, fail, handle_errors, say_error
from deployer.cli.options import Pruning, Rollout
from deployer.cli.shared import (
    engine_line,
    fleet_name,
    load,
    open_engine,
    plan_settings,
    prepare,
    render_plan,
    wants_color,
)

if TYPE_CHECKING:  # types only: these modules are imported by the commands that need them
    from deployer.backends.base import Backend
    from deployer.flows.apply import ApplyOutcome, ApplyRequest
    from deployer.flows.prepare import Prepared
    from deployer.runtime.applier import ApplyReport


@dataclass(frozen=True)
class ApplyArgs:
    """The parsed options of `apply`."""

    paths: tuple[str, ...]
    plan_file: str | None
    yes: bool
    rollout: Rollout
    revision: str | None
    refresh: bool
    pruning: Pruning
    adopt: tuple[str, ...]
    secrets_dir: str | None
    no_preflight: bool


@click.command()
@options.optional_paths_argument
@options.plan_file_option
@options.yes_option("Apply")
@options.rollout_options
@options.revision_option
@options.refresh_option
@options.prune_options("the manifests")
@options.adopt_option
@options.secrets_dir_option
@options.no_preflight_option
@options.global_options
@options.parsed_as(ApplyArgs)
def apply(args: ApplyArgs) -> None:
    """Converge the engine to the manifests: lock the fleet, plan, show, confirm, execute, record."""
    from deployer.flows.apply import ApplyRequest
    from deployer.flows.prepare import PlanSettings

    paths = args.paths
    saved = None
    if args.plan_file:
        from deployer.flows.planfile import check_manifests, read_plan_file

        plan_file = args.plan_file
        saved = handle_errors(lambda: read_plan_file(plan_file))
        if paths:
            fail("give either PATHS or --plan, not both: a saved plan knows its manifests")
        paths = tuple(saved.paths)
        settings = PlanSettings.of_saved_plan(saved, preflight=not args.no_preflight)
        handle_errors(lambda: check_manifests(saved))
    elif not paths:
        fail("give the manifest PATHS to apply, or --plan FILE")
    else:
        settings = plan_settings(args.secrets_dir, args.pruning, adopt=args.adopt, refresh=args.refresh,
                                 preflight=not args.no_preflight, pull_for_preflight=True)
    if not args.yes and not saved and not sys.stdin.isatty():
        fail("refusing to apply without confirmation: no terminal to ask on; pass --yes to apply non-interactively")

    fleet = load(list(paths))  # once: the lock needs the fleet's name, the plan the whole of it
    engine = open_engine(max(16, args.rollout.parallelism * 2), fleet.backend)
    _apply_and_exit(engine, ApplyRequest(
        fleet=fleet, settings=settings, paths=paths, revision=args.revision, saved=saved,
        **dataclasses.asdict(args.rollout),
    ), ask=not args.yes and saved is None)


@dataclass(frozen=True)
class RollbackArgs:
    """The parsed options of `rollback`."""

    fleet: str
    to: str
    yes: bool
    dry_run: bool
    rollout: Rollout
    pruning: Pruning
    secrets_dir: str | None


@click.command()
@options.fleet_argument
@options.to_option
@options.yes_option("Roll back")
@options.dry_run_option
@options.rollout_options
@options.prune_options("the history entry")
@options.secrets_dir_option
@options.global_options
@options.parsed_as(RollbackArgs)
def rollback(args: RollbackArgs) -> None:
    """Put the fleet back as a history entry recorded it: its canonical specs, with images pinned to
    the image IDs that ran then where a bot runs another image now, and today's secret files.
    Planned field by field and applied
    through the same lock, confirmation, failure budget and record as apply."""
    from deployer.flows import rollback as rb
    from deployer.flows.apply import ApplyRequest
    from deployer.runtime.history import find_entry, read_history

    fleet, parallelism = args.fleet, args.rollout.parallelism
    engine = open_engine(max(16, parallelism * 2))
    entries = handle_errors(lambda: read_history(engine, fleet_name(fleet)))
    entry = handle_errors(lambda: find_entry(entries, args.to))
    spec = handle_errors(lambda: rb.restorable_fleet(engine, entries, entry, fleet))
    if not args.yes and not args.dry_run and not sys.stdin.isatty():
        fail("refusing to roll back without confirmation: no terminal to ask on; pass --yes")
    missing = handle_errors(lambda: [b for b in {b.image: b for b in spec.bots}.values()
                                     if engine.image_id(b.image) is None])
    if missing:
        for b in missing[:-1]:
            click.echo(f"error: bot {b.name}: image {b.image} is no longer on the engine", err=True)
        fail(f"bot {missing[-1].name}: image {missing[-1].image} (the image ID it ran at entry #{entry.seq}) is "
             "no longer on the engine, so that entry cannot be restored; nothing was changed")
    click.echo(rb.banner(entry, fleet))
    settings = plan_settings(args.secrets_dir, args.pruning, preflight=True)
    if args.dry_run:
        prepared, _ = handle_errors(lambda: prepare([], settings, parallelism=parallelism, engine=engine, fleet=spec))
        click.echo(render_plan(prepared.plan, "text", wants_color()))
        for line in rb.notes(entry, prepared.fleet, prepared.options.secrets_dir):
            click.echo(line)
        sys.exit(EXIT_ERROR if prepared.plan.errors else EXIT_OK)
    _apply_and_exit(engine, ApplyRequest(
        fleet=spec, settings=settings, rollback_of=entry, **dataclasses.asdict(args.rollout),
    ), ask=not args.yes)


class _Streams:
    closed: set[int] = set()  # the file descriptors found closed (1, 2), pointed at /dev/null since


def _echo(text: str = "", *, err: bool = False) -> None:
    """click.echo for a run that must go on when its output cannot: a closed pipe (`apply ... |
    head`: BrokenPipeError) or a hung-up terminal (EIO). The first failed write points the stream
    at /dev/null (so nothing fails again, at exit neither) and says so once on stderr; the apply goes
    on, and its record and history entry say what ran."""
    stream = sys.stderr if err else sys.stdout
    fd = 2 if err else 1
    if fd in _Streams.closed:
        return
    try:
        click.echo(text, err=err)
    except OSError as exc:  # BrokenPipeError, EIO
        _Streams.closed.add(fd)
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
        if not err:
            _echo(f"warning: standard output is closed ({exc.strerror or exc}); the apply goes on: "
                  "`deployer history` and `deployer status` say what it did", err=True)


def _apply_and_exit(engine: Backend, request: ApplyRequest, *, ask: bool) -> NoReturn:
    """Run the apply flow with the terminal as its hooks; say how it ended and exit with its code."""
    from deployer.flows.apply import ApplyHooks, run_apply

    def show(prepared: Prepared, notes: list[str]) -> None:
        _echo(engine_line(engine))
        _echo(render_plan(prepared.plan, "text", wants_color()))
        for line in notes:
            _echo(line)

    def progress(bot: str, event: str, message: str) -> None:
        mark = {"start": "...", "done": "ok ", "fail": "ERR", "skip": "-- "}.get(event, "   ")
        _echo(f"[{mark}] {bot}: {message}")

    hooks = ApplyHooks(notify=lambda text: _echo(text, err=True), show=show,
                       confirm=lambda plan: not ask or _confirm("Apply this plan?"),
                       progress=progress, applied=_show_report)
    previous = _interrupts_raise()
    try:
        outcome = run_apply(request, engine, hooks)
    finally:
        _restore_signals(previous)
    sys.exit(_said(outcome))


def _confirm(question: str) -> bool:
    """Ask on the terminal. Ctrl-C at the question is an interrupt like any other (the flow says
    nothing was changed, exit 130), not click's "Aborted!" and exit 1."""
    try:
        return click.confirm(question, default=False)
    except click.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # click turns ^C (and end of input) into Abort
            _echo("")  # end the question's line
            raise KeyboardInterrupt from None
        raise


def _show_report(report: ApplyReport, result: str) -> None:
    """Per bot what was done, then why a rollout stopped early, then the result line."""
    _echo("")
    for r in report.results:
        status = "ok" if r.ok else ("rolled back" if r.rolled_back else "FAILED")
        detail = "" if r.ok else r.message
        _echo(f"  {r.bot:<30} {r.action:<8} {status:<12} {r.seconds:6.1f}s  {detail}".rstrip())
    why = "an earlier change failed" if report.failed else report.stopped or "the rollout stopped early"
    for bot in report.skipped:
        _echo(f"  {bot:<30} remove   skipped      ({why}; nothing pruned)")
    for a in report.not_started:
        _echo(f"  {a.bot:<30} {a.action:<8} not started")
    if report.stopped:
        failed = len(report.failed)
        rolled = sum(r.rolled_back for r in report.failed)
        _echo(f"\nRollout stopped early: {report.stopped}. The changes under way were finished; "
              f"{len(report.results) - failed} succeeded, {failed} failed ({rolled} of them rolled back "
              f"to the old container), {len(report.not_started)} not started.")
    _echo(f"\nApply finished: {result}.")


def _said(outcome: ApplyOutcome) -> int:
    """The last words of an apply (after the lock is released) and its exit code."""
    from deployer.flows.apply import ApplyStatus

    status = outcome.status
    if status is ApplyStatus.FAILED and outcome.error is not None:
        say_error(outcome.error)
    elif status is ApplyStatus.REFUSED:
        _echo("error: the plan has errors (above); nothing was changed", err=True)
    elif status is ApplyStatus.CANCELLED:
        _echo("Apply cancelled; nothing was changed.")
    elif status is ApplyStatus.INTERRUPTED:  # only ever before the applier ran (flows.apply: later ones are deferred)
        _echo("Interrupted before any change was made; nothing was changed.", err=True)
    elif outcome.late_interrupt:
        _echo("Interrupted after the last change was made: nothing was left undone (the summary is above).",
                   err=True)
    for warning in outcome.warnings:
        _echo(f"warning: {warning}", err=True)
    return _exit_code(outcome)


def _exit_code(outcome: ApplyOutcome) -> int:
    from deployer.flows.apply import ApplyStatus

    report = outcome.report
    if outcome.status is ApplyStatus.INTERRUPTED or outcome.late_interrupt or (report is not None and report.interrupted):
        return 130  # also when nothing was left undone: a script that loops over fleets stops on Ctrl-C too
    if outcome.status is ApplyStatus.NO_CHANGES:
        return EXIT_OK
    if outcome.status is ApplyStatus.APPLIED and report is not None:
        return EXIT_ERROR if report.failed or report.not_started else EXIT_OK
    return EXIT_ERROR


def _interrupts_raise() -> dict[int, Any]:
    """SIGTERM (CI cancelling a job) and SIGHUP (the terminal or SSH session closed) unwind like
    Ctrl-C, so the lock is released and a report printed; returns the handlers they replaced."""
    from deployer.runtime.interrupts import INTERRUPTS

    previous: dict[int, Any] = {}
    for signum in INTERRUPTS:
        if signum == signal.SIGINT:
            continue
        try:
            previous[signum] = signal.signal(signum, signal.default_int_handler)
        except ValueError:  # not in the main thread (e.g. under a test runner)
            break
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
