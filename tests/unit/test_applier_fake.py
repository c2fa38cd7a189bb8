"""The Applier on the in-memory backend (tests.support.fake_backend): the order of its engine
calls, rollback, pruning after a failure, an interrupt, the parallelism bound and in-place
updates, read from the fake's call log and its containers. No Docker."""

from __future__ import annotations

import dataclasses

import pytest

from deployer.backends.base import MUTATING
from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.core.model import (
    CREATE,
    NOOP,
    REMOVE,
    REPLACE,
    START,
    STOP,
    UPDATE,
    Action,
    BotSpec,
    Change,
    Method,
    Observed,
    Plan,
)
from deployer.core.spec import container_spec, spec_hash
from deployer.core.traits import Traits
from deployer.errors import EngineError, NameTaken
from deployer.openclaw.config import config_bytes, render_config
from deployer.plan.planner import PlanOptions
from deployer.runtime.applier import Applier, ApplyOptions, ApplyReport
from tests.support.fake_backend import Call, FakeBackend

BAD = ("sh", "-c", "exit 3")
FLEET = "f"


def spec(name: str, **fields) -> BotSpec:
    return BotSpec(name=name, **{"image": "img:1", **fields})


def deployed(engine: FakeBackend, bot: BotSpec, *, running: bool = True) -> str:
    """A container of `bot` as an earlier apply left it; the fake's log and counts start after it."""
    s = container_spec(bot)
    cid = engine.create(bot, fleet=FLEET, spec=s, spec_hash=spec_hash(s), secrets_dir=None)
    if running:
        engine.start(cid)
    engine.log.clear()
    engine.calls.clear()
    engine.max_in_flight = 0
    return cid


def apply(engine: FakeBackend, *actions: Action, hold=None, **options) -> ApplyReport:
    applier = Applier(engine, FLEET, ApplyOptions(settle=0, **options))
    if hold is not None:
        applier.hold = hold
    return applier.apply(Plan(FLEET, tuple(actions)))


def mutations(engine: FakeBackend) -> list[tuple[str, str]]:
    """(kind, unit name at the time) of every mutating call, in order; renames as 'old>new'."""
    return [(c.kind, f"{c.name}>{c.new_name}" if c.kind == "rename" else c.name)
            for c in engine.log if c.kind in MUTATING]


def replace(bot: BotSpec, cid: str, how: Method = Method.STOP_FIRST_REPLACE, **desired) -> Action:
    return Action(bot.name, REPLACE, ("changed",), container_id=cid, desired=spec(bot.name, **desired), how=how)


def aside(bot: BotSpec, cid: str) -> str:
    return f"{bot.container_name}{DOCKER_TRAITS.aside_mark}{cid[:12]}"


# --- stop-first replace ----------------------------------------------------------------------------

def test_replace_stops_the_old_unit_before_the_new_one_is_created_and_started():
    engine = FakeBackend()
    old = spec("a")
    cid = deployed(engine, old)
    report = apply(engine, replace(old, cid, env=(("K", "v"),)))
    assert [r.ok for r in report.results] == [True], report.results
    name = old.container_name
    assert mutations(engine) == [
        ("stop", name), ("rename", f"{name}>{aside(old, cid)}"), ("create", name), ("start", name),
        ("remove", aside(old, cid)),
    ]
    [new] = engine.containers.values()
    assert new.id != cid and new.name == name and new.running


def test_a_stopped_unit_is_replaced_without_a_stop_and_stays_stopped_when_the_manifest_says_so():
    engine = FakeBackend()
    old = spec("a")
    cid = deployed(engine, old, running=False)
    report = apply(engine, replace(old, cid, state="stopped"))
    assert report.results[0].ok
    assert [k for k, _ in mutations(engine)] == ["rename", "create", "remove"]
    [new] = engine.containers.values()
    assert new.name == old.container_name and new.status == "created"


# --- rollback --------------------------------------------------------------------------------------

