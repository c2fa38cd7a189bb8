"""The canonical container spec and its hash: stable for equal specs, sensitive to every field
that defines the container, blind to how it is run, and free of secret values."""

from __future__ import annotations

import json
import re

import pytest

from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.core.spec import SPEC_VERSION, canonical_json, container_spec, spec_hash

IN_PLACE_FIELDS = DOCKER_TRAITS.in_place_fields
from deployer.core.model import Healthcheck, Port, Volume
from tests.support.planner_cases import SECRETS_DIR, bot, change

B = bot("support")


def h(b, secrets_dir=SECRETS_DIR) -> str:
    return spec_hash(container_spec(b, secrets_dir))


def test_version_prefix() -> None:
    value = h(B)
    assert value.startswith(f"{SPEC_VERSION}-")
    assert re.fullmatch(r"v\d+-[0-9a-f]{32}", value)


def test_equal_specs_hash_equal() -> None:
    assert h(B) == h(bot("support"))
    assert canonical_json(container_spec(B, SECRETS_DIR)) == canonical_json(container_spec(bot("support"), SECRETS_DIR))


@pytest.mark.parametrize(
    "a, b",
    [
        pytest.param(dict(env=(("A", "1"), ("B", "2"))), dict(env=(("B", "2"), ("A", "1"))), id="env-order"),
        pytest.param(dict(labels=(("team", "x"), ("tier", "1"))), dict(labels=(("tier", "1"), ("team", "x"))),
                     id="label-order"),
        pytest.param(dict(provider=(("model", "m"), ("name", "n"))), dict(provider=(("name", "n"), ("model", "m"))),
                     id="provider-order"),
        pytest.param(dict(ports=(Port(1, 2), Port(3, 4, "0.0.0.0", "udp"))),
                     dict(ports=(Port(3, 4, "0.0.0.0", "udp"), Port(1, 2))), id="port-order"),
        pytest.param(dict(volumes=(Volume("a", "/a"), Volume("/srv/b", "/b", True))),
                     dict(volumes=(Volume("/srv/b", "/b", True), Volume("a", "/a"))), id="volume-order"),
    ],
)
def test_input_order_does_not_matter(a: dict, b: dict) -> None:
    assert h(change(B, **a)) == h(change(B, **b))


def test_canonical_json_is_canonical() -> None:
    text = canonical_json(container_spec(B, SECRETS_DIR))
    assert " " not in text.replace("--max-old-space-size=768", "")  # compact separators
    assert text == canonical_json(json.loads(text))  # sorted keys: a round trip is stable
    assert text.isascii()


REPLACE_FIELD_CHANGES = {
    "image": dict(image="ghcr.io/openclaw/openclaw:2026.3.1"),
    "command": dict(command=("node", "gateway")),
    "command-empty": dict(command=()),  # [] is not None: an explicit empty command
    "env-value": dict(env=(("LOG_LEVEL", "debug"), ("NODE_OPTIONS", "--max-old-space-size=768"))),
    "env-key": dict(env=(("LOG_LEVEL", "info"),)),
    "user": dict(user="1001"),
    "user-none": dict(user=None),
    "ports-host": dict(ports=(Port(18789, 18790),)),
    "ports-ip": dict(ports=(Port(18789, 18789, "0.0.0.0"),)),
    "ports-proto": dict(ports=(Port(18789, 18789, protocol="udp"),)),
    "volumes-source": dict(volumes=(Volume("other", "/home/node/.openclaw"),)),
    "volumes-ro": dict(volumes=(Volume("botmaker-support-data", "/home/node/.openclaw", True),)),
    "secrets-names": dict(secrets=("TELEGRAM_BOT_TOKEN",)),
    "secrets-none": dict(secrets=()),
    "network": dict(network="botnet"),
    "healthcheck": dict(healthcheck=None),
    "healthcheck-retries": dict(healthcheck=Healthcheck(test=("CMD", "true"), retries=1)),
    "labels": dict(labels=(("team", "ops"),)),
    "provider": dict(provider=(("model", "other"), ("name", "anthropic"))),
    "channels": dict(channels=("telegram", "discord")),
    "memory": dict(memory_bytes=1024 * 1024 * 1024),
    "cpus": dict(nano_cpus=2_000_000_000),
    "restart": dict(restart_policy="always"),
    "restart-retries": dict(restart_policy="on-failure", restart_max_retries=3),
}


@pytest.mark.parametrize("overrides", list(REPLACE_FIELD_CHANGES.values()), ids=list(REPLACE_FIELD_CHANGES))
def test_every_spec_field_changes_the_hash(overrides: dict) -> None:
    assert h(change(B, **overrides)) != h(B)


def test_on_failure_retry_count_changes_the_hash() -> None:
    one = change(B, restart_policy="on-failure", restart_max_retries=1)
    two = change(B, restart_policy="on-failure", restart_max_retries=2)
    assert h(one) != h(two)
    assert container_spec(two)["restart"] == "on-failure:2"
    # retries only matter for on-failure
    assert h(change(B, restart_max_retries=5)) == h(B)


def test_secrets_dir_changes_the_hash_only_with_secrets() -> None:
    assert h(B, "/other") != h(B, SECRETS_DIR)
    assert h(B, "/srv/botmaker/secrets/") == h(B, SECRETS_DIR)  # trailing slash normalised
    no_secrets = change(B, secrets=())
    assert h(no_secrets, "/other") == h(no_secrets, SECRETS_DIR) == h(no_secrets, None)


@pytest.mark.parametrize(
    "overrides",
    [dict(state="stopped"), dict(pull_policy="Always"), dict(pull_policy="Never"), dict(source_file="elsewhere.yaml")],
    ids=["state", "pullPolicy-Always", "pullPolicy-Never", "source_file"],
)
def test_how_it_runs_does_not_change_the_hash(overrides: dict) -> None:
    assert h(change(B, **overrides)) == h(B)


def test_spec_shape() -> None:
    spec = container_spec(B, SECRETS_DIR)
    assert set(IN_PLACE_FIELDS) <= set(spec)
    assert "state" not in spec and "pullPolicy" not in spec and "pull_policy" not in spec
    assert spec["secrets"] == {"mount": f"{SECRETS_DIR}/support:/run/secrets:ro",
                               "names": ["ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"]}
    assert spec["cpus"] == 1.0 and spec["memory"] == 512 * 1024 * 1024
    assert container_spec(change(B, memory_bytes=None, nano_cpus=None))["memory"] is None


def test_no_secret_values_in_the_spec(tmp_path) -> None:
    """Secret file contents never enter the spec (which goes into a container label): only the
    secret names and the mount path do."""
    canary = "CANARY-7f3a9c-do-not-leak"
    secrets_dir = tmp_path / "secrets"
    (secrets_dir / "support").mkdir(parents=True)
    for name in B.secrets:
        (secrets_dir / "support" / name).write_text(canary + "\n")
    spec = container_spec(B, str(secrets_dir))
    text = canonical_json(spec)
    assert canary not in text
    assert canary not in spec_hash(spec)
    assert "ANTHROPIC_API_KEY" in text and "TELEGRAM_BOT_TOKEN" in text
    assert f"{secrets_dir}/support:/run/secrets:ro" in text
