"""Planning OpenClaw bots: the generated config on the host against the manifest's.

Hot-reloadable config paths plan an in-place update that rewrites the config (the gateway
reloads it), restart-class paths and a missing config replace the container, and the
container's labels never record what a reload changes, so the plan after a reload is clean.
Containers are built with planner_cases (labels exactly as the engine writes them)."""

from __future__ import annotations

import dataclasses
import json
from functools import partial
from typing import Any

import pytest

from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.cli.render import render_plan, verb
from deployer.core.model import (
    CREATE,
    NOOP,
    ORPHAN,
    REMOVE,
    REPLACE,
    UPDATE,
    Action,
    BotSpec,
    Change,
    FleetSpec,
    Method,
    Plan,
)
from deployer.openclaw.config import config_bytes, render_config
from deployer.openclaw.container import with_gateway
from deployer.plan import planner
from deployer.plan.document import plan_document
from deployer.plan.planner import PlanOptions, plan
from tests.support.planner_cases import FLEET, HEALTHCHECK, SECRETS_DIR, bot, fleet_of, observed_from, observed_of

STATE = "/srv/botmaker/state"
CONFIG = "/srv/botmaker/config"
DIRS = FleetSpec(name=FLEET, secrets_dir=SECRETS_DIR, state_dir=STATE, config_dir=CONFIG)
OPTS = PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR)
GIB = 1024**3
RELOADS = "the gateway reloads its config (no restart)"
MODEL = "config agents.defaults.model.primary"
forces_replacement = partial(planner.forces_replacement, traits=DOCKER_TRAITS)  # the planner's verdict on a field


def gw(name: str = "support", **overrides: Any) -> BotSpec:
    """An anthropic + telegram OpenClaw bot as expand_fleet gives it (gateway env and mounts)."""
    fields: dict[str, Any] = dict(
        runtime="openclaw", volumes=(), healthcheck=None, memory_bytes=GIB,
        secrets=("ANTHROPIC_API_KEY", "OPENCLAW_GATEWAY_TOKEN", "TELEGRAM_BOT_TOKEN"),
        channel_settings=(("telegram", '{"dmPolicy":"pairing"}'),),
    )
    fields.update(overrides)
    return with_gateway(bot(name, **fields), DIRS)


def on_host(b: BotSpec) -> bytes:
    """The config file the deployer wrote for `b`."""
    return config_bytes(render_config(b))


def run(desired: BotSpec, made_from: BotSpec | None, *, config: bytes | None | str = "same",
        state: str = "running", options: PlanOptions = OPTS) -> Action:
    """Plan `desired` against a container made from `made_from` whose config file is `config`
    ("same": the one written for made_from; None: no file)."""
    containers = (observed_from(made_from, state=state),) if made_from is not None else ()
    observed = observed_of(*containers)
    if made_from is not None and made_from.is_openclaw:
        raw = on_host(made_from) if config == "same" else config
        observed = dataclasses.replace(observed, configs={made_from.name: raw})
    result = plan(fleet_of(desired), observed, options)
    assert result.errors == ()
    (action,) = result.actions
    return action


B = gw()
OPUS = gw(provider=(("model", "claude-opus"), ("name", "anthropic")))


def test_unchanged_bot_is_a_noop() -> None:
    a = run(B, B)
    assert (a.action, a.changes, a.reasons, a.write_config) == (NOOP, (), (), False)


def test_model_change_is_a_hot_reload() -> None:
    a = run(OPUS, B)
    assert a.action == UPDATE and a.write_config is True
    assert a.reasons == (RELOADS, f"{MODEL} changed (hot reload)")
    assert a.changes == (Change(MODEL, "anthropic/claude-sonnet", "anthropic/claude-opus"),)
    assert a.container_id == observed_from(B).id
    assert verb(a) == "will be updated in place (gateway reloads its config)"


def test_after_the_reload_the_next_plan_is_clean() -> None:
    """The container still carries the labels it was created with; only the file changed."""
    a = run(OPUS, B, config=on_host(OPUS))
    assert (a.action, a.changes) == (NOOP, ())


def test_hot_change_on_a_stopped_container_writes_the_config_and_starts_it() -> None:
    a = run(OPUS, B, state="exited")
    assert a.action == UPDATE and a.write_config is True
    assert RELOADS not in a.reasons  # no running gateway to reload
    assert a.changes == (Change(MODEL, "anthropic/claude-sonnet", "anthropic/claude-opus"),
                         Change("state", "exited", "running"))
    assert verb(a) == "will be updated in place"


def test_hot_change_of_a_bot_to_be_stopped() -> None:
    a = run(dataclasses.replace(OPUS, state="stopped"), B)
    assert a.action == UPDATE and a.write_config is True and RELOADS not in a.reasons
    assert a.changes[-1] == Change("state", "running", "stopped")