def test_a_new_unit_that_exits_at_once_is_rolled_back_to_the_old_one_running():
    engine = FakeBackend(bad_commands=frozenset({BAD}))
    old = spec("a")
    cid = deployed(engine, old)
    report = apply(engine, replace(old, cid, command=BAD))
    [result] = report.results
    assert not result.ok and result.rolled_back and "the old container was restored" in result.message
    assert "exited with code 3" in result.message
    name = old.container_name
    assert mutations(engine) == [
        ("stop", name), ("rename", f"{name}>{aside(old, cid)}"), ("create", name), ("start", name),
        ("remove", name),  # the new, failed unit
        ("rename", f"{aside(old, cid)}>{name}"), ("start", name),  # the old one, back under its name
    ]
    assert list(engine.containers) == [cid]
    assert engine.containers[cid].name == name and engine.containers[cid].running


@pytest.mark.parametrize("error", [EngineError, NameTaken])
def test_a_failed_create_restores_the_old_unit(error):
    engine = FakeBackend()
    old = spec("a")
    cid = deployed(engine, old)
    engine.fail_on("create", old.container_name, error=error)
    [result] = apply(engine, replace(old, cid, image="img:2")).results
    assert not result.ok and result.rolled_back and "injected failure" in result.message
    assert list(engine.containers) == [cid]
    assert engine.containers[cid].name == old.container_name and engine.containers[cid].running
    assert [k for k, _ in mutations(engine)] == ["stop", "rename", "create", "rename", "start"]


def test_a_failed_start_of_the_new_unit_restores_the_old_one():
    engine = FakeBackend()
    old = spec("a")
    cid = deployed(engine, old)
    engine.fail_on("start", old.container_name, nth=1)  # the new unit's start; the restore's passes
    [result] = apply(engine, replace(old, cid, image="img:2")).results
    assert not result.ok and result.rolled_back
    assert list(engine.containers) == [cid]
    assert engine.containers[cid].name == old.container_name and engine.containers[cid].running
    assert [(c.kind, c.failed) for c in engine.calls_of("start")] == [("start", True), ("start", False)]


def test_rollback_of_a_stopped_unit_leaves_it_stopped():
    engine = FakeBackend(bad_commands=frozenset({BAD}))
    old = spec("a")
    cid = deployed(engine, old, running=False)
    [result] = apply(engine, replace(old, cid, command=BAD)).results
    assert result.rolled_back
    assert engine.containers[cid].name == old.container_name and engine.containers[cid].status == "created"
    assert [c for c in engine.calls_of("start") if c.id == cid] == []


def test_a_failed_pull_leaves_the_old_unit_untouched():
    engine = FakeBackend(missing_images={"img:2"})
    old = spec("a")
    cid = deployed(engine, old)
    engine.fail_on("pull", "img:2")
    [result] = apply(engine, replace(old, cid, image="img:2")).results
    assert not result.ok and not result.rolled_back
    assert mutations(engine) == [("pull", "img:2")]
    assert engine.containers[cid].running and engine.containers[cid].name == old.container_name


# --- prune -----------------------------------------------------------------------------------------

def orphan(engine: FakeBackend, name: str) -> Action:
    cid = deployed(engine, spec(name))
    return Action(name, REMOVE, ("not in the manifests",), container_id=cid)


def test_prune_runs_last_when_everything_succeeded():
    engine = FakeBackend()
    gone = orphan(engine, "z")
    cid = deployed(engine, spec("a"))
    report = apply(engine, gone, replace(spec("a"), cid, image="img:2"))
    assert all(r.ok for r in report.results) and not report.skipped
    assert mutations(engine)[-2:] == [("stop", "botmaker-z"), ("remove", "botmaker-z")]
    assert gone.container_id not in engine.containers


def test_prune_is_skipped_after_a_failure():
    engine = FakeBackend(bad_commands=frozenset({BAD}))
    gone = orphan(engine, "z")
    cid = deployed(engine, spec("a"))
    report = apply(engine, gone, replace(spec("a"), cid, command=BAD))
    assert [r.bot for r in report.failed] == ["a"] and report.skipped == ["z"]
    assert engine.containers[gone.container_id].running
    assert all(c.id != gone.container_id for c in engine.log)  # not even stopped


