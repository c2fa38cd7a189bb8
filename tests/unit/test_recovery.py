"""Recovery on the in-memory backend (tests.support.fake_backend): a replace an earlier apply left
unfinished is finished as it would have been (the new unit proves itself before the aside copy
goes, else the aside copy is restored), and a bot paused by hand is unpaused, not started. Planned
by the pure planner, carried out through the whole apply flow (lock, plan, apply, record), read
back from the fake's containers and call log. No Docker."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from typing import Any

import pytest

from deployer.backends.base import MUTATING
from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.core.model import NOOP, REPLACE, START, STOP, UPDATE, BotSpec, Change, FleetSpec, Healthcheck, Method
from deployer.core.spec import container_spec, spec_hash
from deployer.errors import LockHeld
from deployer.flows.apply import ApplyHooks, ApplyRequest, ApplyStatus, run_apply
from deployer.flows.prepare import PlanSettings, prepare
from deployer.runtime.lock import (
    LABEL_LOCK,
    LABEL_LOCK_BEAT_OF,
    LABEL_LOCK_TOKEN,
    FleetLock,
    beat_name,
    force_unlock,
    lock_name,
)
from tests.support.fake_backend import FakeBackend

FLEET = "rec"
MIB = 1024 * 1024
PROBE = Healthcheck(("CMD", "true"))


def bot(name: str = "a", **fields: Any) -> BotSpec:
    return BotSpec(name=name, **{"image": "img:1", **fields})


def fleet(*bots: BotSpec) -> FleetSpec:
    return FleetSpec(name=FLEET, bots=bots)


def deployed(engine: FakeBackend, b: BotSpec, *, name: str | None = None, running: bool = True) -> str:
    """A container of `b` as an earlier apply left it (optionally under another name)."""
    s = container_spec(b)
    cid = engine.create(b, fleet=FLEET, spec=s, spec_hash=spec_hash(s), secrets_dir=None)
    if name is not None:
        engine.rename(cid, name)
    if running:
        engine.start(cid)
    return cid


def apply(engine: FakeBackend, spec: FleetSpec, **kw: Any):
    engine.log.clear()
    return run_apply(ApplyRequest(fleet=spec, settings=PlanSettings(**kw), revision="r1", wait_timeout=5), engine)


def mutations(engine: FakeBackend) -> list[tuple[str, str]]:
    return [(c.kind, f"{c.name}>{c.new_name}" if c.kind == "rename" else c.name)
            for c in engine.log if c.kind in MUTATING]


def plan_of(engine: FakeBackend, spec: FleetSpec):
    settings = PlanSettings()
    return prepare(spec, settings.plan_options(spec, engine.traits), engine, preflight=False).plan


def interrupted(engine: FakeBackend, old: BotSpec, new: BotSpec, *, new_state: str = "running",
                health: str | None = None) -> tuple[str, str]:
    """What a replace killed while it waited leaves: the old unit stopped and renamed aside, the
    new one created (and started, unless new_state="created") under the bot's name."""
    old_id = deployed(engine, old)
    engine.stop(old_id)
    engine.rename(old_id, f"{old.container_name}{DOCKER_TRAITS.aside_mark}{old_id[:12]}")
    new_id = deployed(engine, new, running=new_state == "running")
    engine.containers[new_id].health = health
    return old_id, new_id


# --- an interrupted replace ------------------------------------------------------------------------

def test_an_unhealthy_new_unit_beside_an_aside_copy_is_planned_as_a_replace_to_finish() -> None:
    engine = FakeBackend()
    old_id, new_id = interrupted(engine, bot(), bot(env=(("V", "2"),), healthcheck=PROBE), health="unhealthy")
    (action,) = plan_of(engine, fleet(bot(env=(("V", "2"),), healthcheck=PROBE))).actions
    assert (action.action, action.method, action.container_id, action.aside) == (
        REPLACE, Method.FINISH_REPLACE, new_id, old_id)
    assert action.leftovers == (old_id,)
    assert action.changes == (Change("health", "unhealthy", "healthy"),)
    assert action.reasons == (
        f"a replace was interrupted: the new container is running (unhealthy) and the old one is kept aside as "
        f"botmaker-a_old_{old_id[:12]}; apply waits for the new one to be ready and healthy before the old one "
        "is removed, and restores the old one if it is not",)


