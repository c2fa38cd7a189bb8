"""The in-memory backend (tests.support.fake_backend) keeps the contract of
deployer.backends.base, so the applier tests on it say something about the real backends."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from deployer.backends.base import (
    MUTATING,
    Backend,
    HostRunner,
    InEngineReplace,
    MarkerStore,
    UnitReader,
    UnitStatus,
    UnitWriter,
)
from deployer.backends.docker.engine import DockerEngine
from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.core.model import BotSpec
from deployer.core.spec import container_spec, spec_hash
from deployer.core.traits import Traits
from deployer.core.vocabulary import LABEL_BOT, LABEL_FLEET, LABEL_MANAGED, LABEL_SPEC_HASH
from deployer.errors import EngineError, NameTaken, NotFound, RolledBack
from tests.support.fake_backend import FakeBackend

PROTOCOLS = (UnitReader, UnitWriter, MarkerStore, HostRunner)


def protocol_methods(proto: type) -> dict[str, Any]:
    """The methods a Protocol class declares in its own body."""
    return {name: fn for name, fn in vars(proto).items() if inspect.isfunction(fn) and not name.startswith("_")}


def test_every_protocol_declares_methods():
    counts = {p.__name__: len(protocol_methods(p)) for p in PROTOCOLS}
    assert all(counts.values()), counts  # else the signature test below checks nothing


def make(bot: BotSpec, engine: FakeBackend, fleet: str = "f") -> str:
    spec = container_spec(bot)
    return engine.create(bot, fleet=fleet, spec=spec, spec_hash=spec_hash(spec), secrets_dir=None)


@pytest.mark.parametrize("backend", [FakeBackend, DockerEngine], ids=["fake", "docker"])
def test_backend_is_the_contract(backend):
    instance = backend()  # DockerEngine connects lazily: no engine is contacted here
    assert isinstance(instance, Backend)
    for proto in PROTOCOLS:
        assert isinstance(instance, proto), proto.__name__
    assert isinstance(instance.traits, Traits) and isinstance(instance.mutating_calls, int)
    assert instance.calls == {} and instance.endpoint.describe() and instance.call_observers == []


def test_the_fake_also_replaces_in_engine():
    assert isinstance(FakeBackend(), InEngineReplace)


@pytest.mark.parametrize("backend, proto", [(b, p) for b in (FakeBackend, DockerEngine) for p in PROTOCOLS]
                         + [(FakeBackend, InEngineReplace)],
                         ids=lambda x: x.__name__)
def test_every_contract_method_has_a_compatible_signature(backend, proto):
    """Every parameter of the contract is accepted under the same name and kind, with a default
    where the contract has one; extra parameters of the implementation are optional."""
    for name, declared in protocol_methods(proto).items():
        implemented = getattr(backend, name, None)
        assert callable(implemented), f"{backend.__name__} lacks {name}"
        want = inspect.signature(declared).parameters
        have = inspect.signature(implemented).parameters
        for pname, p in want.items():
            assert pname in have, f"{backend.__name__}.{name} lacks parameter {pname}"
            q = have[pname]
            assert q.kind == p.kind, f"{backend.__name__}.{name}({pname}): {q.kind} != {p.kind}"
            if p.default is not inspect.Parameter.empty:
                assert q.default == p.default, f"{backend.__name__}.{name}({pname}) default {q.default!r}"
        extra = [q for pname, q in have.items() if pname not in want]
        assert all(q.default is not inspect.Parameter.empty or q.kind in (q.VAR_POSITIONAL, q.VAR_KEYWORD)
                   for q in extra), f"{backend.__name__}.{name} requires more than the contract: {extra}"


def test_a_created_unit_carries_the_bot_labels_and_its_state():
    engine = FakeBackend()
    bot = BotSpec(name="a", image="img:1", memory_bytes=64 << 20, nano_cpus=500_000_000)
    cid = make(bot, engine)
    st = engine.inspect(cid)
    assert isinstance(st, UnitStatus) and st.name == "botmaker-a" and st.status == "created" and not st.running
    assert {st.labels[LABEL_MANAGED], st.labels[LABEL_BOT], st.labels[LABEL_FLEET]} == {"true", "a", "f"}
    assert st.labels[LABEL_SPEC_HASH] == spec_hash(container_spec(bot))
    assert (st.memory_bytes, st.nano_cpus) == (64 << 20, 500_000_000)
    assert st.live["memory"] == 64 << 20 and st.live["cpus"] == 0.5 and st.live["image"] == "img:1"
    engine.start(cid)
    assert engine.inspect(cid).running
    engine.stop(cid)
    assert engine.inspect(cid).status == "exited"
    [row] = engine.list_containers(labels=[f"{LABEL_FLEET}=f"])
    assert (row.id, row.name, row.state) == (cid, "botmaker-a", "exited")
    assert engine.list_containers(labels=[f"{LABEL_FLEET}=g"]) == []


def test_names_are_unique_for_create_rename_and_markers():
    engine = FakeBackend()
    a, b = make(BotSpec(name="a", image="img:1"), engine), make(BotSpec(name="b", image="img:1"), engine)
    with pytest.raises(NameTaken):
        make(BotSpec(name="a", image="img:2"), engine)
    with pytest.raises(NameTaken):
        engine.rename(b, "botmaker-a")
    with pytest.raises(NameTaken):
        engine.create_marker("botmaker-b", {})
    engine.rename(a, "botmaker-a_old_x")
    engine.rename(b, "botmaker-a")  # free now
    assert {c.name for c in engine.containers.values()} == {"botmaker-a_old_x", "botmaker-a"}
    marker = engine.create_marker("botmaker-lock.f", {"botmaker.lock": "f"})
    with pytest.raises(NameTaken):
        engine.create_marker("botmaker-lock.f", {})
    assert engine.find_marker("botmaker-lock.f") == (marker, {"botmaker.lock": "f"}, "")
    _, markers = engine.list_markers("botmaker.lock", "f")
    assert [m.name for m in markers] == ["botmaker-lock.f"]
    engine.remove_marker(marker)
    assert engine.find_marker("botmaker-lock.f") is None


def test_unknown_ids_are_not_found():
    engine = FakeBackend()
    for call in (lambda: engine.inspect("0" * 64), lambda: engine.start("0" * 64), lambda: engine.stop("0" * 64),
                 lambda: engine.remove("0" * 64), lambda: engine.rename("0" * 64, "x"),
                 lambda: engine.remove_marker("0" * 64)):
        with pytest.raises(NotFound):
            call()


def test_a_missing_image_is_pulled_before_a_create_can_use_it():
    engine = FakeBackend(missing_images={"img:9"})
    assert engine.image_id("img:9") is None
    with pytest.raises(NotFound):
        make(BotSpec(name="a", image="img:9"), engine)
    engine.pull("img:9")
    assert engine.image_id("img:9") is not None and make(BotSpec(name="a", image="img:9"), engine)


def test_update_changes_the_in_place_fields_only():
    engine = FakeBackend()
    cid = make(BotSpec(name="a", image="img:1", memory_bytes=64 << 20, restart_policy="always"), engine)
    engine.update(cid, BotSpec(name="a", image="img:2", memory_bytes=128 << 20, nano_cpus=2_000_000_000,
                               restart_policy="on-failure", restart_max_retries=4))
    st = engine.inspect(cid)
    assert (st.memory_bytes, st.nano_cpus, st.restart_policy, st.restart_max_retries) == (
        128 << 20, 2_000_000_000, "on-failure", 4)
    assert st.image == "img:1" and st.live["restart"] == "on-failure:4"


def test_bad_images_and_commands_exit_right_after_start():
    engine = FakeBackend(bad_images=frozenset({"bad:1"}), bad_commands=frozenset({("false",)}))
    for bot in (BotSpec(name="a", image="bad:1"), BotSpec(name="b", image="ok:1", command=("false",))):
        cid = make(bot, engine)
        engine.start(cid)
        st = engine.wait_ready(cid, timeout=1, settle=0, healthcheck=False)
        assert st.status == "exited" and st.exit_code == 3 and engine.logs_tail(cid)


def test_fail_on_a_kind_and_name_raises_the_asked_error_on_the_nth_matching_call():
    engine = FakeBackend()
    a, b = make(BotSpec(name="a", image="img:1"), engine), make(BotSpec(name="b", image="img:1"), engine)
    engine.fail_on("start", "botmaker-b", nth=2, error=NotFound)
    engine.start(a)
    engine.start(b)  # the first start of b passes
    engine.start(a)
    with pytest.raises(NotFound, match="injected"):
        engine.start(b)
    engine.start(b)  # times=1: only that one
    assert [(c.name, c.failed) for c in engine.calls_of("start")] == [
        ("botmaker-a", False), ("botmaker-b", False), ("botmaker-a", False), ("botmaker-b", True),
        ("botmaker-b", False)]


def test_a_failed_call_has_no_effect_unless_after():
    engine = FakeBackend()
    cid = make(BotSpec(name="a", image="img:1"), engine)
    engine.fail_on("start")
    with pytest.raises(EngineError):
        engine.start(cid)
    assert engine.inspect(cid).status == "created"
    engine.fail_on("start", after=True)  # the answer is lost, the start happened
    with pytest.raises(EngineError):
        engine.start(cid)
    assert engine.inspect(cid).running


def test_fail_call_counts_every_call_or_only_mutating_ones():
    engine = FakeBackend()
    cid = make(BotSpec(name="a", image="img:1"), engine)
    engine.fail_call(3)  # counted from now
    engine.inspect(cid)
    engine.list_containers()
    with pytest.raises(EngineError):
        engine.inspect(cid)
    engine.inspect(cid)
    engine.fail_call(2, mutating=True, error=NameTaken)  # the 2nd mutating call from now
    engine.inspect(cid)
    engine.start(cid)
    with pytest.raises(NameTaken):
        engine.stop(cid)
    assert engine.inspect(cid).running
    assert engine.mutating_calls == sum(engine.calls[k] for k in MUTATING) == 3


def test_the_log_names_a_renamed_unit_by_its_name_at_the_time():
    engine = FakeBackend()
    cid = make(BotSpec(name="a", image="img:1"), engine)
    engine.rename(cid, "botmaker-a_old_1")
    engine.remove(cid)
    assert [(c.kind, c.name, c.new_name) for c in engine.log] == [
        ("create", "botmaker-a", ""), ("rename", "botmaker-a", "botmaker-a_old_1"), ("remove", "botmaker-a_old_1", "")]


def test_traits_default_to_the_single_host_and_can_be_changed():
    assert FakeBackend().traits is DOCKER_TRAITS
    swarmish = Traits(in_place_fields=frozenset(), aside_mark=None, secret_delivery="engine-secrets",
                      unit_noun="service")
    assert FakeBackend(traits=swarmish).traits is swarmish


def test_call_observers_hear_every_call_failed_or_not():
    engine = FakeBackend()
    heard: list[tuple[str, str]] = []
    engine.call_observers.append(lambda kind, what: heard.append((kind, what)))
    cid = make(BotSpec(name="a", image="img:1"), engine)
    engine.fail_on("start")
    with pytest.raises(EngineError):
        engine.start(cid)
    assert heard == [("create", "create botmaker-a"), ("start", "start botmaker-a")]


def test_replace_unit_keeps_the_id_stops_first_and_rolls_back_by_itself():
    engine = FakeBackend(bad_images=frozenset({"bad:1"}))
    old = BotSpec(name="a", image="img:1")
    cid = make(old, engine)
    engine.start(cid)
    new = BotSpec(name="a", image="img:2", memory_bytes=64 << 20)
    s = container_spec(new)
    assert engine.replace_unit(cid, new, fleet="f", spec=s, spec_hash=spec_hash(s), secrets_dir=None) == cid
    st = engine.inspect(cid)
    assert st.running and st.image == "img:2" and st.memory_bytes == 64 << 20
    assert st.labels[LABEL_SPEC_HASH] == spec_hash(s)
    bad = BotSpec(name="a", image="bad:1")
    b = container_spec(bad)
    with pytest.raises(RolledBack):
        engine.replace_unit(cid, bad, fleet="f", spec=b, spec_hash=spec_hash(b), secrets_dir=None)
    st = engine.inspect(cid)
    assert st.running and st.image == "img:2" and st.labels[LABEL_SPEC_HASH] == spec_hash(s)
    assert [c.kind for c in engine.log if c.kind in MUTATING] == ["create", "start", "update", "update"]
