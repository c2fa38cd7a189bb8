"""Recovery on the in-memory backend (tests.support.fake_backend): a replace an earlier apply left
unfinished is finished as it would have been (the new unit proves itself before the aside copy
goes, else the aside copy is restored), and a bot paused by hand is unpaused, not started. Planned
by the pure planner, carried out through the whole apply flow (lock, plan, apply, record), read
back from the fake's containers and call log. No Docker."""

from __future__ import annotations

import dataclasses
from typing import Any

from deployer.backends.base import MUTATING
from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.core.model import NOOP, REPLACE, START, STOP, UPDATE, BotSpec, Change, FleetSpec, Healthcheck, Method
from deployer.core.spec import container_spec, spec_hash
from deployer.flows.apply import ApplyRequest, ApplyStatus, run_apply
from deployer.flows.prepare import PlanSettings
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
    from deployer.flows.prepare import prepare

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
    assert result.message == ("rolled back: the replace an earlier apply left unfinished did not complete: container "
                              "is unhealthy after 5s; the old container was restored")
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
