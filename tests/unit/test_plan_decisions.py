"""Decisions travel on the plan: the planner says, per change, whether it forces a replacement and
why, and per action, how it is carried out (Action.method), from the backend's traits and
OpenClaw's reload classes. The same manifest change on Docker's traits and on swarm's, as tables.
The renderer and the applier only read these; the last tests check that they do."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.backends.swarm.traits import SWARM_TRAITS
from deployer.cli.render import render_plan, verb
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
    Change,
    FleetSpec,
    Method,
    Observed,
    Plan,
)
from deployer.core.traits import Traits
from deployer.openclaw.config import config_bytes, render_config
from deployer.openclaw.container import with_gateway
from deployer.plan.planner import RELOADS, PlanOptions, plan
from deployer.runtime.steps import STEPS
from tests.support.planner_cases import (
    FLEET,
    MIB,
    OTHER_IMAGE_ID,
    SECRETS_DIR,
    bot,
    change,
    fleet_of,
    foreign,
    observed_from,
    observed_of,
)

TRAITS = {"docker": DOCKER_TRAITS, "swarm": SWARM_TRAITS}
B = bot("support")
DIRS = FleetSpec(name=FLEET, secrets_dir=SECRETS_DIR, state_dir="/srv/state", config_dir="/srv/config")
GW = dataclasses.replace(with_gateway(bot("support", runtime="openclaw", volumes=()), DIRS), healthcheck=None)
OPUS = dataclasses.replace(GW, provider=(("model", "claude-opus"), ("name", "anthropic")))
MODEL = "config agents.defaults.model.primary"


def observed_gateway(made_from: BotSpec, state: str = "running") -> Observed:
    """A gateway's container with the config the deployer wrote for `made_from` on the host."""
    return dataclasses.replace(observed_of(observed_from(made_from, state=state)),
                               configs={made_from.name: config_bytes(render_config(made_from))})


def one_action(desired: BotSpec | None, observed: Observed, backend: str, **options: Any) -> Action:
    fleet = fleet_of(desired) if desired is not None else FleetSpec(name=FLEET, secrets_dir=SECRETS_DIR)
    result = plan(fleet, observed, PlanOptions(traits=TRAITS[backend], secrets_dir=SECRETS_DIR, **options))
    assert result.errors == ()
    (action,) = result.actions
    return action


# --- each change: does it force a replacement, and why --------------------------------------------

# (case id, desired bot, observed engine, changed field, backend, forces replacement?, why)
CHANGES: list[tuple[str, BotSpec, Observed, str, str, bool, str]] = []
for backend, in_place in (("docker", True), ("swarm", False)):
    CHANGES += [
        ("image", change(B, image="openclaw:2"), observed_of(observed_from(B)), "image", backend, True,
         "image changed"),
        ("env", change(B, env=(("LOG_LEVEL", "debug"),)), observed_of(observed_from(B)), "env", backend, True,
         "env changed"),
        ("memory", change(B, memory_bytes=1024 * MIB), observed_of(observed_from(B)), "memory", backend,
         not in_place, "memory changed (in place)" if in_place else "memory changed"),
        ("restart", change(B, restart_policy="always"), observed_of(observed_from(B)), "restart", backend,
         not in_place, "restart changed (in place)" if in_place else "restart changed"),
        ("memory-removed", change(B, memory_bytes=None), observed_of(observed_from(B)), "memory", backend, True,
         "memory limit removed (docker update cannot unset it)" if in_place else "memory changed"),
        ("image-behind-tag", B, observed_of(observed_from(B), image_ids={B.image: OTHER_IMAGE_ID}), "image_id",
         backend, True, f"image {B.image} now points to a different image ID"),
        ("state", change(B, state="stopped"), observed_of(observed_from(B)), "state", backend, False,
         f"{TRAITS[backend].unit_noun} is running, manifest says stopped"),
        ("hot-config", OPUS, observed_gateway(GW), MODEL, backend, False, f"{MODEL} changed (hot reload)"),
        ("restart-config", change(GW, gateway_bind="loopback"), observed_gateway(GW), "config gateway.bind",
         backend, True, "config gateway.bind changed (the gateway restarts for it)"),
        ("config-missing", GW, observed_of(observed_from(GW)), "config", backend, True,
         "the generated config openclaw.json on the host is missing"),
    ]