def test_apply_restores_the_aside_copy_when_the_new_unit_is_unhealthy() -> None:
    """The defect: the next apply removed the old (working) copy and kept the unhealthy one."""
    engine = FakeBackend()
    new_bot = bot(env=(("V", "2"),), healthcheck=PROBE)
    old_id, new_id = interrupted(engine, bot(), new_bot, health="unhealthy")
    outcome = apply(engine, fleet(new_bot))
    assert outcome.report is not None
    (result,) = outcome.report.results
    assert not result.ok and result.rolled_back, result
    # the time it took, not the wait timeout (issue 24's rollback-message paper cut)
    assert re.fullmatch(r"rolled back: the replace an earlier apply left unfinished did not complete: container "
                        r"is unhealthy after \d+\.\ds; the old container was restored", result.message), result.message
    assert mutations(engine) == [("remove", "botmaker-a"), ("rename", f"botmaker-a_old_{old_id[:12]}>botmaker-a"),
                                 ("start", "botmaker-a")]
    assert [(c.id, c.name, c.status) for c in engine.containers.values() if not c.marker] == [
        (old_id, "botmaker-a", "running")]
    assert new_id not in engine.containers
    # the bot is back where the uninterrupted apply would have left it: the next apply tries again
    (again,) = plan_of(engine, fleet(new_bot)).actions
    assert (again.action, again.method, again.leftovers) == (REPLACE, Method.STOP_FIRST_REPLACE, ())


def test_a_new_unit_never_started_is_started_and_proven_before_the_aside_copy_goes() -> None:
    engine = FakeBackend()
    new_bot = bot(env=(("V", "2"),))
    old_id, new_id = interrupted(engine, bot(), new_bot, new_state="created")
    (action,) = plan_of(engine, fleet(new_bot)).actions
    assert (action.action, action.method, action.changes) == (
        REPLACE, Method.FINISH_REPLACE, (Change("state", "created", "running"),))
    outcome = apply(engine, fleet(new_bot))
    assert outcome.report is not None and [r.ok for r in outcome.report.results] == [True]
    assert outcome.report.results[0].message.startswith("finished the replace an earlier apply left unfinished")
    assert mutations(engine) == [("start", "botmaker-a"), ("remove", f"botmaker-a_old_{old_id[:12]}")]
    assert [(c.id, c.status) for c in engine.containers.values() if not c.marker] == [(new_id, "running")]


def test_a_ready_new_unit_is_a_clean_up_that_still_checks_before_the_aside_copy_goes() -> None:
    engine = FakeBackend()
    new_bot = bot(env=(("V", "2"),), healthcheck=PROBE)
    old_id, new_id = interrupted(engine, bot(), new_bot, health="healthy")
    (action,) = plan_of(engine, fleet(new_bot)).actions
    assert (action.action, action.method, action.aside) == (NOOP, Method.FINISH_REPLACE, old_id)
    assert action.reasons == (f"copies left by an interrupted apply will be removed: botmaker-a_old_{old_id[:12]}",)
    engine.containers[new_id].health = "unhealthy"  # since the plan
    outcome = apply(engine, fleet(new_bot))
    assert outcome.report is not None and outcome.report.results[0].rolled_back
    assert [(c.id, c.name) for c in engine.containers.values() if not c.marker] == [(old_id, "botmaker-a")]


def test_the_oldest_aside_copy_is_the_one_restored() -> None:
    engine = FakeBackend()
    now = [1000.0]
    engine.clock = lambda: now[0]
    new_bot = bot(env=(("V", "3"),), healthcheck=PROBE)
    first = deployed(engine, bot())
    engine.stop(first)
    engine.rename(first, "botmaker-a_old_first")
    now[0] += 60
    second = deployed(engine, bot(env=(("V", "2"),)))  # a replace that never proved itself either
    engine.stop(second)
    engine.rename(second, "botmaker-a_old_second")
    now[0] += 60
    deployed(engine, new_bot)
    (action,) = plan_of(engine, fleet(new_bot)).actions
    assert action.method is Method.FINISH_REPLACE and action.aside == first
    assert set(action.leftovers) == {first, second}