# --- interrupt -------------------------------------------------------------------------------------

def interrupt_after(engine: FakeBackend, k: int):
    """A hold that raises KeyboardInterrupt in the main thread (where SIGINT lands) once k
    actions have finished their last call, the way Ctrl-C hits the loop that hands them out."""
    def hold() -> None:
        if len({c.name for c in engine.calls_of("start")}) >= k:
            raise KeyboardInterrupt
        return None

    return hold


def test_an_interrupt_starts_no_new_action_and_reports_the_unstarted_ones():
    engine = FakeBackend()
    bots = [spec(f"b{i}") for i in range(6)]
    actions = [Action(b.name, CREATE, desired=b) for b in bots]
    report = apply(engine, *actions, hold=interrupt_after(engine, 2), parallelism=1)
    assert report.interrupted and report.stopped == "the apply was interrupted"
    assert [(r.bot, r.ok) for r in report.results] == [("b0", True), ("b1", True)]
    # never started: "not started", as after a spent budget or a lost lock, not failed (issue 24)
    assert [a.bot for a in report.not_started] == [b.name for b in bots[2:]] and not report.failed
    assert sorted(c.name for c in engine.containers.values()) == ["botmaker-b0", "botmaker-b1"]
    assert {n for _, n in mutations(engine)} == {"botmaker-b0", "botmaker-b1"}


def test_an_interrupt_lets_the_actions_under_way_finish_and_prunes_nothing():
    engine = FakeBackend(latency=0.005)
    gone = orphan(engine, "z")
    bots = [spec(f"b{i}") for i in range(8)]
    report = apply(engine, gone, *[Action(b.name, CREATE, desired=b) for b in bots],
                   hold=interrupt_after(engine, 1), parallelism=3)
    assert report.interrupted and report.skipped == ["z"] and gone.container_id in engine.containers
    started = [r for r in report.results if r.ok]
    unstarted = report.not_started
    assert len(started) + len(unstarted) == len(report.results) + len(unstarted) == len(bots) and started and unstarted
    # every action that was started finished: its container runs; the others have none
    running = {c.name for c in engine.containers.values() if c.running and c.name != "botmaker-z"}
    assert running == {f"botmaker-{r.bot}" for r in started}
    assert all(f"botmaker-{r.bot}" not in {c.name for c in engine.log} for r in unstarted)


def test_interrupts_however_many_let_the_action_under_way_finish_and_say_so_at_once():
    """Ctrl-C pressed twice while the first of five waits for its unit: a real SIGINT, which raises
    KeyboardInterrupt in the main thread (no handler of the apply flow here), each time."""
    import os
    import signal
    import time

    engine = FakeBackend(ready_delay=0.6)
    said: list[str] = []

    def progress(bot: str, event: str, message: str) -> None:
        if (bot, event) == ("b0", "start"):
            for _ in range(2):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.15)

    applier = Applier(engine, FLEET, ApplyOptions(settle=0, parallelism=1), progress=progress)
    applier.notify = said.append
    bots = [spec(f"b{i}") for i in range(5)]
    report = applier.apply(Plan(FLEET, tuple(Action(b.name, CREATE, desired=b) for b in bots)))
    assert report.interrupted and [(r.bot, r.ok) for r in report.results] == [("b0", True)]
    assert [a.bot for a in report.not_started] == ["b1", "b2", "b3", "b4"]
    assert said[0] == "interrupt received, finishing 1 bot under way; no new change starts"
    assert said[1].startswith("interrupt received again, still finishing 1 bot under way") and len(said) == 2
    assert [c.name for c in engine.containers.values()] == ["botmaker-b0"]


# --- parallelism -----------------------------------------------------------------------------------

