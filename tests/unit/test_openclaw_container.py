"""The container around an OpenClaw gateway (environment, mounts, exec-form healthcheck), the
Fleet directories it needs, and the canonical spec/hash of OpenClaw and plain-container bots."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading

import pytest

from deployer.core.model import BotSpec, FleetSpec, Healthcheck, Volume
from deployer.core.spec import container_spec, spec_hash
from deployer.openclaw.container import config_path, expand_fleet, host_dir, with_gateway
from tests.support.planner_cases import SECRETS_DIR, bot, change

STATE = "/srv/botmaker/state"
CONFIG = "/srv/botmaker/config"
FLEET = FleetSpec(name="demo", state_dir=STATE, config_dir=CONFIG)
GATEWAY_ENV = {
    "OPENCLAW_CONFIG_PATH": "/etc/openclaw/openclaw.json",
    "OPENCLAW_CONFIG_READONLY": "1",
    "OPENCLAW_STATE_DIR": "/home/node/.openclaw",
}


def oc(name: str = "support", **overrides) -> BotSpec:
    """planner_cases' bot as an OpenClaw bot, without the named state volume it mounts itself."""
    fields = dict(runtime="openclaw", volumes=(), healthcheck=None)
    fields.update(overrides)
    return bot(name, **fields)


def test_gateway_environment_added_to_the_bots_own() -> None:
    got = with_gateway(oc(), FLEET)
    assert dict(got.env) == {"LOG_LEVEL": "info", "NODE_OPTIONS": "--max-old-space-size=768", **GATEWAY_ENV}
    assert list(got.env) == sorted(got.env)


def test_config_dir_read_only_and_state_dir_read_write_after_the_bots_volumes() -> None:
    own = Volume("/srv/data/support", "/data", True)
    got = with_gateway(oc(volumes=(own,)), FleetSpec(state_dir=STATE + "/", config_dir=CONFIG + "/"))
    assert got.volumes == (
        own,
        Volume(f"{CONFIG}/support", "/etc/openclaw", True),  # the directory, never the single file
        Volume(f"{STATE}/support", "/home/node/.openclaw", False),
    )
    assert host_dir(got, "/etc/openclaw") == f"{CONFIG}/support"
    assert host_dir(got, "/home/node/.openclaw") == f"{STATE}/support"
    assert host_dir(got, "/nowhere") is None
    assert config_path(got) == f"{CONFIG}/support/openclaw.json"
    assert config_path(oc()) is None  # before with_gateway there is no config mount


def test_default_healthcheck_is_exec_form_on_the_gateway_port() -> None:
    hc = with_gateway(oc(gateway_port=19001), FLEET).healthcheck
    assert hc is not None
    assert hc.test[:3] == ("CMD", "node", "-e") and len(hc.test) == 4
    assert "http://127.0.0.1:19001/healthz" in hc.test[3]
    assert (hc.interval_ns, hc.timeout_ns, hc.retries, hc.start_period_ns) == (10 * 10**9, 5 * 10**9, 3, 60 * 10**9)


def test_the_bots_own_healthcheck_wins() -> None:
    own = Healthcheck(test=("CMD", "node", "probe.js"), interval_ns=1)
    assert with_gateway(oc(healthcheck=own), FLEET).healthcheck == own