HOT_CASES = [
    pytest.param(gw(channel_settings=(("telegram", '{"dmPolicy":"allowlist"}'),)), B,
                 {"config channels.telegram.dmPolicy"}, id="channel-setting"),
    pytest.param(B, gw(channels=(), channel_settings=()),
                 {"config channels.telegram.enabled", "config channels.telegram.dmPolicy",
                  "config channels.telegram.botToken.id", "config channels.telegram.botToken.provider",
                  "config channels.telegram.botToken.source",
                  "config secrets.providers.telegram_bot_token.mode", "config secrets.providers.telegram_bot_token.path",
                  "config secrets.providers.telegram_bot_token.source"}, id="channel-added-its-secret-already-mounted"),
    pytest.param(gw(openclaw_config='{"logging":{"level":"debug"}}'), B, {"config logging.level"}, id="spec-openclaw"),
    pytest.param(gw(provider=(("model", "gpt-5"), ("name", "openai")),
                    secrets=("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENCLAW_GATEWAY_TOKEN", "TELEGRAM_BOT_TOKEN")),
                 gw(secrets=("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENCLAW_GATEWAY_TOKEN", "TELEGRAM_BOT_TOKEN")),
                 {MODEL, "config models.providers.anthropic.apiKey.id", "config models.providers.anthropic.apiKey.provider",
                  "config models.providers.anthropic.apiKey.source", "config models.providers.openai.apiKey.id",
                  "config models.providers.openai.apiKey.provider", "config models.providers.openai.apiKey.source",
                  "config models.providers.openai.agentRuntime.id",
                  "config secrets.providers.anthropic_api_key.mode", "config secrets.providers.anthropic_api_key.path",
                  "config secrets.providers.anthropic_api_key.source", "config secrets.providers.openai_api_key.mode",
                  "config secrets.providers.openai_api_key.path", "config secrets.providers.openai_api_key.source"},
                 id="provider-switched-its-key-already-mounted"),
]


@pytest.mark.parametrize("desired, made_from, fields", HOT_CASES)
def test_hot_changes(desired: BotSpec, made_from: BotSpec, fields: set[str]) -> None:
    a = run(desired, made_from)
    assert a.action == UPDATE and a.write_config is True and a.reasons[0] == RELOADS
    assert {c.field for c in a.changes} == fields
    assert not any(forces_replacement(c.field) for c in a.changes)


def test_hot_change_with_an_in_place_limit() -> None:
    a = run(gw(provider=(("model", "claude-opus"), ("name", "anthropic")), memory_bytes=2 * GIB), B)
    assert a.action == UPDATE and a.write_config is True
    assert a.reasons == (RELOADS, "memory changed (in place)", f"{MODEL} changed (hot reload)")
    assert a.changes == (Change("memory", GIB, 2 * GIB),
                         Change(MODEL, "anthropic/claude-sonnet", "anthropic/claude-opus"))


def test_in_place_limit_alone_does_not_touch_the_config() -> None:
    a = run(gw(memory_bytes=2 * GIB), B)
    assert (a.action, a.write_config, a.reasons) == (UPDATE, False, ("memory changed (in place)",))
    assert verb(a) == "will be updated in place"


def test_bind_change_replaces() -> None:
    a = run(gw(gateway_bind="loopback"), B)
    assert a.action == REPLACE and a.write_config is True
    assert a.changes == (Change("config gateway.bind", "lan", "loopback"),)
    assert a.reasons == ("config gateway.bind changed (the gateway restarts for it)",)


def test_port_change_replaces() -> None:
    own_check = gw(healthcheck=HEALTHCHECK)  # so the port shows only in the config
    a = run(gw(healthcheck=HEALTHCHECK, gateway_port=19000), own_check)
    assert a.action == REPLACE and a.write_config is True
    assert a.changes == (Change("config gateway.port", 18789, 19000),)
    # with the default healthcheck the probe's URL moves too
    a = run(gw(gateway_port=19000), B)
    assert a.action == REPLACE and {c.field for c in a.changes} == {"healthcheck", "config gateway.port"}


def test_restart_class_spec_openclaw_path_replaces() -> None:
    a = run(gw(openclaw_config='{"gateway":{"controlUi":{"basePath":"/bot"}}}'), B)
    assert a.action == REPLACE
    assert a.changes == (Change("config gateway.controlUi.basePath", None, "/bot"),)


def test_hot_and_restart_paths_together_replace_and_say_which_forces_it() -> None:
    a = run(gw(provider=(("model", "claude-opus"), ("name", "anthropic")), gateway_bind="loopback"), B)
    assert a.action == REPLACE and a.write_config is True
    assert {c.field: forces_replacement(c.field) for c in a.changes} == {"config gateway.bind": True, MODEL: False}
    text = render_plan(Plan(fleet=FLEET, actions=(a,)))
    assert '        config gateway.bind: "lan" -> "loopback"  # forces replacement' in text.splitlines()
    assert f'        {MODEL}: "anthropic/claude-sonnet" -> "anthropic/claude-opus"' in text.splitlines()


