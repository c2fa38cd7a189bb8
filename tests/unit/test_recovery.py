"""Recovery on the in-memory backend (tests.support.fake_backend): a bot paused by hand is unpaused,
not started. Planned by the pure planner, carried out through the whole apply flow (lock, plan,
apply, record), read back from the fake's containers and call log. No Docker."""

from __future__ import annotations

import dataclasses
from typing import Any

from deployer.backends.base import MUTATING
from deployer.core.model import START, STOP, UPDATE, BotSpec, Change, FleetSpec, Method
from deployer.core.spec import container_spec, spec_hash
from deployer.flows.apply import ApplyRequest, ApplyStatus, run_apply
from deployer.flows.prepare import PlanSettings
from tests.support.fake_backend import FakeBackend

FLEET = "rec"
MIB = 1024 * 1024


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