def test_the_rest_of_the_bot_is_unchanged() -> None:
    before = oc()
    after = with_gateway(before, FLEET)
    for name in ("name", "image", "labels", "provider", "channels", "secrets", "command", "user", "ports",
                 "memory_bytes", "nano_cpus", "restart_policy", "state", "network", "runtime", "gateway_port",
                 "openclaw_config", "source_file"):
        assert getattr(after, name) == getattr(before, name), name


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH to run the probe")
@pytest.mark.parametrize("status, exit_code", [(200, 0), (503, 1)])
def test_default_healthcheck_probe_runs_in_node(status: int, exit_code: int) -> None:
    """The probe itself, run with a local node against a stand-in /healthz."""
    server = http.server.HTTPServer(("127.0.0.1", 0), type("H", (_Health,), {"status": status}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hc = with_gateway(oc(gateway_port=server.server_address[1]), FLEET).healthcheck
        assert hc is not None
        done = subprocess.run(list(hc.test[1:]), capture_output=True, timeout=20)
        assert done.returncode == exit_code, done.stderr
    finally:
        server.shutdown()
        server.server_close()


# --- expand_fleet -------------------------------------------------------------------------------

def test_expand_fleet_adds_the_gateway_to_openclaw_bots_only() -> None:
    plain = bot("plain")  # runtime container
    fleet = FleetSpec(name="demo", secrets_dir=SECRETS_DIR, bots=(oc("a"), plain), state_dir=STATE, config_dir=CONFIG)
    expanded, problems = expand_fleet(fleet)
    assert problems == []
    a, p = expanded.bots
    assert p == plain
    assert dict(a.env).items() >= GATEWAY_ENV.items() and config_path(a) == f"{CONFIG}/a/openclaw.json"
    assert (expanded.name, expanded.secrets_dir, expanded.state_dir, expanded.config_dir) == (
        "demo", SECRETS_DIR, STATE, CONFIG)


@pytest.mark.parametrize("state_dir, config_dir, missing", [
    (None, CONFIG, "spec.stateDir"),
    (STATE, None, "spec.configDir"),
    (None, None, "spec.stateDir and spec.configDir"),
])
def test_expand_fleet_without_the_directories(state_dir: str | None, config_dir: str | None, missing: str) -> None:
    fleet = FleetSpec(bots=(oc("a", source_file="bots/a.yaml"), bot("plain")), state_dir=state_dir,
                      config_dir=config_dir)
    expanded, problems = expand_fleet(fleet)
    assert [p.format() for p in problems] == [
        f"bots/a.yaml: bot a: runtime openclaw needs {missing} in the Fleet (host directories for each bot's "
        "state and generated config); set them, or set spec.runtime: container"
    ]
    assert all(p.is_error for p in problems)
    assert [b.name for b in expanded.bots] == ["plain"]


# --- canonical spec and hash --------------------------------------------------------------------

# planner_cases' bot("support") (runtime container), as container_spec gave it before OpenClaw
# support (commit 0d20ac4): a plain-container bot must keep its spec, or every running container
# of an existing fleet would be replaced on upgrade.
CONTAINER_SPEC = {
    "image": "ghcr.io/openclaw/openclaw:2026.2.26",
    "command": None,
    "env": {"LOG_LEVEL": "info", "NODE_OPTIONS": "--max-old-space-size=768"},
    "user": "1000",
    "ports": ["127.0.0.1:18789:18789/tcp"],
    "volumes": ["botmaker-support-data:/home/node/.openclaw:rw"],
    "secrets": {"mount": "/srv/botmaker/secrets/support:/run/secrets:ro",
                "names": ["ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"]},
    "network": "bridge",
    "healthcheck": {"test": ["CMD", "wget", "-qO-", "http://127.0.0.1:18789/healthz"], "interval": 30_000_000_000,
                    "timeout": 5_000_000_000, "retries": 3, "startPeriod": 0},
    "labels": {"team": "support"},
    "provider": {"model": "claude-sonnet", "name": "anthropic"},
    "channels": ["telegram"],
    "memory": 512 * 1024 * 1024,
    "cpus": 1.0,
    "restart": "unless-stopped",
}
CONTAINER_HASH = "v1-5e094a9ad2ac49efa567e8965d6716fc"  # spec_hash of CONTAINER_SPEC at 0d20ac4


def test_container_runtime_spec_and_hash_are_unchanged() -> None:
    b = bot("support")
    assert b.runtime == "container"
    assert container_spec(b, SECRETS_DIR) == CONTAINER_SPEC
    assert spec_hash(CONTAINER_SPEC) == CONTAINER_HASH
    assert spec_hash(container_spec(b, SECRETS_DIR)) == CONTAINER_HASH


def test_openclaw_spec_records_the_runtime_not_provider_or_channels() -> None:
    b = with_gateway(oc(), FLEET)
    spec = container_spec(b, SECRETS_DIR)
    assert spec["runtime"] == "openclaw"
    assert "provider" not in spec and "channels" not in spec
    assert set(CONTAINER_SPEC) - set(spec) == {"provider", "channels"}
    assert spec["volumes"] == [f"{CONFIG}/support:/etc/openclaw:ro", f"{STATE}/support:/home/node/.openclaw:rw"]
    assert spec["env"] == {"LOG_LEVEL": "info", "NODE_OPTIONS": "--max-old-space-size=768", **GATEWAY_ENV}


@pytest.mark.parametrize("overrides", [
    pytest.param(dict(provider=(("model", "claude-opus"), ("name", "anthropic"))), id="model"),
    pytest.param(dict(provider=(("model", "gpt-5"), ("name", "openai"))), id="provider"),
    pytest.param(dict(channels=("telegram", "slack")), id="channels"),
    pytest.param(dict(channel_settings=(("telegram", '{"dmPolicy":"open"}'),)), id="channel-settings"),
    pytest.param(dict(openclaw_config='{"logging":{"level":"debug"}}'), id="spec-openclaw"),
])
def test_openclaw_hash_ignores_what_the_gateway_reloads(overrides: dict) -> None:
    before = with_gateway(oc(), FLEET)
    after = with_gateway(change(oc(), **overrides), FLEET)
    assert spec_hash(container_spec(after, SECRETS_DIR)) == spec_hash(container_spec(before, SECRETS_DIR))


@pytest.mark.parametrize("overrides", [
    pytest.param(dict(provider=(("model", "claude-opus"), ("name", "anthropic"))), id="model"),
    pytest.param(dict(channels=("telegram", "slack")), id="channels"),
])
def test_container_hash_still_sees_provider_and_channels(overrides: dict) -> None:
    assert spec_hash(container_spec(change(bot("support"), **overrides), SECRETS_DIR)) != CONTAINER_HASH


def test_runtime_changes_the_hash() -> None:
    same_fields = bot("support")
    assert spec_hash(container_spec(change(same_fields, runtime="openclaw"), SECRETS_DIR)) != CONTAINER_HASH
