"""Failure budget, canary and the heartbeat lock against an in-memory engine (no Docker)."""

from __future__ import annotations

import re
import threading
import time

import pytest

from deployer.backends.base import Marker
from deployer.core.model import CREATE, REMOVE, REPLACE, Action, BotSpec, Plan
from deployer.core.spec import container_spec, spec_hash
from deployer.core.vocabulary import LABEL_LOCK_BEAT_OF, LABEL_LOCK_EXPIRES, LABEL_LOCK_TOKEN, LABEL_LOCK_TTL
from deployer.errors import LockHeld
from deployer.runtime.applier import Applier, ApplyOptions
from deployer.runtime.lock import (
    FleetLock,
    beat_interval,
    beat_name,
    holder_state,
    lock_name,
)
from tests.support.fake_backend import FakeBackend

BAD = ("sh", "-c", "exit 3")


def fleet_of(engine: FakeBackend, n: int) -> list[tuple[BotSpec, str]]:
    """n bots running a good container each; returns (bot, container id)."""
    out = []
    for i in range(n):
        bot = BotSpec(name=f"bot{i:04d}", image="openclaw:1")
        cid = engine.create(bot, fleet="f", spec=container_spec(bot), spec_hash=spec_hash(container_spec(bot)),
                            secrets_dir=None)
        engine.start(cid)
        out.append((bot, cid))
    engine.started_creates.clear()
    engine.calls.clear()
    return out


def bad_rollout(bots: list[tuple[BotSpec, str]], removals: int = 0) -> Plan:
    actions = [Action(b.name, REPLACE, ("command changed",), container_id=cid,
                      desired=BotSpec(name=b.name, image=b.image, command=BAD)) for b, cid in bots]
    actions += [Action(f"orphan{i}", REMOVE, container_id=f"{i:064x}") for i in range(removals)]
    return Plan("f", tuple(actions))


def run(engine: FakeBackend, plan: Plan, **options) -> tuple:
    events: list[tuple[str, str]] = []
    applier = Applier(engine, "f", ApplyOptions(settle=0, **options),
                      progress=lambda bot, event, message: events.append((bot, event)))
    report = applier.apply(plan)
    return report, [bot for bot, event in events if event == "start"]


def test_budget_stops_a_bad_rollout_after_n_failures_one_at_a_time():
    engine = FakeBackend(bad_commands=frozenset({BAD}))
    bots = fleet_of(engine, 20)
    report, started = run(engine, bad_rollout(bots), parallelism=1, max_failures=3)
    assert started == ["bot0000", "bot0001", "bot0002"]
    assert [r.bot for r in report.failed] == started and all(r.rolled_back for r in report.failed)
    assert [a.bot for a in report.not_started] == [b.name for b, _ in bots[3:]]
    assert report.stopped == "the failure budget is spent: 3 failed (--max-failures 3)"
    # the rolled-back bots run their old container again; nothing else was touched
    assert all(engine.containers[cid].status == "running" and engine.containers[cid].name == b.container_name
               for b, cid in bots)
    assert len(engine.containers) == 20


@pytest.mark.parametrize("parallelism", [2, 4, 8])
def test_budget_bounds_started_actions_by_budget_plus_parallelism(parallelism):
    engine = FakeBackend(latency=0.002, bad_commands=frozenset({BAD}))
    bots = fleet_of(engine, 60)
    report, started = run(engine, bad_rollout(bots), parallelism=parallelism, max_failures=3)
    assert 3 <= len(started) <= 3 + parallelism - 1, started
    assert len(report.results) == len(started) and len(report.failed) == len(started)
    assert len(report.not_started) == 60 - len(started)
    assert {a.bot for a in report.not_started}.isdisjoint(started)


@pytest.mark.parametrize("parallelism", [1, 2])
def test_budget_bounds_creates_that_exit_at_once(parallelism):
    """Issue 24, defect 2: six new bots whose containers exit right after start (found by the
    wait for ready, which holds the slot): at most N + parallelism - 1 are started."""
    engine = FakeBackend(bad_commands=frozenset({BAD}), ready_delay=0.02)
    plan = Plan("f", tuple(Action(f"bot{i:04d}", CREATE, desired=BotSpec(name=f"bot{i:04d}", image="openclaw:1",
                                                                         command=BAD)) for i in range(6)))
    report, started = run(engine, plan, parallelism=parallelism, max_failures=1)
    assert 1 <= len(started) <= parallelism and len(report.failed) == len(started), started
    assert len(report.not_started) == 6 - len(started) and not report.interrupted
    # as the stop saw it: with two slots, both creates may have failed before the next check
    seen = re.fullmatch(r"the failure budget is spent: (\d) failed \(--max-failures 1\)", report.stopped or "")
    assert seen and 1 <= int(seen.group(1)) <= len(report.failed), report.stopped


