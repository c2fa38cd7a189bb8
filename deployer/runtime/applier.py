"""Executes exactly a Plan's actions through an engine: the rollout policy. Bounded parallelism,
a failure budget, a canary, removals last, and an interrupt that lets the changes under way
finish. Each action is carried out by the step of its method (steps.STEPS, the planner's choice);
progress goes to a callback; nothing here prints or prompts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from deployer.backends.base import Backend
from deployer.core.model import CREATE, NOOP, ORPHAN, REMOVE, REPLACE, START, STOP, UPDATE, Action, Observed, Plan
from deployer.errors import EngineError
from deployer.plan.planner import PlanOptions
from deployer.runtime.stamps import Stamp
from deployer.runtime.steps import STEPS, Deferred, StartFailed, StepRolledBack, Steps

WAITERS = 64  # waits are inspect polls, cheap for the engine; they need not share the mutation bound


@dataclass(frozen=True)
class ApplyOptions:
    parallelism: int = 4
    wait_timeout: float = 60.0
    stop_timeout: int = 10
    settle: float = 1.0  # how long a container without healthcheck must stay up to count as started
    plan_options: PlanOptions | None = None  # the plan's (secrets dir, fingerprints); none: the engine's defaults
    stamp: Stamp | None = None  # revision labels put on every container created
    observed: Observed | None = None  # what the plan saw: the configs a rollback restores, image users
    reload_timeout: float = 30.0  # how long a gateway gets to report that it applied a new config
    max_failures: int | None = None  # once this many actions failed, no new action starts
    canary: int = 0  # apply the first K changes first; go on only if they all succeeded


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
        self._failures = 0
        self._count_lock = threading.Lock()

    def apply(self, plan: Plan) -> ApplyReport:
        """Run the plan. On KeyboardInterrupt (SIGINT, or SIGTERM mapped to it by the CLI) no new
        action starts, the ones under way finish, and the report says what was and wasn't done.
        The same holds once the failure budget is spent, a canary failed, or the lock was lost:
        those end with the untouched actions in report.not_started."""
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
                for a in removals:
                    self.progress(a.bot, "skip", "not removed: an earlier change failed, so nothing is pruned")
            else:
                report.results.extend(self._run_all(removals, report))
        return report

    def _stop_reason(self) -> str | None:
        budget = self.options.max_failures
        if budget is not None and self._failures >= budget:
            return f"the failure budget is spent: {self._failures} failed (--max-failures {budget})"
        return self.hold()

    def _run_all(self, actions: list[Action], report: ApplyReport) -> list[BotResult]:
        """`parallelism` bounds the bots being changed at once. Waiting for a created or started
        container to prove itself happens in a separate pool, so the next bot's change does
        not queue behind another bot's settle time. Actions are handed out one at a time as a
        slot frees up, so a stop (budget spent, lock lost, interrupt) keeps the rest unstarted."""
        if not actions:
            return []
        slots = threading.Semaphore(max(1, self.options.parallelism))
        futures: list[Future[BotResult | Future[BotResult]]] = []

        def run_in_slot(action: Action, waiters: ThreadPoolExecutor) -> BotResult | Future[BotResult]:
            try:
                return self._run(action, waiters)
            finally:
                slots.release()

        with ThreadPoolExecutor(max_workers=max(1, self.options.parallelism)) as pool, \
                ThreadPoolExecutor(max_workers=WAITERS) as waiters:
            try:
                for action in actions:
                    slots.acquire()
                    reason = None if self.cancelled.is_set() else self._stop_reason()
                    if reason is not None or self.cancelled.is_set():
                        slots.release()
                        if reason is not None and report.stopped is None:
                            report.stopped = reason
                        break
                    futures.append(pool.submit(run_in_slot, action, waiters))
                results = [_resolve(f) for f in futures]
            except KeyboardInterrupt:
                self.cancelled.set()
                report.interrupted = True
                results = [_resolve(f) for f in futures]
        unstarted = actions[len(futures):]
        if report.interrupted:
            results += [BotResult(a.bot, a.action, False, "not started: the apply was interrupted") for a in unstarted]
        else:
            report.not_started.extend(unstarted)
        return results

    # -- one action ----------------------------------------------------------------------------
    def _run(self, action: Action, waiters: ThreadPoolExecutor) -> BotResult | Future[BotResult]:
        if self.cancelled.is_set():
            return BotResult(action.bot, action.action, False, "not started: the apply was interrupted")
        started = time.monotonic()
        verb = {CREATE: "creating", REPLACE: "replacing", UPDATE: "updating", START: "starting",
                STOP: "stopping", REMOVE: "removing", NOOP: "cleaning up"}[action.action]
        self.progress(action.bot, "start", verb)
        try:
            outcome = STEPS[action.method](self.steps, action)
        except Exception as exc:  # noqa: BLE001 - mapped per bot in _result
            return self._result(action, started, error=exc)
        if isinstance(outcome, Deferred):
            return waiters.submit(self._finish, action, started, outcome.wait)
        return self._finish(action, started, lambda: outcome)

    def _finish(self, action: Action, started: float, wait: Callable[[], str]) -> BotResult:
        try:
            message = wait()
            self.steps.remove_leftovers(action)
        except Exception as exc:  # noqa: BLE001 - mapped per bot in _result
            return self._result(action, started, error=exc)
        return self._result(action, started, message=message)

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
        self.progress(action.bot, "done" if ok else "fail", f"{message} in {seconds:.1f}s" if ok else message)
        return BotResult(action.bot, action.action, ok, message, seconds, rolled_back)


def _resolve(f: Future[BotResult | Future[BotResult]]) -> BotResult:
    result = f.result()
    return result.result() if isinstance(result, Future) else result