def test_a_manifest_changed_since_the_interrupted_replace_is_a_plain_replace_of_the_new_unit() -> None:
    engine = FakeBackend()
    old_id, new_id = interrupted(engine, bot(), bot(env=(("V", "2"),)), health=None)
    (action,) = plan_of(engine, fleet(bot(env=(("V", "3"),)))).actions
    assert (action.action, action.method, action.container_id, action.leftovers) == (
        REPLACE, Method.STOP_FIRST_REPLACE, new_id, (old_id,))


# --- a paused bot ------------------------------------------------------------------------------------

def test_a_paused_bot_is_planned_to_be_unpaused_not_started() -> None:
    engine = FakeBackend()
    b = bot()
    engine.pause(deployed(engine, b))
    (action,) = plan_of(engine, fleet(b)).actions
    assert (action.action, action.method) == (START, Method.UNPAUSE)
    assert action.changes == (Change("state", "paused", "running"),)
    assert action.reasons == ("container is paused, manifest says running: it will be unpaused "
                              "(a paused unit cannot be started)",)


def test_apply_unpauses_a_paused_bot_and_the_next_plan_is_clean() -> None:
    engine = FakeBackend()
    b = bot()
    cid = deployed(engine, b)
    engine.pause(cid)
    outcome = apply(engine, fleet(b))
    assert outcome.status is ApplyStatus.APPLIED and outcome.report is not None
    assert [(r.ok, r.message) for r in outcome.report.results] == [(True, "unpaused")]
    assert mutations(engine) == [("unpause", "botmaker-a")]
    assert engine.containers[cid].status == "running"
    assert not plan_of(engine, fleet(b)).has_changes


def test_a_paused_bot_whose_manifest_says_stopped_is_stopped() -> None:
    engine = FakeBackend()
    b = bot(state="stopped")
    cid = deployed(engine, bot())
    engine.pause(cid)
    (action,) = plan_of(engine, fleet(b)).actions
    assert (action.action, action.changes) == (STOP, (Change("state", "paused", "stopped"),))
    apply(engine, fleet(b))
    assert engine.containers[cid].status == "exited"


def test_an_in_place_update_of_a_paused_bot_unpauses_it() -> None:
    engine = FakeBackend()
    b = bot(memory_bytes=64 * MIB)
    cid = deployed(engine, b)
    engine.pause(cid)
    wanted = dataclasses.replace(b, memory_bytes=96 * MIB)
    (action,) = plan_of(engine, fleet(wanted)).actions
    assert action.action == UPDATE and Change("state", "paused", "running") in action.changes
    outcome = apply(engine, fleet(wanted))
    assert outcome.report is not None and outcome.report.results[0].message == "updated memory, state in place and unpaused"
    assert mutations(engine) == [("update", "botmaker-a"), ("unpause", "botmaker-a")]
    assert engine.containers[cid].status == "running" and engine.containers[cid].memory_bytes == 96 * MIB


# --- a run that lost its lock (unlock --force) ------------------------------------------------------

def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_holder_looks_at_its_lock_before_each_new_change() -> None:
    """The defect: the holder looked at its lock only on heartbeats (every TTL/4, 15 s by default),
    so after `unlock --force` it went on starting changes beside the next apply."""
    engine = FakeBackend()
    bots = [bot(n) for n in "abc"]
    for b in bots:
        deployed(engine, b)
    wanted = fleet(*(dataclasses.replace(b, image="img:2") for b in bots))

    def unlock_after_the_first(name: str, event: str, message: str) -> None:
        if name == "a" and event == "done":
            force_unlock(engine, FLEET)  # what `deployer unlock FLEET --force` does

    engine.log.clear()
    outcome = run_apply(ApplyRequest(fleet=wanted, revision="r1", wait_timeout=5, parallelism=1),
                        engine, ApplyHooks(progress=unlock_after_the_first))
    report = outcome.report
    assert report is not None
    assert [r.bot for r in report.results] == ["a"] and [a.bot for a in report.not_started] == ["b", "c"]
    assert report.stopped is not None and report.stopped.startswith("the fleet lock was lost: the fleet lock was "
                                                                    "removed by someone else")
    assert {c.name for c in engine.log if c.kind == "create"} == {"botmaker-a"}