@pytest.mark.parametrize("parallelism", [1, 2, 3])
def test_a_change_holds_its_slot_until_its_unit_is_ready(parallelism):
    """Issue 24, defect 2: creates and starts too, not only replaces, count against the bound
    until their unit is ready (here: 20 ms after start, like a gateway that boots)."""
    engine = FakeBackend(ready_delay=0.02)
    olds = [spec(f"r{i}") for i in range(3)]
    actions = [replace(b, deployed(engine, b), image="img:2") for b in olds]
    stopped = [spec(f"s{i}") for i in range(3)]
    actions += [Action(b.name, START, container_id=deployed(engine, b, running=False), desired=b) for b in stopped]
    actions += [Action(f"n{i}", CREATE, desired=spec(f"n{i}")) for i in range(6)]
    report = apply(engine, *actions, parallelism=parallelism)
    assert all(r.ok for r in report.results) and len(report.results) == 12
    assert engine.max_starting == parallelism, engine.max_starting  # reached, never passed



@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_no_more_mutating_calls_at_once_than_the_parallelism(parallelism):
    engine = FakeBackend(latency=0.003)
    olds = [spec(f"r{i}") for i in range(6)]
    ids = [deployed(engine, b) for b in olds]
    actions = [replace(b, cid, image="img:2") for b, cid in zip(olds, ids, strict=True)]
    actions += [Action(f"n{i}", CREATE, desired=spec(f"n{i}")) for i in range(6)]
    report = apply(engine, *actions, parallelism=parallelism)
    assert all(r.ok for r in report.results) and len(report.results) == 12
    assert 1 <= engine.max_in_flight <= parallelism, engine.max_in_flight
    assert engine.calls["create"] == 12


# --- update in place --------------------------------------------------------------------------------

def update(bot: BotSpec, cid: str, *changes: Change, **desired) -> Action:
    return Action(bot.name, UPDATE, ("changed",), changes=changes, container_id=cid,
                  desired=spec(bot.name, **desired))


def test_an_in_place_change_is_one_update_call_and_nothing_else():
    engine = FakeBackend()
    old = spec("a", memory_bytes=64 << 20)
    cid = deployed(engine, old)
    [result] = apply(engine, update(old, cid, Change("memory", 64 << 20, 128 << 20), memory_bytes=128 << 20)).results
    assert result.ok and result.message == "updated memory in place"
    assert mutations(engine) == [("update", old.container_name)]
    assert engine.containers[cid].memory_bytes == 128 << 20 and engine.containers[cid].running


def test_a_state_only_update_calls_no_update():
    engine = FakeBackend()
    old = spec("a")
    cid = deployed(engine, old)
    [result] = apply(engine, update(old, cid, Change("state", "running", "stopped"), state="stopped")).results
    assert result.ok and mutations(engine) == [("stop", old.container_name)]


def test_update_is_called_only_for_the_traits_in_place_fields():
    """A backend that can change cpus but not memory in place gets no update call for memory."""
    cpus_only = Traits(in_place_fields=frozenset({"cpus"}), aside_mark="_old_", secret_delivery="bind-dir")
    engine = FakeBackend(traits=cpus_only)
    old = spec("a", memory_bytes=64 << 20)
    cid = deployed(engine, old)
    apply(engine, update(old, cid, Change("memory", 64 << 20, 128 << 20), memory_bytes=128 << 20))
    assert engine.calls["update"] == 0
    apply(engine, update(old, cid, Change("cpus", None, 0.5), nano_cpus=500_000_000))
    assert engine.calls["update"] == 1 and engine.containers[cid].nano_cpus == 500_000_000


def test_start_and_stop_actions():
    engine = FakeBackend()
    a, b = spec("a"), spec("b")
    ca, cb = deployed(engine, a, running=False), deployed(engine, b)
    engine.log.clear()
    report = apply(engine, Action("a", START, container_id=ca, desired=a), Action("b", STOP, container_id=cb, desired=b))
    assert all(r.ok for r in report.results)
    assert engine.containers[ca].running and engine.containers[cb].status == "exited"
    assert sorted(mutations(engine)) == [("start", "botmaker-a"), ("stop", "botmaker-b")]