def test_rendered_hot_reload_plan() -> None:
    p = plan(fleet_of(OPUS), dataclasses.replace(observed_of(observed_from(B)), configs={"support": on_host(B)}), OPTS)
    lines = render_plan(p).splitlines()
    assert "    ~ bot support will be updated in place (gateway reloads its config)" in lines
    assert f'        {MODEL}: "anthropic/claude-sonnet" -> "anthropic/claude-opus"' in lines
    (doc,) = plan_document(p)["actions"]
    assert doc["changes"] == [{"field": MODEL, "before": "anthropic/claude-sonnet", "after": "anthropic/claude-opus"}]


@pytest.mark.parametrize("config, what", [(None, "missing"), (b"{\n", "not a JSON object"), (b"[]", "not a JSON object")])
def test_config_not_on_the_host_replaces(config: bytes | None, what: str) -> None:
    a = run(B, B, config=config)
    assert a.action == REPLACE and a.write_config is True
    assert a.changes == (Change("config", f"({what})", "(generated)"),)
    assert a.reasons == (f"the generated config openclaw.json on the host is {what}",)


def test_config_never_read_is_missing() -> None:
    p = plan(fleet_of(B), observed_of(observed_from(B)), OPTS)  # no Observed.configs entry at all
    (a,) = p.actions
    assert a.action == REPLACE and a.changes == (Change("config", "(missing)", "(generated)"),)


def test_create_writes_the_config_and_keeps_the_state_dir() -> None:
    a = run(B, None)
    assert (a.action, a.write_config) == (CREATE, True)
    assert a.reasons == ("no container",
                         f"state dir {STATE}/support is created if missing and never deleted (not even by --prune)")


def test_container_runtime_bot_has_no_config() -> None:
    plain = bot("support")
    a = run(plain, None)
    assert (a.action, a.write_config, a.reasons) == (CREATE, False, ("no container",))
    p = plan(fleet_of(plain), observed_of(observed_from(plain)), OPTS)  # no configs read: nothing missing
    assert [(x.action, x.changes) for x in p.actions] == [(NOOP, ())]


ORPHAN_NOTE = "an OpenClaw bot: its state dir and generated config stay on the host (the deployer never deletes them)"


@pytest.mark.parametrize("prune, kind", [(False, ORPHAN), (True, REMOVE)])
def test_orphaned_openclaw_bot_keeps_its_state_dir(prune: bool, kind: str) -> None:
    old, plain = gw("old-bot"), bot("old-plain")
    p = plan(fleet_of(B), observed_of(observed_from(B), observed_from(old), observed_from(plain)),
             PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, prune=prune))
    by_bot = {a.bot: a for a in p.actions}
    assert by_bot["old-bot"].action == kind
    assert by_bot["old-bot"].reasons == (
        f"container botmaker-old-bot belongs to fleet {FLEET} but no manifest declares bot 'old-bot'", ORPHAN_NOTE)
    assert by_bot["old-plain"].action == kind and ORPHAN_NOTE not in by_bot["old-plain"].reasons


def test_a_number_turned_boolean_is_a_change() -> None:
    a = run(gw(openclaw_config='{"tools":{"x":true}}'), gw(openclaw_config='{"tools":{"x":1}}'))
    assert a.action == UPDATE and a.changes == (Change("config tools.x", 1, True),)


# --- render helpers -------------------------------------------------------------------------------

@pytest.mark.parametrize("field, forces", [
    ("config gateway.port", True),
    ("config gateway.bind", True),
    ("config gateway.auth.mode", True),
    ("config secrets.egressProxy.url", True),
    ("config", True),  # the file itself is missing
    ("config agents.defaults.model.primary", False),
    ("config channels.telegram.dmPolicy", False),
    ("config gateway.auth.token.provider", False),
    ("memory", False),
    ("cpus", False),
    ("restart", False),
    ("image", True),
    ("env", True),
])
def test_forces_replacement(field: str, forces: bool) -> None:
    assert forces_replacement(field) is forces


@pytest.mark.parametrize("action, expected", [
    (Action("b", UPDATE, reasons=(RELOADS,), write_config=True, how=Method.HOT_RELOAD),
     "will be updated in place (gateway reloads its config)"),
    (Action("b", UPDATE, reasons=(RELOADS,), write_config=False), "will be updated in place"),
    (Action("b", UPDATE, reasons=("memory changed (in place)",), write_config=True), "will be updated in place"),
    (Action("b", REPLACE, reasons=(RELOADS,), write_config=True), "must be replaced"),
    (Action("b", CREATE, write_config=True), "will be created"),
])
def test_verb(action: Action, expected: str) -> None:
    assert verb(action) == expected


def test_plan_json_of_config_changes_is_plain_json() -> None:
    p = plan(fleet_of(gw(gateway_bind="loopback")),
             dataclasses.replace(observed_of(observed_from(B)), configs={"support": on_host(B)}), OPTS)
    doc = json.loads(render_plan(p, fmt="json"))
    assert doc["actions"][0]["changes"] == [{"field": "config gateway.bind", "before": "lan", "after": "loopback"}]
