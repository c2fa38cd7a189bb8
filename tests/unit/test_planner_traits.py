"""The planner asks the backend's traits, not Docker: the same change is an in-place update on a
backend that can make it in place and a replace on one that cannot, and aside copies are only
recognised where the backend makes them."""

from __future__ import annotations

import dataclasses

from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.cli.render import render_plan
from deployer.core.model import NOOP, REMOVE, REPLACE, UPDATE
from deployer.core.traits import Traits
from deployer.plan.planner import PlanOptions, plan
from tests.support.planner_cases import MIB, bot, change, fleet_of, observed_from, observed_of

NO_IN_PLACE = Traits(in_place_fields=frozenset(), aside_mark=None, secret_delivery="engine-secrets",
                     unit_noun="service")


def test_memory_change_is_in_place_on_docker_and_a_replace_without_in_place_fields():
    old = bot()
    new = change(old, memory_bytes=1024 * MIB)
    observed = observed_of(observed_from(old))
    docker_plan = plan(fleet_of(new), observed, PlanOptions(traits=DOCKER_TRAITS, secrets_dir="/srv/botmaker/secrets"))
    other_plan = plan(fleet_of(new), observed, PlanOptions(secrets_dir="/srv/botmaker/secrets", traits=NO_IN_PLACE))
    assert [a.action for a in docker_plan.actions] == [UPDATE]
    assert [a.action for a in other_plan.actions] == [REPLACE]
    assert other_plan.actions[0].reasons == ("memory changed",)
    # by the traits each plan was made with: all in place on docker, none on the other
    assert {c.field for c in docker_plan.actions[0].changes} <= DOCKER_TRAITS.in_place_fields
    assert not {c.field for c in other_plan.actions[0].changes} & NO_IN_PLACE.in_place_fields
    # the renderer marks what forces the replace by the plan's own traits
    assert "memory: 512m -> 1g  # forces replacement" in render_plan(other_plan, color=False)


def test_aside_copies_exist_only_where_the_backend_makes_them():
    b = bot()
    current = observed_from(b)
    aside_name = f"{b.container_name}{DOCKER_TRAITS.aside_mark}0123456789ab"
    aside = dataclasses.replace(observed_from(b, name=aside_name), state="exited")
    observed = observed_of(current, aside)
    docker_plan = plan(fleet_of(b), observed, PlanOptions(traits=DOCKER_TRAITS, secrets_dir="/srv/botmaker/secrets"))
    (action,) = docker_plan.actions
    assert action.action == NOOP and action.leftovers == (aside.id,)
    assert any("copies left by an interrupted apply" in r for r in action.reasons)
    other = plan(fleet_of(b), observed, PlanOptions(secrets_dir="/srv/botmaker/secrets", traits=NO_IN_PLACE))
    (action,) = other.actions
    # without aside copies the same name is just an extra unit with this bot's labels
    assert not any("interrupted apply" in r for r in action.reasons)
    assert any("extra services carry this bot's labels" in r for r in action.reasons)  # in the backend's words
    assert REMOVE not in [a.action for a in other.actions]


def test_prepare_plans_with_the_backends_own_traits():
    """The planner gets the traits from the backend that observed the fleet, not Docker's by
    default: on a backend without in-place fields, a memory change plans a replace."""
    from deployer.core.model import FleetSpec
    from deployer.flows.prepare import prepare
    from deployer.runtime.applier import Applier, ApplyOptions
    from tests.support.fake_backend import FakeBackend

    for traits, expected in ((DOCKER_TRAITS, UPDATE), (NO_IN_PLACE, REPLACE)):
        engine = FakeBackend(traits=traits)
        first = FleetSpec(name="tr", secrets_dir=None, bots=(bot("ana", image="app:1", secrets=(), volumes=(),
                                                                 ports=(), healthcheck=None, memory_bytes=256 * MIB),))
        report = Applier(engine, "tr", ApplyOptions(settle=0)).apply(prepare(first, PlanOptions(traits=DOCKER_TRAITS), engine).plan)
        assert not report.failed, report
        second = dataclasses.replace(first, bots=(change(first.bots[0], memory_bytes=512 * MIB),))
        prepared = prepare(second, PlanOptions(traits=DOCKER_TRAITS), engine)
        assert [a.action for a in prepared.plan.actions] == [expected], traits
        assert prepared.options.traits is traits
