"""render_plan: the text people read and the versioned JSON document, from plain plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.cli.render import render_plan
from deployer.core.model import Action, Change, Plan
from deployer.plan.document import plan_document
from deployer.plan.planner import PlanOptions, plan
from tests.support.planner_cases import MIB, SECRETS_DIR, bot, change, fleet_of, foreign, observed_from, observed_of

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json"
OPTS = PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR)


def one_of_each() -> Plan:
    """create alpha, replace bravo, update charlie, start delta, stop echo; foxtrot unchanged."""
    b = {n: bot(n) for n in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")}
    fleet = fleet_of(
        b["alpha"],
        change(b["bravo"], image="ghcr.io/openclaw/openclaw:2026.3.1",
               env=(("LOG_LEVEL", "debug"), ("NODE_OPTIONS", "--max-old-space-size=768")), memory_bytes=1024 * MIB),
        change(b["charlie"], memory_bytes=1024 * MIB, restart_policy="on-failure", restart_max_retries=3),
        b["delta"],
        change(b["echo"], state="stopped"),
        b["foxtrot"],
    )
    observed = observed_of(
        observed_from(b["bravo"]), observed_from(b["charlie"]), observed_from(b["delta"], state="exited"),
        observed_from(b["echo"]), observed_from(b["foxtrot"]),
    )
    return plan(fleet, observed, OPTS)


EXPECTED_TEXT = """\
    + bot alpha will be created
        # no container
        image: "ghcr.io/openclaw/openclaw:2026.2.26"
        env: {"LOG_LEVEL": "info", "NODE_OPTIONS": "--max-old-space-size=768"}
        user: "1000"
        ports: ["127.0.0.1:18789:18789/tcp"]
        volumes: ["botmaker-alpha-data:/home/node/.openclaw:rw"]
        secrets: {"mount": "/srv/botmaker/secrets/alpha:/run/secrets:ro", "names": ["ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"]}
        network: "bridge"
        healthcheck: {"interval": "30s", "retries": 3, "startPeriod": "0s", "test": ["CMD", "wget", "-qO-", "http://127.0.0.1:18789/healthz"], "timeout": "5s"}
        labels: {"team": "support"}
        provider: {"model": "claude-sonnet", "name": "anthropic"}
        channels: ["telegram"]
        memory: 512m
        cpus: 1.0
        restart: "unless-stopped"

  -/+ bot bravo must be replaced
        # image changed
        # env changed
        # memory changed (in place)
        image: "ghcr.io/openclaw/openclaw:2026.2.26" -> "ghcr.io/openclaw/openclaw:2026.3.1"  # forces replacement
        env: { LOG_LEVEL: "info" -> "debug" }  # forces replacement
        memory: 512m -> 1g

    ~ bot charlie will be updated in place
        # memory changed (in place)
        # restart changed (in place)
        memory: 512m -> 1g
        restart: "unless-stopped" -> "on-failure:3"

    > bot delta will be started
        # container is exited, manifest says running
        state: "exited" -> "running"

    . bot echo will be stopped
        # container is running, manifest says stopped
        state: "running" -> "stopped"