def test_the_copy_a_replace_keeps_aside_is_named_with_its_runs_lock_token() -> None:
    engine = FakeBackend()
    b = bot()
    old_id = deployed(engine, b)
    engine.log.clear()
    tokens: list[str] = []

    def remember_the_token(name: str, event: str, message: str) -> None:
        if event == "start":
            _, markers = engine.list_markers(LABEL_LOCK, FLEET)
            tokens.extend(m.labels[LABEL_LOCK_TOKEN] for m in markers if m.name == lock_name(FLEET))

    run_apply(ApplyRequest(fleet=fleet(bot(image="img:2")), revision="r1", wait_timeout=5), engine,
              ApplyHooks(progress=remember_the_token))
    (rename,) = engine.calls_of("rename")
    assert rename.new_name == f"botmaker-a_old_{old_id[:12]}.{tokens[0]}"
    assert DOCKER_TRAITS.aside_run(rename.new_name) == tokens[0]
    assert DOCKER_TRAITS.aside_run(f"botmaker-a_old_{old_id[:12]}") is None  # set aside by an older deployer


def test_a_plan_leaves_alone_the_bot_of_a_replace_a_live_run_has_under_way() -> None:
    engine = FakeBackend()
    holder = FleetLock(engine, FLEET, ttl=30)  # another apply, alive, in the middle of a replace of a
    holder.acquire()
    try:
        new_bot = bot(env=(("V", "2"),), healthcheck=PROBE)
        old_id, new_id = interrupted(engine, bot(), new_bot, health="starting")
        aside = DOCKER_TRAITS.aside_name("botmaker-a", old_id, holder.token)
        engine.rename(old_id, aside)
        prepared = prepare(fleet(new_bot), PlanSettings().plan_options(fleet(new_bot), engine.traits), engine,
                           preflight=False)
        (action,) = prepared.plan.actions
        assert (action.action, action.method, action.leftovers) == (NOOP, Method.LEAVE, ())
        assert not prepared.plan.has_changes
        (note,) = prepared.notes
        assert note.startswith("bot a: a replace by a run still under way (")
        assert note.endswith(f"keeps {aside} aside: the bot is left alone until that run ends")
    finally:
        holder.release()
    # once that run has ended (killed: no lock, no beat), its copy is an interrupted replace to finish
    (action,) = plan_of(engine, fleet(new_bot)).actions
    assert (action.method, action.aside) == (Method.FINISH_REPLACE, old_id)


def test_unlock_force_keeps_the_last_sign_of_life_of_a_run_that_may_not_be_dead() -> None:
    engine = FakeBackend()
    young = FleetLock(engine, FLEET, ttl=30)  # has not beaten yet (its first beat comes after ttl/4)
    young.acquire()
    unlocked = force_unlock(engine, FLEET)
    assert unlocked is not None and unlocked.alive is not None and "pid" in unlocked.holder
    _, markers = engine.list_markers(LABEL_LOCK, FLEET)
    assert [(m.name, m.labels[LABEL_LOCK_BEAT_OF]) for m in markers] == [(beat_name(FLEET, young.token, 0), young.token)]
    assert young.check() is not None  # and the run itself stops starting changes at once
    young.release()  # a run that lost its lock leaves no beat behind when it ends
    assert engine.list_markers(LABEL_LOCK, FLEET)[1] == []


