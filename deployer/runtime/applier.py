"""Executes exactly a Plan's actions through an engine: the rollout policy. Bounded parallelism,
a failure budget, a canary, removals last, and an interrupt that lets the changes under way
finish. Each action is carried out by the step of its method (steps.STEPS, the planner's choice);
progress goes to a callback, best effort (one that fails is said once through `notify` and left
alone: what ran is in the report whatever the callbacks do); nothing here prints or prompts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from deployer.backends.base import Backend
from deployer.core import defaults
from deployer.core.model import CREATE, NOOP, ORPHAN, REMOVE, REPLACE, START, STOP, UPDATE, Action, Observed, Plan
from deployer.errors import EngineError
from deployer.plan.planner import PlanOptions
from deployer.runtime.interrupts import Interrupts
from deployer.runtime.stamps import Stamp
from deployer.runtime.steps import STEPS, Deferred, StartFailed, StepRolledBack, Steps


@dataclass(frozen=True)
class ApplyOptions:
    parallelism: int = defaults.PARALLELISM
    wait_timeout: float = defaults.WAIT_TIMEOUT
    stop_timeout: int = defaults.STOP_TIMEOUT
    settle: float = 1.0  # how long a container without healthcheck must stay up to count as started
    plan_options: PlanOptions | None = None  # the plan's (secrets dir, fingerprints); none: the engine's defaults
    stamp: Stamp | None = None  # revision labels put on every container created
    observed: Observed | None = None  # what the plan saw: the configs a rollback restores, image users
    reload_timeout: float = 30.0  # how long a gateway gets to report that it applied a new config
    max_failures: int | None = defaults.MAX_FAILURES  # once this many actions failed, no new action starts (None: no budget)
    canary: int = defaults.CANARY  # apply the first K changes first; go on only if they all succeeded


@dataclass
class BotResult:
    bot: str
    action: str
    ok: bool
    message: str
    seconds: float = 0.0
    rolled_back: bool = False


@dataclass
class ApplyReport:
    results: list[BotResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    interrupted: bool = False
    not_started: list[Action] = field(default_factory=list)  # left alone after the rollout stopped
    stopped: str | None = None  # why the rollout stopped early (failure budget, canary, lost lock)

    @property
    def failed(self) -> list[BotResult]:
        return [r for r in self.results if not r.ok]


class Progress(Protocol):
    def __call__(self, bot: str, event: str, message: str) -> None: ...


class Applier:
    def __init__(self, engine: Backend, fleet: str, options: ApplyOptions,
                 progress: Progress = lambda bot, event, message: None):
        self.options = options
        self.steps = Steps(engine, fleet, options.plan_options or PlanOptions(traits=engine.traits),
                           stamp=options.stamp, observed=options.observed, wait_timeout=options.wait_timeout,
                           stop_timeout=options.stop_timeout, settle=options.settle,
                           reload_timeout=options.reload_timeout)
        self.progress = progress
        self.cancelled = threading.Event()
        # asked before every new action: a reason to start no more (e.g. the fleet lock was lost)
        self.hold: Callable[[], str | None] = lambda: None
        # one-line notices said at once (an interrupt received, what is still under way)
        self.notify: Callable[[str], None] = lambda text: None
        self._failures = 0
        self._progress_failed = False  # the progress callback raised once: it is not called again
        self._under_way = 0  # actions between their first engine call and their result
        self._count_lock = threading.Lock()

    def apply(self, plan: Plan) -> ApplyReport:
        """Run the plan. After `interrupt()` (or a KeyboardInterrupt in the caller's thread, however
        many) no new action starts, the ones under way finish, and the report says what was and
        wasn't done (report.interrupted). The same holds once the failure budget is spent, a
        canary failed, or the lock was lost: every path ends with the untouched actions in
        report.not_started and its reason in report.stopped."""
        with Interrupts(self.interrupt):  # unless the caller handles them already (the apply flow does)
            return self._apply(plan)

    def _apply(self, plan: Plan) -> ApplyReport:
        report = ApplyReport()
        main = [a for a in plan.actions if a.mutates and a.action not in (REMOVE, ORPHAN)]
        removals = [a for a in plan.actions if a.action == REMOVE]
        canary = [a for a in main if a.action != NOOP][:self.options.canary] if self.options.canary else []
        if canary and len(canary) < len(main):
            report.results.extend(self._run_all(canary, report))
            rest = [a for a in main if a not in canary]
            if report.failed and not report.interrupted and report.stopped is None:
                report.stopped = (f"a canary failed ({', '.join(r.bot for r in report.failed)}): "
                                  f"the other {len(rest)} changes were not started")
                report.not_started.extend(rest)
                rest = []
            elif report.stopped is not None:
                report.not_started.extend(rest)
                rest = []
            report.results.extend(self._run_all(rest, report))
        else:
            report.results.extend(self._run_all(main, report))
        if removals:
            if report.failed or report.not_started:
                report.skipped.extend(a.bot for a in removals)
                why = "an earlier change failed" if report.failed else report.stopped or "the rollout stopped early"
                for a in removals:
                    self._progress(a.bot, "skip", f"not removed: {why}, so nothing is pruned")
            else:
                report.results.extend(self._run_all(removals, report))
        return report

    def _progress(self, bot: str, event: str, message: str) -> None:
        """Tell the progress callback, best effort: a callback that fails (e.g. BrokenPipeError on a
        closed stdout) must not cost a bot its result or the run its record. Said once, then left."""
        if self._progress_failed:
            return
        try:
            self.progress(bot, event, message)
        except Exception as exc:  # noqa: BLE001 - whatever the callback raises, the rollout goes on
            with self._count_lock:
                first, self._progress_failed = not self._progress_failed, True
            if first:
                self._notify(f"warning: progress could not be shown ({type(exc).__name__}: {exc}); the apply "
                             "goes on, and its summary, record and history entry say what ran")

    def _notify(self, text: str) -> None:
        """A notice, best effort (also from a signal handler: it must not raise into the main thread)."""
        try:
            self.notify(text)
        except Exception:  # noqa: BLE001, S110 - a notice that cannot be said is only lost
            pass

    def _stop_reason(self) -> str | None:
        budget = self.options.max_failures
        if budget is not None and self._failures >= budget:
            return f"the failure budget is spent: {self._failures} failed (--max-failures {budget})"
        return self.hold()

    def interrupt(self) -> None:
        """Start no new action; the ones under way finish, since a bot is never left half-changed
        (SIGINT, SIGTERM and SIGHUP call this through the apply flow's handler; a KeyboardInterrupt that
        reaches the applier does the same). Says so at once through `notify`. Safe from a signal
        handler in the main thread: it sets an Event and reads a counter, and takes no lock."""
        again = self.cancelled.is_set()
        self.cancelled.set()
        n = self._under_way
        bots = f"{n} bot{'' if n == 1 else 's'} under way"
        if again:
            self._notify(f"interrupt received again, still finishing {bots}: a bot is never left "
                        "half-changed; the summary, the record and the history entry follow")
        else:
            self._notify(f"interrupt received, finishing {bots}; no new change starts")

    def _run_all(self, actions: list[Action], report: ApplyReport) -> list[BotResult]:
        """`parallelism` bounds the bots being changed at once: an action holds its slot from its
        first engine call until its unit is ready or has failed (the wait for a created or started
        container included), so the bound and the failure budget hold for creates and starts as
        for replaces. Actions are handed out one at a time as a slot frees up, so a stop (budget
        spent, lock lost, interrupt) keeps the rest unstarted. Each worker writes down its own
        result, so what ran is reported whatever interrupts the main thread."""
        if not actions:
            return []
        slots = threading.Semaphore(max(1, self.options.parallelism))
        outcomes: dict[int, BotResult] = {}  # by the action's index; written by the worker that ran it

        def run_in_slot(index: int, action: Action) -> None:
            try:
                try:
                    result = self._run(action)
                except Exception as exc:  # noqa: BLE001 - a bug outside the step's error handling: this bot failed
                    result = BotResult(action.bot, action.action, False,
                                       f"unexpected error: {type(exc).__name__}: {exc}")
                if result is not None:
                    outcomes[index] = result
            finally:
                slots.release()

        pool = ThreadPoolExecutor(max_workers=max(1, self.options.parallelism))
        try:
            for index, action in enumerate(actions):
                slots.acquire()
                reason = None if self.cancelled.is_set() else self._stop_reason()
                if reason is not None or self.cancelled.is_set():
                    slots.release()
                    if reason is not None and report.stopped is None:
                        report.stopped = reason
                    break
                pool.submit(run_in_slot, index, action)
        except KeyboardInterrupt:  # no deferring handler (a Python caller), or raised by `hold`
            self.interrupt()
        while True:  # the changes under way finish, however often the caller is interrupted
            try:
                pool.shutdown(wait=True)
                break
            except KeyboardInterrupt:
                self.interrupt()
        # every worker wrote down its result (run_in_slot catches what the step did not): nothing to collect
        unstarted = [a for i, a in enumerate(actions) if i not in outcomes]
        report.not_started.extend(unstarted)
        if self.cancelled.is_set():
            report.interrupted = True
            if unstarted and report.stopped is None:
                report.stopped = "the apply was interrupted"
        return [outcomes[i] for i in sorted(outcomes)]

    # -- one action ----------------------------------------------------------------------------
    def _run(self, action: Action) -> BotResult | None:
        """The action's step, and the wait for its unit to prove itself, in the caller's slot.
        None: not started (interrupted before it began)."""
        if self.cancelled.is_set():
            return None
        with self._count_lock:
            self._under_way += 1
        try:
            started = time.monotonic()
            verb = {CREATE: "creating", REPLACE: "replacing", UPDATE: "updating", START: "starting",
                    STOP: "stopping", REMOVE: "removing", NOOP: "cleaning up"}[action.action]
            self._progress(action.bot, "start", verb)
            try:
                outcome = STEPS[action.method](self.steps, action)
                message = outcome.wait() if isinstance(outcome, Deferred) else outcome
                self.steps.remove_leftovers(action)
            except Exception as exc:  # noqa: BLE001 - mapped per bot in _result
                return self._result(action, started, error=exc)
            return self._result(action, started, message=message)
        finally:
            with self._count_lock:
                self._under_way -= 1

    def _result(self, action: Action, started: float, *, message: str = "", error: Exception | None = None) -> BotResult:
        rolled_back = isinstance(error, StepRolledBack)
        if isinstance(error, (StepRolledBack, StartFailed)):
            message = error.message
        elif isinstance(error, EngineError):
            message = str(error)
        elif error is not None:  # one bot's bug must not stop the others
            message = f"unexpected error: {type(error).__name__}: {error}"
        ok = error is None
        if not ok:
            with self._count_lock:
                self._failures += 1
        seconds = time.monotonic() - started
        self._progress(action.bot, "done" if ok else "fail", f"{message} in {seconds:.1f}s" if ok else message)
        return BotResult(action.bot, action.action, ok, message, seconds, rolled_back)