def test_the_log_records_calls_in_order():
    """A guard on the helper the tests above read: the log is what happened, failures included."""
    engine = FakeBackend()
    cid = deployed(engine, spec("a"))
    engine.fail_on("stop")
    with pytest.raises(EngineError):
        engine.stop(cid)
    assert engine.log == [Call("stop", "botmaker-a", cid, failed=True)]


# --- the whole loop on the fake: observe -> plan -> apply -> observe ---------------------------------

def plan_on(engine: FakeBackend, *bots: BotSpec, refresh: bool = False) -> Plan:
    from deployer.core.model import FleetSpec
    from deployer.plan.planner import PlanOptions, plan
    from deployer.runtime.observe import gather

    fleet = FleetSpec(name=FLEET, bots=bots)
    return plan(fleet, gather(engine, fleet, PlanOptions(traits=DOCKER_TRAITS), refresh=refresh), PlanOptions(traits=DOCKER_TRAITS))


def test_apply_then_plan_again_on_the_fake_has_nothing_to_do():
    """The fake reads back what it was given closely enough for the real observer and planner:
    after an apply, a plan (also with --refresh, which compares the live spec) is all no-ops,
    and one changed field is one planned change of the right kind."""
    bots = (spec("a", memory_bytes=64 << 20, ports=()), spec("b", env=(("K", "v"),)), spec("c", state="stopped"))
    engine = FakeBackend()
    first = plan_on(engine, *bots)
    assert [a.action for a in first.actions] == [CREATE] * 3
    assert all(r.ok for r in apply(engine, *first.actions).results)
    for refresh in (False, True):
        assert {a.action for a in plan_on(engine, *bots, refresh=refresh).actions} == {NOOP}
    moved = (spec("a", memory_bytes=128 << 20, ports=()), spec("b", env=(("K", "w"),)), bots[2])
    again = {a.bot: a.action for a in plan_on(engine, *moved).actions}
    assert again == {"a": UPDATE, "b": REPLACE, "c": NOOP}
    assert all(r.ok for r in apply(engine, *plan_on(engine, *moved).actions).results)
    assert {a.action for a in plan_on(engine, *moved, refresh=True).actions} == {NOOP}


# --- a backend without an aside copy: the engine replaces (and rolls back) by itself -------------------

SWARMISH = Traits(in_place_fields=frozenset(), aside_mark=None, secret_delivery="engine-secrets", unit_noun="service")


def test_without_an_aside_copy_a_replace_is_one_engine_side_update():
    engine = FakeBackend(traits=SWARMISH)
    old = spec("a")
    cid = deployed(engine, old)
    [result] = apply(engine, replace(old, cid, Method.IN_ENGINE_REPLACE, image="img:2")).results
    assert result.ok and result.message == "replaced and started"
    assert mutations(engine) == [("update", old.container_name)]  # no stop, rename, create or remove
    assert list(engine.containers) == [cid] and engine.containers[cid].image == "img:2"
    assert engine.containers[cid].running


def test_without_an_aside_copy_the_engine_rollback_is_reported_as_one():
    engine = FakeBackend(traits=SWARMISH, bad_commands=frozenset({BAD}))
    old = spec("a")
    cid = deployed(engine, old)
    gone = orphan(engine, "z")
    report = apply(engine, replace(old, cid, Method.IN_ENGINE_REPLACE, command=BAD), gone)
    [result] = report.results
    assert not result.ok and result.rolled_back and result.message.startswith("rolled back: ")
    assert engine.containers[cid].image == "img:1" and engine.containers[cid].command is None
    assert engine.containers[cid].running and report.skipped == ["z"]


# --- a hot reload the gateway does not confirm: the plan's fallback, and the report says so ---------