def test_the_next_holder_waits_for_a_run_that_lost_the_lock_to_finish() -> None:
    engine = FakeBackend()
    first = FleetLock(engine, FLEET, ttl=2, interval=0.1)
    first.acquire()
    first.changing = True  # it has changes under way
    force_unlock(engine, FLEET)
    said: list[str] = []
    second = FleetLock(engine, FLEET, ttl=2, interval=0.1, poll=0.05, notify=said.append)
    got: list[float] = []
    waiter = threading.Thread(target=lambda: (second.acquire(), got.append(time.monotonic())))
    waiter.start()
    time.sleep(0.5)  # first's changes under way: it beats on, without the lock
    wait_for(lambda: bool(said))
    assert not got and first.lost is not None and first.beats >= 2
    assert said[0].startswith(f"fleet {FLEET}: a run that lost the fleet lock still shows life: ")
    released = time.monotonic()
    first.release()
    waiter.join(5)
    assert got and got[0] >= released
    second.release()


def test_a_run_that_lost_the_lock_and_still_beats_after_its_ttl_is_not_changed_beside() -> None:
    engine = FakeBackend()
    first = FleetLock(engine, FLEET, ttl=0.6, interval=0.1)
    first.acquire()
    first.changing = True  # it has changes under way
    force_unlock(engine, FLEET)
    second = FleetLock(engine, FLEET, ttl=5, poll=0.05)
    with pytest.raises(LockHeld, match="a run that lost the fleet lock .* is still finishing its changes"):
        second.acquire()
    assert second.marker_id is None and engine.find_marker(lock_name(FLEET)) is None  # it let go of its own lock
    first.release()


def test_a_dead_run_unlocked_by_force_is_waited_for_only_until_it_falls_silent() -> None:
    engine = FakeBackend()
    dead = FleetLock(engine, FLEET, ttl=1, interval=0.1)
    dead.acquire()
    time.sleep(0.25)
    dead._stop_heartbeat()  # SIGKILL: no more beats, no release
    force_unlock(engine, FLEET)
    started = time.monotonic()
    alive = FleetLock(engine, FLEET, ttl=5, poll=0.05)
    alive.acquire()
    assert time.monotonic() - started < 3
    _, markers = engine.list_markers(LABEL_LOCK, FLEET)
    assert not [m for m in markers if m.labels.get(LABEL_LOCK_BEAT_OF) == dead.token]  # the dead run's beat was cleared
    alive.release()


# --- --lock-timeout says whom it waits for ----------------------------------------------------------

def test_waiting_for_a_held_lock_says_who_holds_it_once_then_now_and_then() -> None:
    engine = FakeBackend()
    holder = FleetLock(engine, FLEET, ttl=30, interval=0.1)
    holder.acquire()
    said: list[tuple[float, str]] = []
    waiter = FleetLock(engine, FLEET, timeout=1.2, poll=0.05, notice_every=0.5,
                       notify=lambda text: said.append((time.monotonic(), text)))
    with pytest.raises(LockHeld, match="after waiting 1s"):
        waiter.acquire()
    holder.release()
    texts = [text for _, text in said]
    assert texts[0].startswith(f"fleet {FLEET} is locked by ") and "pid" in texts[0]
    assert texts[0].endswith("s for it (--lock-timeout)...")
    assert 2 <= len(texts) <= 3 and all(t.startswith(f"fleet {FLEET}: still waiting for the lock (") for t in texts[1:])
    assert all(b - a >= 0.5 for (a, _), (b, _) in zip(said, said[1:], strict=False))


def test_a_run_that_lost_the_lock_before_any_change_falls_silent_and_nobody_waits_for_it() -> None:
    """Review of issue 24, item 2: a run at its confirmation question has nothing to finish: once
    its lock is removed it removes its beats (the one unlock --force left too) and beats no more."""
    engine = FakeBackend()
    first = FleetLock(engine, FLEET, ttl=2, interval=0.1)
    first.acquire()
    force_unlock(engine, FLEET)
    wait_for(lambda: first.lost is not None and engine.list_markers(LABEL_LOCK, FLEET)[1] == [])
    beats = first.beats
    time.sleep(0.4)
    assert first.beats == beats and engine.list_markers(LABEL_LOCK, FLEET)[1] == []
    second = FleetLock(engine, FLEET, ttl=2, timeout=0, poll=0.05)
    second.acquire()  # at once: no run shows life
    second.release()
    first.release()