Plan: 1 to create, 1 to replace, 1 to update, 1 to start, 1 to stop."""


def test_text_one_of_each_action() -> None:
    assert render_plan(one_of_each()) == EXPECTED_TEXT
    assert render_plan(one_of_each(), "text") == EXPECTED_TEXT


def test_text_without_color_has_no_escape_codes() -> None:
    assert "\x1b[" not in render_plan(one_of_each(), "text", color=False)


def test_text_empty_plan() -> None:
    empty = plan(fleet_of(), observed_of(), OPTS)
    assert render_plan(empty) == (
        "No changes. Fleet demo matches its manifests.\n"
        "Plan: 0 to create, 0 to replace, 0 to update, 0 to start, 0 to stop."
    )


def test_text_unchanged_fleet_hides_noops() -> None:
    b = bot("support")
    text = render_plan(plan(fleet_of(b), observed_of(observed_from(b)), OPTS))
    assert "support" not in text
    assert text.startswith("No changes.")


def test_text_noop_with_leftovers_is_shown() -> None:
    b = bot("support")
    p = plan(fleet_of(b), observed_of(observed_from(b, id="new"),
                                      observed_from(b, name="botmaker-support_old_0123456789ab", id="old")), OPTS)
    text = render_plan(p)
    assert "      bot support only extra copies removed\n" in text
    assert "        # copies left by an interrupted apply will be removed: botmaker-support_old_0123456789ab" in text
    assert "No changes." not in text


def test_text_orphans_removals_errors_and_foreign() -> None:
    gone, support, ops = bot("gone"), bot("support"), bot("ops")
    observed = observed_of(
        observed_from(support), observed_from(gone, id="g" * 64),
        foreign_by_name={"botmaker-ops": foreign("botmaker-ops", id="f" * 64)},
        foreign_managed_count=2,
    )
    orphaned = render_plan(plan(fleet_of(support, ops), observed, OPTS))
    assert "    ? bot gone is an orphan (no manifest); left alone without --prune" in orphaned
    assert "1 orphan container(s) of fleet demo listed above; --prune removes them." in orphaned
    assert "  ! bot ops: container botmaker-ops (ffffffffffff) already exists" in orphaned
    assert "2 managed container(s) of other fleets or tools seen and left alone." in orphaned
    assert "No changes." not in orphaned  # errors are not "no changes"

    pruned = render_plan(plan(fleet_of(support), observed_of(observed_from(support), observed_from(gone)),
                              PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, prune=True)))
    assert "    - bot gone will be removed" in pruned
    assert "Plan: 0 to create, 0 to replace, 0 to update, 0 to start, 0 to stop, 1 to remove." in pruned


def test_text_secret_rotation_shows_no_values() -> None:
    b = bot("support")
    p = plan(fleet_of(b), observed_of(observed_from(b, fingerprints={"TELEGRAM_BOT_TOKEN": "0ld"})),
             PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, secret_fingerprints={"support": {"TELEGRAM_BOT_TOKEN": "n3w"}}))
    text = render_plan(p)
    assert '        secret TELEGRAM_BOT_TOKEN: "(fingerprint)" -> "(new fingerprint)"  # forces replacement' in text
    assert "0ld" not in text and "n3w" not in text
    assert "0ld" not in render_plan(p, "json") and "n3w" not in render_plan(p, "json")


def test_text_value_rendering() -> None:
    p = Plan(fleet="demo", actions=(Action("x", "replace", ("r",), changes=(
        Change("memory", 1, None),
        Change("ports", ["a"], ["a", "b"], forces_replacement=True),
    )),))
    text = render_plan(p)
    assert "        memory: 1b -> (none)\n" in text  # in-place field: no "forces replacement" marker
    assert '        ports: ["a"] -> ["a", "b"]  # forces replacement' in text


def test_text_no_changes_with_an_orphan_does_not_match_the_manifests() -> None:
    p = plan(fleet_of(), observed_of(observed_from(bot("gone"))), OPTS)
    lines = render_plan(p).splitlines()
    assert "No changes. Fleet demo does not match its manifests: orphans run (listed above)." in lines
    assert "No changes. Fleet demo matches its manifests." not in lines


def test_text_keeps_letters_and_escapes_what_a_terminal_would_hide() -> None:
    """h\u00e9llo used to be printed so; letters stay, control, bidi and zero-width characters are escaped."""
    env = {"GREETING": "h\u00e9llo \u4f60\u597d \U0001F600", "EVIL": "a\u202eb\x1b[31mc\u200bd\x9b"}
    p = Plan(fleet="demo", actions=(Action("x", "create", ("no container",), (Change("env", None, env),)),))
    text = render_plan(p)
    assert '        env: {"EVIL": "a\\u202eb\\u001b[31mc\\u200bd\\u009b", "GREETING": "h\u00e9llo \u4f60\u597d \U0001F600"}' in text
    assert "\x1b" not in text and "\u202e" not in text and "\x9b" not in text


def test_text_marks_a_removed_limit_as_what_forces_the_replace() -> None:
    """docker update can change a limit but not unset it: removing one is why the bot is replaced."""
    b = bot("support")
    text = render_plan(plan(fleet_of(change(b, memory_bytes=None)), observed_of(observed_from(b)), OPTS))
    assert "        # memory limit removed (docker update cannot unset it)\n" in text
    assert "        memory: 512m -> (none)  # forces replacement\n" in text


# --- JSON ---------------------------------------------------------------------------------------

def test_json_is_the_plan_document() -> None:
    p = one_of_each()
    doc = json.loads(render_plan(p, "json"))
    assert doc == plan_document(p)
    assert doc["format_version"] == "1"
    assert doc["fleet"] == "demo"
    assert [(a["bot"], a["action"]) for a in doc["actions"]] == [
        ("alpha", "create"), ("bravo", "replace"), ("charlie", "update"), ("delta", "start"), ("echo", "stop"),
    ]  # the noop (foxtrot) is left out
    assert doc["summary"] == {"create": 1, "replace": 1, "update": 1, "start": 1, "stop": 1, "remove": 0,
                              "orphans": 0}
    assert doc["errors"] == [] and doc["foreign_managed_containers"] == 0
    update = doc["actions"][2]
    assert update["changes"] == [
        {"field": "memory", "before": 512 * MIB, "after": 1024 * MIB},
        {"field": "restart", "before": "unless-stopped", "after": "on-failure:3"},
    ]


def _validator():
    if not SCHEMA.exists():
        pytest.skip(f"{SCHEMA} does not exist yet")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _plans() -> dict[str, Plan]:
    gone, support, ops = bot("gone"), bot("support"), bot("ops")
    return {
        "one-of-each": one_of_each(),
        "empty": plan(fleet_of(), observed_of(), OPTS),
        "orphans-errors": plan(
            fleet_of(support, ops),
            observed_of(observed_from(support), observed_from(gone),
                        observed_from(support, name="botmaker-support_old_0123456789ab", id="old"),
                        foreign_by_name={"botmaker-ops": foreign("botmaker-ops")}, foreign_managed_count=1),
            OPTS,
        ),
        "pruned": plan(fleet_of(support), observed_of(observed_from(gone)), PlanOptions(traits=DOCKER_TRAITS, prune=True)),
    }


@pytest.mark.parametrize("name", list(_plans()))
def test_json_validates_against_schema(name: str) -> None:
    validator = _validator()
    doc = json.loads(render_plan(_plans()[name], "json"))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
