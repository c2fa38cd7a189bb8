"""No secret value ever leaves the secret files: not in any command's output (text or json,
success or failure), not in plans, not in the containers' configuration.

A canary is planted in every secret file of the fleet; every output is searched for it.
"""

from __future__ import annotations

import json
import secrets as pysecrets

import pytest

from tests.support.engine_harness import STAND_IN_IMAGE
from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    Manifests,
    cleanup_markers,
    fleet_container_list,
    run_cli_streams,
    wait_status,
    write_secret,
)

FAST = ("--wait-timeout", "20")


@pytest.fixture
def canary() -> str:
    return "CANARY-" + pysecrets.token_hex(16)


class Leakcheck:
    def __init__(self, canary: str):
        self.canary = canary
        self.runs: list[tuple[tuple[str, ...], int, str]] = []

    def run(self, *args: str, expect: int | None = 0, stdout_only: bool = False) -> str:
        """stdout+stderr is searched; returned too, or stdout alone (to parse json)."""
        code, stdout, out = run_cli_streams(*args)
        self.runs.append((args, code, out))
        assert self.canary not in out, f"secret value leaked by `deployer {' '.join(args)}`:\n{out}"
        assert "Traceback" not in out, out
        if expect is not None:
            assert code == expect, f"`deployer {' '.join(args)}` exited {code}, not {expect}:\n{out}"
        return stdout if stdout_only else out

    def json(self, *args: str, expect: int | None = 0):
        return json.loads(self.run(*args, expect=expect, stdout_only=True))


def plant(secrets_dir, m: Manifests, canary: str, bots: dict[str, list[str]]) -> None:
    for short, names in bots.items():
        for name in names:
            write_secret(secrets_dir, m.name(short), name, f"{canary}-{short}-{name}\n")


def assert_containers_clean(docker_client, fleet_name: str, canary: str) -> int:
    containers = fleet_container_list(docker_client, fleet_name)
    for c in containers:
        attrs = c.attrs
        config = attrs["Config"]
        for what, value in (("Config.Env", config.get("Env")), ("Config.Labels", config.get("Labels")),
                            ("Config.Cmd", config.get("Cmd")), ("Args", attrs.get("Args")),
                            ("docker inspect", attrs)):
            assert canary not in json.dumps(value), f"secret value in {what} of {c.name}"
    return len(containers)


def test_secret_values_never_leak(tmp_path, fleet_name, secrets_dir, docker_client, canary):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    spec_a = {
        "image": STAND_IN_IMAGE, "restart": "no",
        "provider": {"name": "anthropic", "model": "claude-sonnet-4-5"},
        "channels": [{"type": "telegram"}],
        "secrets": ["ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"],
    }
    spec_b = {
        "image": STAND_IN_IMAGE, "restart": "no",
        "channels": [{"type": "discord"}], "secrets": ["DISCORD_BOT_TOKEN"],
    }
    m.write({"a": spec_a, "b": spec_b})
    plant(secrets_dir, m, canary, {"a": ["ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"],
                                   "b": ["DISCORD_BOT_TOKEN", "NOTES"]})  # NOTES: undeclared, warned about
    leak = Leakcheck(canary)

    # validate, with and without the secret checks
    leak.run("validate", m.path)
    out = leak.run("validate", "--secrets", m.path)
    assert "NOTES" in out  # the undeclared file is reported by name only
    leak.json("validate", "--format", "json", "--secrets", m.path)

    # plan, apply, status
    leak.run("plan", m.path)
    plan_doc = leak.run("plan", "--format", "json", m.path, stdout_only=True)
    assert json.loads(plan_doc)["summary"]["create"] == 2
    assert canary not in plan_doc
    leak.run("apply", "--yes", *FAST, m.path)
    leak.run("status", m.path)
    leak.json("status", "--format", "json", m.path)
    leak.run("plan", "--detailed-exitcode", m.path)
    assert assert_containers_clean(docker_client, fleet_name, canary) == 2

    # a rotation is reported by name, never by value
    write_secret(secrets_dir, m.name("b"), "DISCORD_BOT_TOKEN", f"{canary}-b-rotated\n")
    out = leak.run("plan", m.path)
    assert "secret DISCORD_BOT_TOKEN changed" in out
    plan_doc = leak.run("plan", "--format", "json", m.path, stdout_only=True)
    assert [a["action"] for a in json.loads(plan_doc)["actions"]] == ["replace"]
    assert canary not in plan_doc
    leak.run("apply", "--yes", *FAST, m.path)

    # failing applies: a replace that rolls back and a create that fails, both bots printing
    # their secret to the log before dying, as a gateway rejecting its token would
    spec_a_bad = {**spec_a, "command": [
        "sh", "-c",
        'echo "getMe failed: https://api.telegram.org/bot$(cat /run/secrets/TELEGRAM_BOT_TOKEN)/getMe 401" >&2; exit 5',
    ]}
    spec_c = {
        "image": STAND_IN_IMAGE, "restart": "no",
        "provider": {"name": "openai"}, "secrets": ["OPENAI_API_KEY"],
        "command": ["sh", "-c", "echo invalid key: $(cat /run/secrets/OPENAI_API_KEY); exit 2"],
    }
    plant(secrets_dir, m, canary, {"c": ["OPENAI_API_KEY"]})
    m.write({"a": spec_a_bad, "b": spec_b, "c": spec_c})
    out = leak.run("apply", "--yes", *FAST, m.path, expect=1)
    assert "rolled back" in out and "exited with code 5" in out and "getMe failed" in out
    assert "exited with code 2" in out and "invalid key" in out
    # the log lines are quoted with the values masked
    assert "/bot[secret TELEGRAM_BOT_TOKEN]/getMe" in out and "invalid key: [secret OPENAI_API_KEY]" in out
    wait_status(docker_client, m.cname("a"), "running")
    leak.run("status", m.path)
    leak.json("status", "--format", "json", m.path)
    leak.json("plan", "--format", "json", m.path)
    assert assert_containers_clean(docker_client, fleet_name, canary) == 3

    # secret checks that fail: a group-readable file, and two bots sharing one exclusive token
    m.write({"a": spec_a, "b": spec_b})
    (secrets_dir / m.name("b") / "DISCORD_BOT_TOKEN").chmod(0o644)
    for args in (("validate", "--secrets"), ("validate", "--secrets", "--format", "json"),
                 ("plan",), ("plan", "--format", "json"), ("apply", "--yes", *FAST)):
        out = leak.run(*args, m.path, expect=1)
        assert "DISCORD_BOT_TOKEN" in out
    (secrets_dir / m.name("b") / "DISCORD_BOT_TOKEN").chmod(0o600)

    spec_d = {"image": STAND_IN_IMAGE, "restart": "no", "channels": [{"type": "telegram"}],
              "secrets": ["TELEGRAM_BOT_TOKEN"]}
    write_secret(secrets_dir, m.name("d"), "TELEGRAM_BOT_TOKEN", f"{canary}-a-TELEGRAM_BOT_TOKEN\n")
    m.write({"a": spec_a, "b": spec_b, "d": spec_d})
    for args in (("validate", "--secrets"), ("plan",), ("apply", "--yes", *FAST)):
        out = leak.run(*args, m.path, expect=1)
        assert "same value" in out

    assert assert_containers_clean(docker_client, fleet_name, canary) == 3
    assert len(leak.runs) >= 24  # every step above ran
