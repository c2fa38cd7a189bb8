"""The run behind `deployer apply` and `deployer rollback`, without printing, prompting or exiting.

    lock (with its heartbeat) -> stamp -> prepare (observe, secrets, plan, preflight)
    -> saved-plan staleness -> show -> confirm -> apply -> record (+ history entry) -> release

The CLI builds an ApplyRequest (what to apply, and how), passes ApplyHooks (what a person sees
and decides, called as it happens, while the lock is held), and maps the one ApplyOutcome it
gets back to its last messages and an exit code. Why hooks and not only the outcome: the plan
must be on screen before the question, progress while the bots change, and the summary before
the lock is released (a waiter may take the lock the moment it is gone). What the outcome says
after the fact (an error, the record or the lock that could not be written or released) comes
after the release, in the order it happened.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deployer.core import defaults
from deployer.core.model import FleetSpec, ObservedContainer, Plan
from deployer.errors import DeployerError, LockLost
from deployer.flows import prepare as workflow
from deployer.flows.planfile import SavedPlan, check_state
from deployer.flows.prepare import PlanSettings, Prepared
from deployer.plan.planner import desired_spec
from deployer.runtime import stamps
from deployer.runtime.applier import Applier, ApplyOptions, ApplyReport, Progress
from deployer.runtime.history import Entry, changes_of, in_place_after, write_entry
from deployer.runtime.interrupts import Interrupts
from deployer.runtime.lock import FleetLock, ci_job_url

if TYPE_CHECKING:
    from deployer.backends.base import Backend


@dataclass(frozen=True)
class ApplyRequest:
    """Everything one apply (or rollback) needs, decided before the lock is taken."""

    fleet: FleetSpec  # validated; the lock is taken on its name
    settings: PlanSettings = field(default_factory=PlanSettings)  # how it is planned
    paths: tuple[str, ...] = ()  # its manifests, for the revision stamp (none for a rollback)
    revision: str | None = None  # to stamp; None: the git HEAD of the manifests' repository
    saved: SavedPlan | None = None  # apply exactly this plan: refused if the engine moved since
    rollback_of: Entry | None = None  # a rollback to this history entry: its revision, notes and record
    parallelism: int = defaults.PARALLELISM
    wait_timeout: float = defaults.WAIT_TIMEOUT
    stop_timeout: int = defaults.STOP_TIMEOUT
    max_failures: int | None = defaults.MAX_FAILURES
    canary: int = defaults.CANARY
    lock_ttl: float = defaults.LOCK_TTL
    lock_timeout: float = defaults.LOCK_TIMEOUT


def _nothing(*_: object) -> None:
    return None


def _no_progress(bot: str, event: str, message: str) -> None:
    return None


@dataclass(frozen=True)
class ApplyHooks:
    """What the caller is told, and asked, while the lock is held (in this order)."""

    notify: Callable[[str], None] = _nothing  # one-line notices: lock waits and take-overs, prepare's warnings
    show: Callable[[Prepared, list[str]], None] = _nothing  # the plan and its notes, before any decision
    confirm: Callable[[Plan], bool] = lambda plan: True  # asked only for a plan with changes and no errors
    progress: Progress = _no_progress  # (bot, event, message) from the applier
    applied: Callable[[ApplyReport, str], None] = _nothing  # the report and its result line, before the record


class ApplyStatus(enum.Enum):
    APPLIED = "applied"  # the applier ran: report and result say how it went
    NO_CHANGES = "no changes"  # nothing to do; the record says so
    REFUSED = "refused"  # the plan has errors; nothing was changed
    CANCELLED = "cancelled"  # the confirmation said no; nothing was changed
    FAILED = "failed"  # `error` stopped it (before the applier ran, or writing a no-change record)
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM or SIGHUP before the first change (later ones let the run finish)


@dataclass
class ApplyOutcome:
    status: ApplyStatus
    prepared: Prepared | None = None  # the plan and what it saw; None when stopped before planning
    notes: list[str] = field(default_factory=list)  # said after the plan (a rollback's, a roll-forward's)
    report: ApplyReport | None = None  # None: the applier did not run
    result: str = ""  # the one-line result (as recorded, less a rollback's prefix)
    error: DeployerError | None = None
    took_over: str | None = None  # the holder of the expired lock we took over
    warnings: list[str] = field(default_factory=list)  # record, history entry or lock not written / released
    late_interrupt: bool = False  # an interrupt came after the last change: nothing was left undone

    @property
    def plan(self) -> Plan | None:
        return self.prepared.plan if self.prepared is not None else None


def run_apply(request: ApplyRequest, engine: Backend, hooks: ApplyHooks = ApplyHooks()) -> ApplyOutcome:
    """Take the fleet lock, run the apply under it, release the lock whatever happens.

    Expected failures (DeployerError) and interrupts (KeyboardInterrupt; the CLI maps SIGTERM and SIGHUP to
    it) end in the outcome; anything else (a hook's exception) propagates, after the release.
    An interrupt before the first change unwinds (nothing was changed); from the first change to
    the release of the lock, interrupts (however many) are said at once through hooks.notify and
    let the run finish: the bots under way, the summary, the record and history entry of what
    ran, the release (runtime.interrupts)."""
    outcome = ApplyOutcome(ApplyStatus.FAILED)
    lock: FleetLock | None = None
    ended = False
    with Interrupts() as interrupts:
        try:
            try:
                lock = FleetLock(engine, request.fleet.name, ttl=request.lock_ttl, timeout=request.lock_timeout,
                                 notify=hooks.notify)
                lock.acquire()
                if lock.took_over:
                    outcome.took_over = lock.took_over
                    hooks.notify(f"Took over the expired lock of {lock.took_over}.")
                _apply_locked(request, engine, lock, hooks, outcome, interrupts)
            except KeyboardInterrupt:
                outcome.status = ApplyStatus.INTERRUPTED
            except DeployerError as exc:
                outcome.status, outcome.error = ApplyStatus.FAILED, exc
            ended = True
        finally:
            if not ended or outcome.status is ApplyStatus.INTERRUPTED:
                # before the first change (after it, the applier's or late()'s callback is in place):
                # a further interrupt must not cut the release short and leave the lock until its TTL
                interrupts.defer(lambda: _say(hooks.notify, "interrupt received again: releasing the lock"))
            warning = _release(lock, request.fleet.name)
            if warning and ended:
                outcome.warnings.append(warning)
            elif warning:  # no outcome will be read: say it now
                hooks.notify(f"warning: {warning}")
    return outcome


def _say(notify: Callable[[str], None], text: str) -> None:
    """A notice from a signal handler: best effort (the terminal may be gone), never an exception
    raised into whatever the main thread was doing."""
    try:
        notify(text)
    except Exception:  # noqa: BLE001, S110 - nothing better to do with a notice that cannot be said
        pass


def _release(lock: FleetLock | None, fleet: str) -> str | None:
    if lock is None:
        return None
    try:
        lock.release()
    except DeployerError as exc:
        return f"could not release the lock: {exc}; run: deployer unlock {fleet} --force"
    return None


def _apply_locked(request: ApplyRequest, engine: Backend, lock: FleetLock, hooks: ApplyHooks,
                  outcome: ApplyOutcome, interrupts: Interrupts) -> None:
    entry = request.rollback_of
    revision = entry.revision if entry is not None else request.revision or stamps.git_revision(list(request.paths))
    stamp = stamps.Stamp.now(revision, run=lock.token)  # the run's token names the copies it sets aside
    settings = request.settings
    options = settings.plan_options(request.fleet, engine.traits)
    prepared = workflow.prepare(request.fleet, options, engine, refresh=settings.refresh,
                                parallelism=request.parallelism, preflight=settings.preflight,
                                pull_for_preflight=settings.pull_for_preflight)
    for w in prepared.warnings:
        hooks.notify(w.format())
    for note in prepared.notes:
        hooks.notify(note)
    outcome.prepared = prepared
    outcome.notes = _notes(request, engine, prepared)
    if request.saved is not None:
        check_state(request.saved, prepared.fleet, prepared.observed, prepared.options, prepared.plan)
    the_plan = prepared.plan
    hooks.show(prepared, outcome.notes)
    if the_plan.errors:
        outcome.status = ApplyStatus.REFUSED
        return
    if not the_plan.has_changes:
        _record(engine, request, stamp, prepared, "no changes")  # a record that cannot be written fails the run
        outcome.status, outcome.result = ApplyStatus.NO_CHANGES, "no changes"
        return
    _still_ours(lock, "before the plan could be confirmed")
    if not hooks.confirm(the_plan):
        outcome.status = ApplyStatus.CANCELLED
        return
    lock.changing = True  # then look: a lock lost from here on keeps its run beating until it ends
    _still_ours(lock, "while the plan awaited confirmation")

    applier = Applier(engine, request.fleet.name, ApplyOptions(
        parallelism=request.parallelism, wait_timeout=request.wait_timeout, stop_timeout=request.stop_timeout,
        plan_options=prepared.options, stamp=stamp, observed=prepared.observed,
        max_failures=request.max_failures, canary=request.canary))
    # no new action starts once the lock is no longer ours: looked up on the engine before each one
    applier.hold = lambda: f"the fleet lock was lost: {why}" if (why := lock.check()) else None
    applier.progress = hooks.progress
    applier.notify = hooks.notify
    interrupts.defer(applier.interrupt)  # from the first change on, an interrupt lets the run finish
    report = applier.apply(the_plan)

    def late() -> None:
        outcome.late_interrupt = True
        _say(hooks.notify, "interrupt received after the last change: writing the record and the history entry, "
                     "then releasing the lock")

    interrupts.defer(late)
    # an interrupt between the two defers; one after them was said by `late`, which this must not undo
    outcome.late_interrupt = outcome.late_interrupt or (applier.cancelled.is_set() and not report.interrupted)
    outcome.status, outcome.report, outcome.result = ApplyStatus.APPLIED, report, result_line(report)
    try:
        hooks.applied(report, outcome.result)
    finally:  # what ran is recorded whatever the summary hook does (e.g. BrokenPipeError on a closed stdout)
        try:
            warning = _record(engine, request, stamp, prepared, outcome.result, report)
        except DeployerError as exc:
            warning = f"could not write the fleet's last-applied record: {exc}"
        outcome.warnings += [warning] if warning else []


def _still_ours(lock: FleetLock, when: str) -> None:
    """Refuse to start changing the fleet under a lock that is no longer ours (LockLost)."""
    why = lock.check()
    if why is not None:
        raise LockLost(f"fleet {lock.fleet}: the lock was lost {when}: {why}; nothing was changed: "
                       "plan and apply again")


def result_line(report: ApplyReport) -> str:
    """What the record (and the last line of the CLI) says about an apply that ran."""
    failed = len(report.failed)
    result = (f"{len(report.results) - failed} succeeded, {failed} failed"
              + (f", {len(report.not_started)} not started" if report.not_started else "")
              + (f", {len(report.skipped)} skipped" if report.skipped else ""))
    if report.interrupted:
        result += " (interrupted)"
    return result


def _record(engine: Backend, request: ApplyRequest, stamp: stamps.Stamp, prepared: Prepared, result: str,
            report: ApplyReport | None = None) -> str | None:
    """Replace the last-applied record (raises when it cannot), with the containers the apply
    leaves updated in place, and add a history entry for every apply that tried to change
    something (`report`: how it went); a history entry that cannot be written is a warning."""
    plan = prepared.plan
    entry = request.rollback_of
    if entry is not None:
        result = f"rollback to #{entry.seq}: {result}"
    updated = in_place_after(prepared.observed, plan, prepared.options, report)
    stamps.write_record(engine, plan.fleet, stamp, plan.summary(), result, updated)
    if result.endswith("no changes"):
        return None
    try:
        kind = "apply" if entry is None else "rollback"
        applied, inspected, changes = _what_ran(prepared, report) if report is not None else (None, None, None)
        write_entry(engine, plan.fleet, Entry(0, stamp.revision, stamp.applied_at, stamp.applied_by, ci_job_url(),
                                              kind, result, plan.summary(), None if entry is None else entry.seq,
                                              changes=changes),
                    applied=applied, inspected=inspected)
    except DeployerError as exc:
        return f"could not write the history entry of this apply: {exc}"
    return None


def _what_ran(prepared: Prepared, report: ApplyReport) -> tuple[
        dict[str, dict[str, Any]], dict[str, ObservedContainer], dict[str, str]]:
    """For the history entry: the canonical spec of every bot that runs what the plan wanted (its
    change succeeded, or it had none: the planner found it equal, in-place settings included),
    the containers inspected before the apply (their live in-place settings), and per bot what
    became of its change. A container's spec label is written at create and an in-place update
    cannot change it, so it alone would record the spec from before the update. (So does a bot
    whose change failed or never started when its container was not inspected because the last
    record says it runs the manifest's spec by an in-place update: then it still runs that.)"""
    ok = {r.bot for r in report.results if r.ok}
    trusted = {c.id for c in prepared.observed.containers if c.applied_hash and not c.inspected}
    applied = {a.bot: desired_spec(a.desired, prepared.options) for a in prepared.plan.actions
               if a.desired is not None and (a.bot in ok or not a.mutates or a.container_id in trusted)}
    inspected = {c.id: c for c in prepared.observed.containers if c.inspected}
    return applied, inspected, changes_of(report)


def _notes(request: ApplyRequest, engine: Backend, prepared: Prepared) -> list[str]:
    """A rollback's notes (pinned images, today's secrets, the next apply rolls forward); for an
    apply over a rollback, that it rolls the fleet forward again (one marker read)."""
    if request.rollback_of is not None:
        from deployer.flows import rollback

        return rollback.notes(request.rollback_of, prepared.fleet, prepared.options.secrets_dir)
    fleet = request.fleet.name
    try:
        record = stamps.read_record(engine, fleet)
    except DeployerError:
        return []
    if not record or not record["result"].startswith("rollback to #") or not prepared.plan.has_changes:
        return []
    what = record["result"].split(":", 1)[0]  # "rollback to #N"
    note = (f"Note: fleet {fleet} runs a {what} (applied {record['applied_at']} by {record['applied_by']}); "
            "this apply rolls it forward to the manifests.")
    return [note]