@pytest.mark.parametrize("desired, observed, field, backend, forces, why",
                         [c[1:] for c in CHANGES], ids=[f"{c[0]}-{c[4]}" for c in CHANGES])
def test_each_change_says_whether_it_forces_a_replacement_and_why(
        desired: BotSpec, observed: Observed, field: str, backend: str, forces: bool, why: str) -> None:
    action = one_action(desired, observed, backend)
    (c,) = [c for c in action.changes if c.field == field]
    assert (c.forces_replacement, c.why) == (forces, why)
    assert why in action.reasons  # the change's reason is the plan's reason line for it
    assert (action.action == REPLACE) == any(c.forces_replacement for c in action.changes)


def test_a_rotated_secret_and_a_renamed_unit_force_the_replace() -> None:
    aside = observed_from(B, name=f"{B.container_name}_old_0123456789ab", fingerprints={"TELEGRAM_BOT_TOKEN": "a"})
    action = one_action(B, observed_of(aside), "docker", secret_fingerprints={"support": {"TELEGRAM_BOT_TOKEN": "b"}})
    assert [(c.field, c.forces_replacement, c.why) for c in action.changes] == [
        ("name", True, f"container is named {aside.name} by an interrupted apply, not {B.container_name}"),
        ("secret TELEGRAM_BOT_TOKEN", True, "secret TELEGRAM_BOT_TOKEN changed (the gateway reads it at start)"),
    ]


# --- each action: how it is carried out ----------------------------------------------------------

def _adopt(backend: str) -> Action:
    squatter = foreign(B.container_name)
    return one_action(B, Observed(fleet=FLEET, foreign_by_name={B.container_name: squatter}), backend,
                      adopt=frozenset({B.name}))


def _orphan(backend: str, prune: bool) -> Action:
    return one_action(None, observed_of(observed_from(bot("gone"))), backend, prune=prune, allow_empty=True)


# (case id, how to get the action, expected kind, method on docker, method on swarm, fallback on docker / swarm)
METHODS: list[tuple[str, Any, str, Method, Method, tuple[Method | None, Method | None]]] = [
    ("create", lambda be: one_action(B, observed_of(), be), CREATE, Method.CREATE, Method.CREATE, (None, None)),
    ("replace", lambda be: one_action(change(B, image="x:2"), observed_of(observed_from(B)), be), REPLACE,
     Method.STOP_FIRST_REPLACE, Method.IN_ENGINE_REPLACE, (None, None)),
    ("adopt", _adopt, REPLACE, Method.STOP_FIRST_REPLACE, Method.IN_ENGINE_REPLACE, (None, None)),
    ("start", lambda be: one_action(B, observed_of(observed_from(B, state="exited")), be), START,
     Method.START, Method.START, (None, None)),
    ("stop", lambda be: one_action(change(B, state="stopped"), observed_of(observed_from(B)), be), STOP,
     Method.STOP, Method.STOP, (None, None)),
    ("noop", lambda be: one_action(B, observed_of(observed_from(B)), be), NOOP, Method.CLEAN_UP, Method.CLEAN_UP,
     (None, None)),
    ("orphan", lambda be: _orphan(be, prune=False), ORPHAN, Method.LEAVE, Method.LEAVE, (None, None)),
    ("prune", lambda be: _orphan(be, prune=True), REMOVE, Method.REMOVE, Method.REMOVE, (None, None)),
    ("hot-reload", lambda be: one_action(OPUS, observed_gateway(GW), be), UPDATE, Method.HOT_RELOAD,
     Method.HOT_RELOAD, (Method.STOP_FIRST_REPLACE, Method.IN_ENGINE_REPLACE)),
    ("hot-change-of-a-stopped-gateway", lambda be: one_action(OPUS, observed_gateway(GW, state="exited"), be),
     UPDATE, Method.IN_PLACE, Method.IN_PLACE, (None, None)),
]


