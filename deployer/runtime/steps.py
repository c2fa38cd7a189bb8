"""The engine steps that carry out one action, one per Method (STEPS): what a create, a stop-first
replace, a hot reload, ... call on the backend, in which order, and how a failed one is rolled
back. The planner chose the method; nothing here decides between methods, apart from following
an action's `fallback` when the gateway does not confirm a hot reload. Rollout policy (how many
at once, when to stop) is the applier's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deployer.backends.base import Backend, InEngineReplace, UnitStatus
from deployer.core.model import Action, BotSpec, Method, Observed, fingerprint_label
from deployer.core.spec import spec_hash
from deployer.core.vocabulary import LABEL_SECRETS
from deployer.errors import EngineError, HostFileError, RolledBack
from deployer.plan.planner import PlanOptions, desired_spec
from deployer.runtime import gateway_files
from deployer.runtime.hot_reload import ReloadFailed, reload_gateway
from deployer.runtime.remote_secrets import redact_logs
from deployer.runtime.stamps import Stamp


class StartFailed(Exception):
    """A unit did not prove itself (exited, unhealthy, not running in time), or a reload failed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StepRolledBack(Exception):
    """The step failed and the bot runs what it ran before (the message says so)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Deferred:
    """The rest of a step that only waits (for a started unit to prove itself)."""

    wait: Callable[[], str]


Outcome = str | Deferred  # the result message, or the wait that yields it


class Steps:
    """The steps of one apply on one engine; shares image pulls between the bots of the apply."""

    def __init__(self, engine: Backend, fleet: str, plan_options: PlanOptions, *, stamp: Stamp | None,
                 observed: Observed | None, wait_timeout: float, stop_timeout: int, settle: float,
                 reload_timeout: float):
        self.engine = engine
        self.fleet = fleet
        self.plan_options = plan_options
        self.stamp = stamp  # revision labels put on every unit created
        self.observed = observed  # what the plan saw: the configs a rollback restores, image users
        self.wait_timeout = wait_timeout
        self.stop_timeout = stop_timeout
        self.settle = settle  # how long a unit without healthcheck must stay up to count as started
        self.reload_timeout = reload_timeout  # how long a gateway gets to report that it applied a new config
        self._images_lock = threading.Lock()
        self._image_locks: dict[tuple[str, str], threading.Lock] = {}
        self._images_ready: set[tuple[str, str]] = set()

    # -- one step per method -------------------------------------------------------------------
    def create(self, action: Action) -> Outcome:
        bot = _desired(action)
        self.ensure_image(bot)
        if action.write_config:
            gateway_files.prepare_host(bot, self._image_users())
        new_id = self.create_unit(bot)
        if bot.state == "running":
            self.engine.start(new_id, bot.container_name)
            return Deferred(lambda: self._wait_then(new_id, bot, "created and started"))
        return "created (stopped, as the manifest says)"

    def stop_first_replace(self, action: Action) -> str:
        """Stop-first: a Telegram token allows one poller, so old and new never run together. The
        old unit is kept aside (renamed) until the new one is up, and restored if it is not."""
        bot = _desired(action)
        self.ensure_image(bot)  # a failed pull leaves the current unit untouched
        old_id = action.container_id
        assert old_id is not None
        old_status = self.engine.inspect(old_id)
        was_running = old_status.running
        aside = self.engine.traits.aside_name(bot.container_name, old_id, self.stamp.run if self.stamp else "")
        if was_running:
            self.engine.stop(old_id, bot.container_name, timeout=self.stop_timeout)
        if old_status.name != aside:
            self.engine.rename(old_id, aside)
        try:
            if action.write_config:
                gateway_files.prepare_host(bot, self._image_users())  # after the stop: the old gateway never sees it
            new_id = self.create_unit(bot)
        except (EngineError, HostFileError) as exc:
            self._restore(old_id, bot, was_running, action)
            raise StepRolledBack(f"rolled back: {exc}; the old container was restored") from None
        if bot.state == "running":
            try:
                self._start_and_wait(new_id, bot)
            except (EngineError, StartFailed) as exc:
                self._discard(new_id)
                self._restore(old_id, bot, was_running, action)
                raise StepRolledBack(f"rolled back: {exc}; the old container was restored") from None
        self.engine.remove(old_id, aside)
        return "replaced" + (" and started" if bot.state == "running" else " (stopped)")

    def finish_replace(self, action: Action) -> str:
        """The rest of a stop-first replace an earlier apply left unfinished (killed while it
        waited): the new unit (the action's) must prove itself as the replace would have made it,
        started or unpaused first if need be, before the old unit kept aside goes (with the
        action's leftovers, after this step). If it does not, it is removed and the aside copy is
        renamed back and started: the bot is rolled back, as the uninterrupted replace would have
        rolled it back. In-place changes that ride along are made first."""
        bot = _desired(action)
        new_id, old_id = action.container_id, action.aside
        assert new_id is not None and old_id is not None, f"finishing the replace of {bot.name} needs both units"
        self._update_settings(action, bot)
        if action.write_config:
            gateway_files.write_config(bot)
        try:
            status = self.engine.inspect(new_id)
            if status.status == "paused":
                self.engine.unpause(new_id, bot.container_name)
            elif not status.running:
                self.engine.start(new_id, bot.container_name)
            self._wait_started(new_id, bot)
        except (EngineError, StartFailed) as exc:
            self._discard(new_id)
            self._restore(old_id, bot, True, action)
            # the interrupted replace wrote the new gateway config before it made the new unit, and
            # kept no copy of the old one: the restored gateway reads the new file
            config = (" with the generated config of the new one (the interrupted apply kept no copy of the old)"
                      if bot.is_openclaw else "")
            raise StepRolledBack(f"rolled back: the replace an earlier apply left unfinished did not complete: {exc}; "
                                 f"the old container was restored{config}") from None
        return "finished the replace an earlier apply left unfinished: the new container is ready, the old one is removed"

    def in_engine_replace(self, action: Action) -> str:
        """One engine-side update (a swarm service: stop-first, rollback on failure)."""
        bot = _desired(action)
        self.ensure_image(bot)
        assert action.container_id is not None and isinstance(self.engine, InEngineReplace)
        spec, labels = self._unit_spec(bot)
        try:
            unit_id = self.engine.replace_unit(
                action.container_id, bot, fleet=self.fleet, spec=spec, spec_hash=spec_hash(spec),
                secrets_dir=self.plan_options.secrets_dir, extra_labels=labels)
        except RolledBack as exc:
            raise StepRolledBack(f"rolled back: {exc}") from None
        if bot.state == "running":
            self._wait_started(unit_id, bot)
        return "replaced" + (" and started" if bot.state == "running" else " (stopped)")

    def in_place(self, action: Action) -> str:
        """The engine's in-place settings, then the state change that rides along; an OpenClaw
        config is written for the gateway to read when it (next) starts."""
        bot = _desired(action)
        assert action.container_id
        self._update_settings(action, bot)
        fields = ", ".join(c.field for c in action.changes)
        state = next((c.after for c in action.changes if c.field == "state"), None)
        if action.write_config:
            gateway_files.write_config(bot)
        if state == "stopped":
            self.engine.stop(action.container_id, bot.container_name, timeout=self.stop_timeout)
            return f"updated {fields} in place and stopped"
        if state == "running":
            if _was_paused(action):
                self._unpause_and_wait(action.container_id, bot)
                return f"updated {fields} in place and unpaused"
            self._start_and_wait(action.container_id, bot)
            return f"updated {fields} in place and started"
        return f"updated {fields} in place"

    def hot_reload(self, action: Action) -> Outcome:
        """The in-place settings, then the new config handed to the running gateway, which must
        say it applied it; when it does not, the action's fallback (a replace) carries it out."""
        bot = _desired(action)
        container_id = action.container_id
        assert container_id
        self._update_settings(action, bot)
        fields = ", ".join(c.field for c in action.changes)
        if not self.engine.inspect(container_id).running:
            gateway_files.write_config(bot)  # stopped since the plan: read by the gateway when it starts
            return f"updated {fields} in place"
        try:
            line = reload_gateway(self.engine, container_id, bot, write=lambda: gateway_files.write_config(bot),
                                  timeout=self.reload_timeout, secrets_dir=self.plan_options.secrets_dir)
        except ReloadFailed as failed:
            if action.fallback is None:
                raise StartFailed(failed.message) from None
            return self._fall_back(action, action.fallback, failed.message)
        return f"updated {fields} in place; {line}"

    def start(self, action: Action) -> Outcome:
        bot = _desired(action)
        container_id = action.container_id
        assert container_id
        self.engine.start(container_id, bot.container_name)
        return Deferred(lambda: self._wait_then(container_id, bot, "started"))

    def unpause(self, action: Action) -> Outcome:
        """A unit paused by hand: its processes resume where they were (a start is refused)."""
        bot = _desired(action)
        container_id = action.container_id
        assert container_id
        self.engine.unpause(container_id, bot.container_name)
        return Deferred(lambda: self._resumed_then(container_id, bot))

    def stop(self, action: Action) -> str:
        assert action.container_id
        self.engine.stop(action.container_id, action.bot, timeout=self.stop_timeout)
        return "stopped"

    def remove(self, action: Action) -> str:
        assert action.container_id
        self.engine.stop(action.container_id, action.bot, timeout=self.stop_timeout)
        self.engine.remove(action.container_id, action.bot)
        return "removed (volumes and secrets kept)"

    def clean_up(self, action: Action) -> str:
        return "removed leftovers of an interrupted apply"  # the leftovers go after every step

    def remove_leftovers(self, action: Action) -> None:
        """Stale copies of the bot (renamed aside by an interrupted apply), once its step succeeded."""
        for leftover in action.leftovers:
            self.engine.remove(leftover)

    # -- the pieces ------------------------------------------------------------------------------
    def _fall_back(self, action: Action, method: Method, why: str) -> str:
        """The plan promised no restart, but a bot on its old config is worse: the gateway did not
        confirm the reload, so `method` (a replace) carries the action out, and the message says so."""
        said = f"hot reload failed: {why}; fell back to {'an' if method[0] in 'aeiou' else 'a'} {method}"
        try:
            outcome = STEPS[method](self, action)
            return f"{said}: {outcome.wait() if isinstance(outcome, Deferred) else outcome}"
        except StepRolledBack as exc:
            raise StepRolledBack(f"{said}: {exc.message}") from None
        except (EngineError, StartFailed) as exc:
            raise StartFailed(f"{said}: {exc}") from None

    def ensure_image(self, bot: BotSpec) -> None:
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

    def create_unit(self, bot: BotSpec) -> str:
        """A new unit for `bot`, with the canonical spec, hash, secret fingerprints and revision labels."""
        spec, extra = self._unit_spec(bot)
        return self.engine.create(
            bot, fleet=self.fleet, spec=spec, spec_hash=spec_hash(spec),
            secrets_dir=self.plan_options.secrets_dir, extra_labels=extra,
        )

    def _unit_spec(self, bot: BotSpec) -> tuple[dict[str, Any], dict[str, str]]:
        """The canonical spec a new unit records, and the labels it carries besides ours."""
        spec = desired_spec(bot, self.plan_options)
        prints = self.plan_options.secret_fingerprints.get(bot.name)
        extra = {LABEL_SECRETS: fingerprint_label(prints)} if prints else {}
        if self.stamp is not None:
            extra.update(self.stamp.labels_for(bot))
        return spec, extra

    def _update_settings(self, action: Action, bot: BotSpec) -> None:
        """One engine update when a changed field is one of the backend's in-place settings."""
        assert action.container_id
        if any(c.field in self.engine.traits.in_place_fields for c in action.changes):
            self.engine.update(action.container_id, bot, bot.container_name)

    def _start_and_wait(self, container_id: str, bot: BotSpec) -> UnitStatus:
        self.engine.start(container_id, bot.container_name)
        return self._wait_started(container_id, bot)

    def _unpause_and_wait(self, container_id: str, bot: BotSpec) -> UnitStatus:
        self.engine.unpause(container_id, bot.container_name)
        return self._wait_resumed(container_id, bot)

    def _resumed_then(self, container_id: str, bot: BotSpec) -> str:
        self._wait_resumed(container_id, bot)
        return "unpaused"

    def _wait_resumed(self, container_id: str, bot: BotSpec) -> UnitStatus:
        """A resumed unit must stay up for the settle time. Its healthcheck is not waited for: it
        failed its probes while frozen, and says so until the next probe passes, an interval later
        (`status` shows it)."""
        st = self.engine.wait_ready(container_id, timeout=self.wait_timeout, settle=self.settle, healthcheck=False)
        if st.running and st.status != "paused" and st.status not in ("exited", "dead", "restarting"):
            return st
        raise StartFailed(f"container is {st.status} after it was unpaused, not running")

    def _wait_then(self, container_id: str, bot: BotSpec, message: str) -> str:
        self._wait_started(container_id, bot)
        return message

    def _wait_started(self, container_id: str, bot: BotSpec) -> UnitStatus:
        began = time.monotonic()
        st = self.engine.wait_ready(container_id, timeout=self.wait_timeout, settle=self.settle,
                                    healthcheck=bot.healthcheck is not None)
        took = time.monotonic() - began  # what the message says: an unhealthy unit may say so long before the timeout
        ok = st.running and st.restart_count == 0 and (bot.healthcheck is None or st.health == "healthy")
        if ok:
            return st
        if st.status in ("exited", "dead") or st.restart_count > 0 or st.status == "restarting":
            # never quote a secret the container printed (the CLI output ends up in CI logs)
            logs = redact_logs(self.engine, self.engine.logs_tail(container_id, 10), bot, self.plan_options.secrets_dir)
            tail = " | ".join(line for line in logs.splitlines()[-5:] if line.strip())
            # running again after a restart: the engine has reset ExitCode to 0, so don't quote it
            code = "" if st.status == "running" else f" with code {st.exit_code}"
            raise StartFailed(
                f"container exited{code} right after start"
                + (f" (restarted {st.restart_count}x)" if st.restart_count else "")
                + (f"; last log lines: {tail}" if tail else "; no log output")
            )
        if bot.healthcheck is not None and st.health != "healthy":
            raise StartFailed(f"container is {st.health or 'not healthy'} after {took:.1f}s")
        raise StartFailed(f"container is {st.status} after {took:.1f}s, not running")

    def _discard(self, container_id: str) -> None:
        try:
            self.engine.remove(container_id)
        except EngineError:
            pass  # reported by the next plan as a leftover if it survived

    def _restore(self, old_id: str, bot: BotSpec, was_running: bool, action: Action) -> None:
        if action.write_config:
            gateway_files.restore_config(bot, self.observed.configs.get(bot.name) if self.observed else None)
        self.engine.rename(old_id, bot.container_name)
        if was_running:
            self.engine.start(old_id, bot.container_name)

    def _image_users(self) -> dict[str, str | None] | None:
        return self.observed.image_users if self.observed else None


def _was_paused(action: Action) -> bool:
    return any(c.field == "state" and c.before == "paused" for c in action.changes)


def _desired(action: Action) -> BotSpec:
    assert action.desired is not None, f"action {action.action} for {action.bot} has no desired spec"
    return action.desired


# Every method the applier carries out, and its step. An orphan (Method.LEAVE) is never carried out.
STEPS: dict[Method, Callable[[Steps, Action], Outcome]] = {
    Method.CREATE: Steps.create,
    Method.STOP_FIRST_REPLACE: Steps.stop_first_replace,
    Method.IN_ENGINE_REPLACE: Steps.in_engine_replace,
    Method.IN_PLACE: Steps.in_place,
    Method.HOT_RELOAD: Steps.hot_reload,
    Method.START: Steps.start,
    Method.UNPAUSE: Steps.unpause,
    Method.STOP: Steps.stop,
    Method.REMOVE: Steps.remove,
    Method.CLEAN_UP: Steps.clean_up,
    Method.FINISH_REPLACE: Steps.finish_replace,
}
