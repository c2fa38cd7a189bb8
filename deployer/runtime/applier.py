"""Executes exactly a Plan's actions through an engine: bounded parallelism, stop-first replace
with rollback, removals last. Progress goes to a callback; nothing here prints or prompts."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from deployer.backends.base import Backend, InEngineReplace
from deployer.backends.base import UnitStatus as ContainerStatus
from deployer.core.model import (
    CREATE,
    NOOP,
    ORPHAN,
    REMOVE,
    REPLACE,
    START,
    STOP,
    UPDATE,
    Action,
    BotSpec,
    Observed,
    Plan,
    container_uid,
    fingerprint_label,
)
from deployer.core.spec import spec_hash
from deployer.core.vocabulary import LABEL_SECRETS
from deployer.core.vocabulary import OPENCLAW_UID as DEFAULT_UID
from deployer.errors import EngineError, HostFileError, RolledBack
from deployer.openclaw.config import CONFIG_FILE, CONFIG_MOUNT, STATE_MOUNT, config_bytes, render_config
from deployer.openclaw.container import config_path, host_dir
from deployer.openclaw.reload import reload_outcome
from deployer.plan.planner import PlanOptions, desired_spec
from deployer.runtime.hostfiles import ensure_dir, write_atomic
from deployer.runtime.stamps import Stamp
from deployer.secrets.checks import redact

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


class StartFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Applier:
    def __init__(self, engine: Backend, fleet: str, options: ApplyOptions,
                 progress: Progress = lambda bot, event, message: None):
        self.engine = engine
        self.fleet = fleet
        self.options = options
        self.plan_options = options.plan_options or PlanOptions(traits=engine.traits)
        self.progress = progress
        self.cancelled = threading.Event()
        # asked before every new action: a reason to start no more (e.g. the fleet lock was lost)
        self.hold: Callable[[], str | None] = lambda: None
        self._failures = 0
        self._count_lock = threading.Lock()
        self._images_lock = threading.Lock()
        self._image_locks: dict[tuple[str, str], threading.Lock] = {}
        self._images_ready: set[tuple[str, str]] = set()

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
            outcome = getattr(self, f"_{action.action}")(action)
        except Exception as exc:  # noqa: BLE001 - mapped per bot in _result
            return self._result(action, started, error=exc)
        if isinstance(outcome, _Deferred):
            return waiters.submit(self._finish, action, started, outcome.wait)
        return self._finish(action, started, lambda: outcome)

    def _finish(self, action: Action, started: float, wait: Callable[[], str]) -> BotResult:
        try:
            message = wait()
            if action.leftovers and action.action != REPLACE:
                self._remove_leftovers(action)
        except Exception as exc:  # noqa: BLE001 - mapped per bot in _result
            return self._result(action, started, error=exc)
        return self._result(action, started, message=message)

    def _result(self, action: Action, started: float, *, message: str = "", error: Exception | None = None) -> BotResult:
        rolled_back = isinstance(error, _RolledBack)
        if isinstance(error, (_RolledBack, StartFailed)):
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

    def _create(self, action: Action) -> str | _Deferred:
        bot = _desired(action)
        self._ensure_image(bot)
        if action.write_config:
            self._prepare_host(bot)
        new_id = self._create_container(bot)
        if bot.state == "running":
            self.engine.start(new_id, bot.container_name)
            return _Deferred(lambda: self._wait_then(new_id, bot, "created and started"))
        return "created (stopped, as the manifest says)"

    def _replace(self, action: Action) -> str:
        """Stop-first: a Telegram token allows one poller, so old and new never run together."""
        bot = _desired(action)
        self._ensure_image(bot)  # a failed pull leaves the current container untouched
        if self.engine.traits.aside_mark is None:
            return self._replace_in_engine(action, bot)
        old_id = action.container_id
        assert old_id is not None
        old_status = self.engine.inspect(old_id)
        was_running = old_status.running
        aside = f"{bot.container_name}{self.engine.traits.aside_mark}{old_id[:12]}"
        if was_running:
            self.engine.stop(old_id, bot.container_name, timeout=self.options.stop_timeout)
        if old_status.name != aside:
            self.engine.rename(old_id, aside)
        try:
            if action.write_config:
                self._prepare_host(bot)  # after the stop: the old gateway never sees the new config
            new_id = self._create_container(bot)
        except (EngineError, HostFileError) as exc:
            self._restore(old_id, bot, was_running, action)
            raise _RolledBack(f"rolled back: {exc}; the old container was restored") from None
        if bot.state == "running":
            try:
                self._start_and_wait(new_id, bot)
            except (EngineError, StartFailed) as exc:
                self._discard(new_id)
                self._restore(old_id, bot, was_running, action)
                raise _RolledBack(f"rolled back: {exc}; the old container was restored") from None
        self.engine.remove(old_id, aside)
        self._remove_leftovers(action)
        return "replaced" + (" and started" if bot.state == "running" else " (stopped)")

    def _replace_in_engine(self, action: Action, bot: BotSpec) -> str:
        """One engine-side update (a swarm service: stop-first, rollback on failure)."""
        assert action.container_id is not None and isinstance(self.engine, InEngineReplace)
        spec, labels = self._unit_spec(bot)
        try:
            unit_id = self.engine.replace_unit(
                action.container_id, bot, fleet=self.fleet, spec=spec, spec_hash=spec_hash(spec),
                secrets_dir=self.plan_options.secrets_dir, extra_labels=labels)
        except RolledBack as exc:
            raise _RolledBack(f"rolled back: {exc}") from None
        if bot.state == "running":
            self._wait_started(unit_id, bot)
        self._remove_leftovers(action)
        return "replaced" + (" and started" if bot.state == "running" else " (stopped)")

    def _update(self, action: Action) -> str:
        bot = _desired(action)
        assert action.container_id
        if any(c.field in self.engine.traits.in_place_fields for c in action.changes):
            self.engine.update(action.container_id, bot, bot.container_name)
        fields = ", ".join(c.field for c in action.changes)
        state = next((c.after for c in action.changes if c.field == "state"), None)
        reloaded = ""
        if action.write_config:
            if state is None and self.engine.inspect(action.container_id).running:
                try:
                    reloaded = self._reload(action.container_id, bot)
                except StartFailed as exc:
                    # the plan promised no restart, but a bot on its old config is worse: replace
                    return f"{exc.message}; replaced instead: " + self._replace(action)
            else:
                self._write_config(bot)  # read by the gateway when it starts
        if state == "stopped":
            self.engine.stop(action.container_id, bot.container_name, timeout=self.options.stop_timeout)
            return f"updated {fields} in place and stopped"
        if state == "running":
            self._start_and_wait(action.container_id, bot)
            return f"updated {fields} in place and started"
        return f"updated {fields} in place" + (f"; {reloaded}" if reloaded else "")

    def _start(self, action: Action) -> str | _Deferred:
        bot = _desired(action)
        container_id = action.container_id
        assert container_id
        self.engine.start(container_id, bot.container_name)
        return _Deferred(lambda: self._wait_then(container_id, bot, "started"))

    def _stop(self, action: Action) -> str:
        assert action.container_id
        self.engine.stop(action.container_id, action.bot, timeout=self.options.stop_timeout)
        return "stopped"

    def _remove(self, action: Action) -> str:
        assert action.container_id
        self.engine.stop(action.container_id, action.bot, timeout=self.options.stop_timeout)
        self.engine.remove(action.container_id, action.bot)
        return "removed (volumes and secrets kept)"

    def _noop(self, action: Action) -> str:
        return "removed leftovers of an interrupted apply"

    # -- steps ---------------------------------------------------------------------------------
    def _ensure_image(self, bot: BotSpec) -> None:
        """Look up (or pull) each image once per apply, not once per bot; a failure is not
        remembered, so every bot that needs the image reports it."""
        ref = bot.image
        with self._images_lock:
            ref_lock = self._image_locks.setdefault((ref, bot.pull_policy), threading.Lock())
        with ref_lock:
            if (ref, bot.pull_policy) in self._images_ready:
                return
            if bot.pull_policy == "Always":
                self.engine.pull(ref)
            elif self.engine.image_id(ref) is None:
                if bot.pull_policy == "Never":
                    raise EngineError(f"image {ref} is not on the engine and pullPolicy is Never")
                self.engine.pull(ref)
            self._images_ready.add((ref, bot.pull_policy))

    def _unit_spec(self, bot: BotSpec) -> tuple[dict, dict[str, str]]:
        """The canonical spec a new unit records, and the labels it carries besides ours."""
        spec = desired_spec(bot, self.plan_options)
        prints = self.plan_options.secret_fingerprints.get(bot.name)
        extra = {LABEL_SECRETS: fingerprint_label(prints)} if prints else {}
        if self.options.stamp is not None:
            extra.update(self.options.stamp.labels_for(bot))
        return spec, extra

    def _create_container(self, bot: BotSpec) -> str:
        spec, extra = self._unit_spec(bot)
        return self.engine.create(
            bot, fleet=self.fleet, spec=spec, spec_hash=spec_hash(spec),
            secrets_dir=self.plan_options.secrets_dir, extra_labels=extra,
        )

    def _start_and_wait(self, container_id: str, bot: BotSpec) -> ContainerStatus:
        self.engine.start(container_id, bot.container_name)
        return self._wait_started(container_id, bot)

    def _wait_then(self, container_id: str, bot: BotSpec, message: str) -> str:
        self._wait_started(container_id, bot)
        return message

    def _wait_started(self, container_id: str, bot: BotSpec) -> ContainerStatus:
        st = self.engine.wait_ready(
            container_id, timeout=self.options.wait_timeout, settle=self.options.settle,
            healthcheck=bot.healthcheck is not None,
        )
        ok = st.running and st.restart_count == 0 and (bot.healthcheck is None or st.health == "healthy")
        if ok:
            return st
        if st.status in ("exited", "dead") or st.restart_count > 0 or st.status == "restarting":
            # never quote a secret the container printed (the CLI output ends up in CI logs)
            logs = self.engine.logs_tail(container_id, 10)
            secrets_dir = self.plan_options.secrets_dir
            if not self.engine.endpoint.files_local and secrets_dir:
                # the values are on the engine's host, not here: redact there, or quote nothing
                from deployer.runtime.remote_secrets import redact_on_engine

                logs = logs and (redact_on_engine(self.engine, logs, bot.image, f"{secrets_dir.rstrip('/')}/{bot.name}")
                                 or f"(not quoted: the secrets could not be redacted; on the host: docker logs {bot.container_name})")
            else:
                logs = redact(logs, bot, secrets_dir)
            tail = " | ".join(line for line in logs.splitlines()[-5:] if line.strip())
            # running again after a restart: the engine has reset ExitCode to 0, so don't quote it
            code = "" if st.status == "running" else f" with code {st.exit_code}"
            raise StartFailed(
                f"container exited{code} right after start"
                + (f" (restarted {st.restart_count}x)" if st.restart_count else "")
                + (f"; last log lines: {tail}" if tail else "; no log output")
            )
        if bot.healthcheck is not None and st.health != "healthy":
            raise StartFailed(f"container is {st.health or 'not healthy'} after {self.options.wait_timeout:.0f}s")
        raise StartFailed(f"container is {st.status} after {self.options.wait_timeout:.0f}s, not running")

    def _discard(self, container_id: str) -> None:
        try:
            self.engine.remove(container_id)
        except EngineError:
            pass  # reported by the next plan as a leftover if it survived

    def _restore(self, old_id: str, bot: BotSpec, was_running: bool, action: Action) -> None:
        if action.write_config:
            self._restore_config(bot)
        self.engine.rename(old_id, bot.container_name)
        if was_running:
            self.engine.start(old_id, bot.container_name)

    # -- the gateway's files on the host ---------------------------------------------------------
    def _uid(self, bot: BotSpec) -> int:
        users = self.options.observed.image_users if self.options.observed else None
        return container_uid(bot, users) or DEFAULT_UID

    def _prepare_host(self, bot: BotSpec) -> None:
        """The bot's state dir (0700, owned by the gateway's uid; never deleted) and its config."""
        state = host_dir(bot, STATE_MOUNT)
        if state:
            uid = self._uid(bot)
            ensure_dir(state, mode=0o700, uid=uid, gid=uid)
        self._write_config(bot)

    def _write_config(self, bot: BotSpec) -> None:
        directory = host_dir(bot, CONFIG_MOUNT)
        assert directory is not None
        ensure_dir(directory, mode=0o755)
        write_atomic(f"{directory}/{CONFIG_FILE}", config_bytes(render_config(bot)), mode=0o644)

    def _restore_config(self, bot: BotSpec) -> None:
        """Put back the config the old container ran with (a rollback must not leave it the new one)."""
        path = config_path(bot)
        old = self.options.observed.configs.get(bot.name) if self.options.observed else None
        if path is None:
            return
        if old is None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        else:
            write_atomic(path, old, mode=0o644)

    def _reload(self, container_id: str, bot: BotSpec) -> str:
        """Write the new config into the mounted directory and wait for the running gateway to
        report that it applied it (its own log line); StartFailed when it did not."""
        since = time.time()
        self._write_config(bot)
        deadline = time.monotonic() + self.options.reload_timeout
        while True:
            verdict = reload_outcome(self.engine.logs_since(container_id, since - 1), since - 0.5)
            if verdict is not None:
                ok, line = verdict
                if not ok:
                    raise StartFailed("the gateway did not apply the new config: "
                                      + redact(line, bot, self.plan_options.secrets_dir))
                return line
            st = self.engine.inspect(container_id)
            if not st.running or st.restart_count > 0:
                raise StartFailed(f"the gateway stopped while reloading its config (status {st.status})")
            if time.monotonic() >= deadline:
                raise StartFailed(f"the gateway did not report a config reload within "
                                  f"{self.options.reload_timeout:.0f}s")
            time.sleep(0.5)

    def _remove_leftovers(self, action: Action) -> None:
        for leftover in action.leftovers:
            self.engine.remove(leftover)


@dataclass(frozen=True)
class _Deferred:
    """The rest of an action that only waits (for a started container to prove itself)."""

    wait: Callable[[], str]


def _resolve(f: Future[BotResult | Future[BotResult]]) -> BotResult:
    result = f.result()
    return result.result() if isinstance(result, Future) else result


class _RolledBack(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _desired(action: Action) -> BotSpec:
    assert action.desired is not None, f"action {action.action} for {action.bot} has no desired spec"
    return action.desired