@pytest.mark.parametrize("get, kind, on_docker, on_swarm, fallbacks", [m[1:] for m in METHODS],
                         ids=[m[0] for m in METHODS])
def test_each_action_carries_its_method(get: Any, kind: str, on_docker: Method, on_swarm: Method,
                                        fallbacks: tuple[Method | None, Method | None]) -> None:
    for backend, method, fallback in (("docker", on_docker, fallbacks[0]), ("swarm", on_swarm, fallbacks[1])):
        action = get(backend)
        assert (action.action, action.method, action.fallback) == (kind, method, fallback), backend


def test_an_in_place_field_is_an_in_place_update_on_docker_and_an_in_engine_replace_on_swarm() -> None:
    desired, observed = change(B, memory_bytes=1024 * MIB), observed_of(observed_from(B))
    docker, swarm = one_action(desired, observed, "docker"), one_action(desired, observed, "swarm")
    assert (docker.action, docker.method) == (UPDATE, Method.IN_PLACE)
    assert (swarm.action, swarm.method) == (REPLACE, Method.IN_ENGINE_REPLACE)


def test_every_method_the_planner_gives_has_a_step_and_an_orphan_none() -> None:
    assert set(STEPS) == set(Method) - {Method.LEAVE}


def test_an_action_built_without_a_method_is_carried_out_the_plain_way_of_its_kind() -> None:
    assert Action("b", REPLACE).method is Method.STOP_FIRST_REPLACE
    assert Action("b", UPDATE, reasons=(RELOADS,), write_config=True).method is Method.IN_PLACE


# --- the readers: the renderer prints the data, knows no backend ----------------------------------

def test_the_text_plan_prints_the_plans_decisions_not_its_own() -> None:
    """Same field names and reasons, opposite verdicts: the text follows the data."""
    reasons = (RELOADS, "memory changed (in place)")
    hot = Action("b", UPDATE, reasons, (Change("memory", 1, 2),), how=Method.HOT_RELOAD)
    plain = dataclasses.replace(hot, how=Method.IN_PLACE)
    assert verb(hot) == "will be updated in place (gateway reloads its config)"
    assert verb(plain) == "will be updated in place"
    forced = Action("b", REPLACE, ("r",), (Change("memory", 1, None, forces_replacement=True),
                                           Change("image", "a", "b", forces_replacement=False)))
    lines = render_plan(Plan("f", (forced,))).splitlines()
    assert "        memory: 1b -> (none)  # forces replacement" in lines
    assert '        image: "a" -> "b"' in lines


def test_the_renderer_imports_no_backend() -> None:
    package = Path(__file__).resolve().parents[2] / "deployer" / "cli" / "render"
    imported = {node.module or "" for source in package.glob("*.py")
                for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.ImportFrom)}
    assert "deployer.core.model" in imported  # the package was read
    assert not any(m.startswith(("deployer.backends", "deployer.openclaw")) for m in imported), imported


def test_a_plan_for_other_traits_is_not_second_guessed() -> None:
    """A backend that changes only cpus in place: memory forces the replace, cpus rides along."""
    cpus_only = Traits(in_place_fields=frozenset({"cpus"}), aside_mark="_old_", secret_delivery="bind-dir")
    desired = change(B, memory_bytes=1024 * MIB, nano_cpus=2_000_000_000)
    result = plan(fleet_of(desired), observed_of(observed_from(B)), PlanOptions(traits=cpus_only, secrets_dir=SECRETS_DIR))
    (action,) = result.actions
    assert action.method is Method.STOP_FIRST_REPLACE
    assert {c.field: c.forces_replacement for c in action.changes} == {"memory": True, "cpus": False}
    text = render_plan(result)
    assert "memory: 512m -> 1g  # forces replacement" in text
    assert "cpus: 1.0 -> 2.0\n" in text