def test_without_a_budget_every_action_is_tried():
    engine = FakeBackend(bad_commands=frozenset({BAD}))
    report, started = run(engine, bad_rollout(fleet_of(engine, 10)), parallelism=3, max_failures=None)  # no budget
    assert len(started) == 10 and len(report.failed) == 10 and not report.not_started and report.stopped is None


def test_a_stopped_rollout_prunes_nothing():
    engine = FakeBackend(bad_commands=frozenset({BAD}))
    report, started = run(engine, bad_rollout(fleet_of(engine, 5), removals=2), parallelism=1, max_failures=1)
    assert started == ["bot0000"] and report.skipped == ["orphan0", "orphan1"] and len(report.not_started) == 4


def test_failing_canary_stops_the_rest():
    engine = FakeBackend(bad_commands=frozenset({BAD}))
    bots = fleet_of(engine, 10)
    report, started = run(engine, bad_rollout(bots), parallelism=4, max_failures=3, canary=2)
    assert sorted(started) == ["bot0000", "bot0001"]
    assert report.stopped.startswith("a canary failed (bot0000, bot0001): the other 8 changes were not started")
    assert [a.bot for a in report.not_started] == [b.name for b, _ in bots[2:]]


def test_good_canary_goes_on_with_the_rest():
    engine = FakeBackend()
    bots = fleet_of(engine, 6)
    plan = Plan("f", tuple(Action(b.name, REPLACE, container_id=cid, desired=BotSpec(name=b.name, image="openclaw:2"))
                           for b, cid in bots))
    report, started = run(engine, plan, parallelism=4, canary=2, max_failures=3)
    assert started[:2] == ["bot0000", "bot0001"] and len(started) == 6
    assert not report.failed and not report.not_started and report.stopped is None


def test_one_canary_failure_among_good_ones_stops():
    engine = FakeBackend(bad_commands=frozenset({BAD}))
    bots = fleet_of(engine, 5)
    actions = [Action(b.name, REPLACE, container_id=cid,
                      desired=BotSpec(name=b.name, image="openclaw:1", command=BAD if i == 1 else ("ok",)))
               for i, (b, cid) in enumerate(bots)]
    report, started = run(engine, Plan("f", tuple(actions)), parallelism=1, canary=3, max_failures=3)
    assert started == ["bot0000", "bot0001", "bot0002"]
    assert [r.bot for r in report.failed] == ["bot0001"]
    assert [a.bot for a in report.not_started] == ["bot0003", "bot0004"]


def test_a_lost_lock_starts_no_new_action():
    engine = FakeBackend()
    bots = fleet_of(engine, 5)
    plan = Plan("f", tuple(Action(b.name, REPLACE, container_id=cid, desired=BotSpec(name=b.name, image="openclaw:2"))
                           for b, cid in bots))
    applier = Applier(engine, "f", ApplyOptions(settle=0, parallelism=1))
    done: list[str] = []
    applier.progress = lambda bot, event, message: done.append(bot) if event == "done" else None
    applier.hold = lambda: "the fleet lock was lost: removed" if len(done) >= 2 else None
    report = applier.apply(plan)
    assert [r.bot for r in report.results] == ["bot0000", "bot0001"] and len(report.not_started) == 3
    assert report.stopped == "the fleet lock was lost: removed"


# --- the lock's decision, as data ------------------------------------------------------------------

def marker(name: str, created: float, **labels: str) -> Marker:
    return Marker(name + "-id", name, labels, created)


LIVE = {LABEL_LOCK_TOKEN: "tok", LABEL_LOCK_TTL: "20", "botmaker.lock.beat-interval": "5"}


@pytest.mark.parametrize("beats, now, expired, silent", [
    ([], 1010, False, True),            # no beat for 10s (interval 5): silent, not yet expired
    ([1004], 1010, False, False),        # beat 6s ago: fine
    ([1004, 1009], 1010, False, False),  # the newest beat counts
    ([], 1020, False, True),             # 20s: not provably over 20s (whole seconds)
    ([], 1021, True, True),              # 21s: expired
    ([1015], 1030, False, True),
])
def test_holder_state_ages_on_the_engine_clock(beats, now, expired, silent):
    markers = [marker(lock_name("f"), 1000, **LIVE)]
    markers += [marker(beat_name("f", "tok", i), t, **{LABEL_LOCK_BEAT_OF: "tok"}) for i, t in enumerate(beats)]
    markers.append(marker(beat_name("f", "other", 9), now, **{LABEL_LOCK_BEAT_OF: "other"}))  # a stale holder's beat
    state = holder_state("f", markers, now)
    assert state is not None and (state.expired, state.silent) == (expired, silent)
    assert state.age == now - max([1000, *beats])