def gateway_on_host(tmp_path, engine: FakeBackend) -> tuple[BotSpec, str, Observed]:
    """An OpenClaw bot deployed on the fake with its config and state dir under tmp_path; what a
    plan then observes (its container, the config file on the host)."""
    from deployer.core.model import FleetSpec
    from deployer.openclaw.container import config_path, with_gateway
    from deployer.runtime.hostfiles import read_file
    from deployer.runtime.observe import gather

    dirs = FleetSpec(name=FLEET, state_dir=str(tmp_path / "state"), config_dir=str(tmp_path / "config"))
    gw = dataclasses.replace(with_gateway(spec("gw", runtime="openclaw", provider=(("model", "claude-sonnet"),
                                                                                    ("name", "anthropic"))), dirs),
                             healthcheck=None)  # the fake has no health to report
    assert [r.ok for r in apply(engine, Action(gw.name, CREATE, desired=gw, write_config=True)).results] == [True]
    observed = gather(engine, FleetSpec(name=FLEET, bots=(gw,)), PlanOptions(traits=engine.traits))
    observed = dataclasses.replace(observed, configs={gw.name: read_file(config_path(gw) or "")})
    engine.log.clear()
    return gw, config_path(gw) or "", observed


def hot_reload_plan(gw: BotSpec, observed: Observed, traits: Traits) -> tuple[BotSpec, Action]:
    from deployer.core.model import FleetSpec
    from deployer.plan.planner import plan

    opus = dataclasses.replace(gw, provider=(("model", "claude-opus"), ("name", "anthropic")))
    (action,) = plan(FleetSpec(name=FLEET, bots=(opus,)), observed, PlanOptions(traits=traits)).actions
    return opus, action


def test_a_hot_reload_the_gateway_does_not_confirm_falls_back_to_a_stop_first_replace(tmp_path):
    engine = FakeBackend()  # its gateways log nothing: no reload is ever confirmed
    gw, path, observed = gateway_on_host(tmp_path, engine)
    opus, action = hot_reload_plan(gw, observed, DOCKER_TRAITS)
    assert (action.method, action.fallback) == (Method.HOT_RELOAD, Method.STOP_FIRST_REPLACE)
    [result] = apply(engine, action, reload_timeout=0, observed=observed).results
    assert result.ok and not result.rolled_back
    assert result.message == ("hot reload failed: the gateway did not report a config reload within 0s; "
                              "fell back to a stop-first replace: replaced and started")
    assert [k for k, _ in mutations(engine)] == ["stop", "rename", "create", "start", "remove"]
    assert open(path, "rb").read() == config_bytes(render_config(opus))


def test_a_fallback_replace_that_fails_is_rolled_back_and_says_it_fell_back(tmp_path):
    engine = FakeBackend()
    gw, path, observed = gateway_on_host(tmp_path, engine)
    _, action = hot_reload_plan(gw, observed, DOCKER_TRAITS)
    engine.fail_on("start", gw.container_name, nth=1)  # the new unit's start; the restore's passes
    [result] = apply(engine, action, reload_timeout=0, observed=observed).results
    assert not result.ok and result.rolled_back
    assert result.message.startswith("hot reload failed: the gateway did not report a config reload within 0s; "
                                     "fell back to a stop-first replace: rolled back: ")
    assert result.message.endswith("; the old container was restored")
    assert open(path, "rb").read() == observed.configs[gw.name]  # the old config is back too
    [unit] = engine.containers.values()
    assert unit.name == gw.container_name and unit.running


def test_without_an_aside_copy_the_fallback_is_the_engines_replace(tmp_path):
    engine = FakeBackend(traits=SWARMISH)
    gw, _, observed = gateway_on_host(tmp_path, engine)
    _, action = hot_reload_plan(gw, observed, SWARMISH)
    assert (action.method, action.fallback) == (Method.HOT_RELOAD, Method.IN_ENGINE_REPLACE)
    [result] = apply(engine, action, reload_timeout=0, observed=observed).results
    assert result.ok and result.message.endswith("fell back to an in-engine replace: replaced and started")
    assert mutations(engine) == [("update", gw.container_name)]