def test_holder_state_of_an_old_style_lock_uses_its_expiry():
    old = marker(lock_name("f"), 0, **{LABEL_LOCK_EXPIRES: f"{time.time() - 5:.0f}"})
    assert holder_state("f", [old], 0).expired
    fresh = marker(lock_name("f"), 0, **{LABEL_LOCK_EXPIRES: f"{time.time() + 500:.0f}"})
    assert not holder_state("f", [fresh], 0).expired and not holder_state("f", [fresh], 0).silent
    assert holder_state("f", [], 0) is None


def test_default_beat_is_a_quarter_of_the_ttl():
    assert beat_interval(60) == 15 and beat_interval(5) == 1.25 and beat_interval(1) == 0.5


# --- the lock on the fake engine ---------------------------------------------------------------------

def test_heartbeat_renews_and_notices_a_removed_lock():
    engine = FakeBackend()
    lock = FleetLock(engine, "f", ttl=5, interval=0.05)
    lock.acquire()
    try:
        time.sleep(0.4)
        names = [c.name for c in engine.containers.values()]
        beats = [n for n in names if n.startswith(lock_name("f") + ".beat.")]
        assert lock.beats >= 3 and len(beats) == 1, names  # each beat replaces the previous one
        assert lock.lost is None
        engine.remove_marker(lock.marker_id)  # deployer unlock --force
        deadline = time.monotonic() + 5
        while lock.lost is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lock.lost and "removed by someone else" in lock.lost
    finally:
        lock.release()  # a lost lock releases quietly
    assert not engine.containers


def test_two_waiters_after_a_dead_holder_exactly_one_takes_over():
    for _ in range(20):
        engine = FakeBackend(latency=0.001)
        now = [1000.0]
        engine.clock = lambda: now[0]
        dead = FleetLock(engine, "f", ttl=5)
        dead.acquire()
        dead._stop_heartbeat()  # SIGKILL: no more beats, no release
        now[0] += 7
        won: list[FleetLock] = []
        lost: list[str] = []
        gate = threading.Barrier(2)

        def contend() -> None:
            lock = FleetLock(engine, "f", ttl=5, timeout=0)
            gate.wait()
            try:
                lock.acquire()
                won.append(lock)
            except LockHeld as exc:
                lost.append(str(exc))

        threads = [threading.Thread(target=contend) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(won) == 1 and len(lost) == 1, (won, lost)
        assert "is locked by" in lost[0] and dead.marker_id != won[0].marker_id
        names = sorted(c.name for c in engine.containers.values())
        assert names == [lock_name("f")], names  # the dead holder's marker is gone, only the winner's
        won[0].release()


def test_a_hanging_heartbeat_counts_as_lost_before_a_taker_could_take_over():
    engine = FakeBackend()
    lock = FleetLock(engine, "f", ttl=0.4, interval=0.05)
    lock.acquire()
    try:
        time.sleep(0.2)
        assert lock.lost_reason() is None
        release = threading.Event()
        real_create = engine.create_marker
        engine.create_marker = lambda name, labels: (release.wait(5), real_create(name, labels))[1]  # engine hangs
        time.sleep(0.6)
        assert lock.lost is None  # the beat thread is stuck inside the call...
        assert "no heartbeat could be written for 0.4s" in (lock.lost_reason() or "")  # ...the gate still knows
        release.set()  # the engine answers at last: too late, the lock stays lost
        deadline = time.monotonic() + 5
        while lock.lost is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lock.lost and "longer than --lock-ttl 0.4s" in lock.lost
        time.sleep(0.2)
        assert lock.lost_reason() == lock.lost
    finally:
        lock.release()


def test_release_never_shows_a_waiter_the_lock_without_its_heartbeat():
    """A waiter that looks between two removals of a release must not see an old lock marker
    with no beat (its age would be its creation time, so it would take over a live lock)."""
    engine = FakeBackend()
    now = [1000.0]
    engine.clock = lambda: now[0]
    lock = FleetLock(engine, "f", ttl=5, interval=60)  # beats by hand below
    lock.acquire()
    now[0] += 30
    lock._beat()  # a fresh beat: the lock itself is 30 s old, far past its TTL
    seen: list[bool] = []
    real_remove = engine.remove_marker

    def remove_and_look(*args, **kwargs):
        result = real_remove(*args, **kwargs)
        engine_now, markers = engine.list_markers("botmaker.lock", "f")
        state = holder_state("f", markers, engine_now)
        seen.append(state is not None and state.expired)
        return result

    engine.remove_marker = remove_and_look
    lock.release()
    assert seen and not any(seen), seen  # no moment in the release looked like an expired lock
    assert not engine.containers
