"""The deployer with the REAL OpenClaw gateway (deployer/openclaw:2026.9.6), through its CLI.

One bot on anthropic + telegram is deployed, checked from outside and inside (healthz, the
model and its secretref-managed key, token auth), hot-reloaded for a model change (same
container, no restart), replaced for a gateway-port change; a canary in every secret file must
appear nowhere: outputs, the saved plan, docker inspect, the gateway's logs, the config.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.support.fleetkit import run_cli
from tests.support.gatewaykit import CLI, OPENCLAW_IMAGE

STOP = ("--stop-timeout", "2")  # a gateway with an unreachable Telegram never stops by itself


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GatewayFleet:
    """A manifest set of OpenClaw bots, with its secrets, state and config under tmp_path."""

    def __init__(self, tmp_path: Path, fleet: str):
        self.fleet = fleet
        self.root = tmp_path
        self.dir = tmp_path / "manifests"
        self.secrets = tmp_path / "secrets"
        self.outputs: list[str] = []

    def bot(self, short: str) -> str:
        return f"{self.fleet}-{short}"

    def write(self, bots: dict[str, dict[str, Any]]) -> str:
        self.dir.mkdir(exist_ok=True)
        fleet = {"apiVersion": "botmaker/v1", "kind": "Fleet", "metadata": {"name": self.fleet},
                 "spec": {"secretsDir": str(self.secrets), "stateDir": str(self.root / "state"),
                          "configDir": str(self.root / "config"),
                          "defaults": {"image": OPENCLAW_IMAGE, "restart": "no", "resources": {"memory": "1g"}}}}
        docs = [fleet] + [{"apiVersion": "botmaker/v1", "kind": "Bot", "metadata": {"name": self.bot(s)},
                           "spec": spec} for s, spec in bots.items()]
        (self.dir / "fleet.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
        return str(self.dir)

    def set_secret(self, short: str, name: str, value: str) -> None:
        code, out = self.cli("secret", "set", self.bot(short), name, "-f", str(self.dir), input=value)
        assert code == 0, out

    def cli(self, *args: str, input: str | None = None) -> tuple[int, str]:
        code, out = run_cli(*args, input=input)
        self.outputs.append(out)
        return code, out

    def config(self, short: str) -> dict[str, Any]:
        return json.loads((self.root / "config" / self.bot(short) / "openclaw.json").read_text())


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status)
    except OSError:
        return 0


def gateway_cli(client: Any, container: str, *args: str) -> tuple[int, str]:
    result = client.containers.get(container).exec_run([*CLI, *args], workdir="/app")
    return result.exit_code, result.output.decode("utf-8", "replace")


def spec_of(port: int, gateway_port: int = 18789, model: str = "claude-sonnet-4-5") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "provider": {"name": "anthropic", "model": model},
        "channels": [{"type": "telegram", "settings": {"dmPolicy": "pairing"}}],
        "secrets": ["OPENCLAW_GATEWAY_TOKEN", "ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"],
        "ports": [{"containerPort": gateway_port, "hostPort": port}],
    }
    if gateway_port != 18789:
        spec["gateway"] = {"port": gateway_port}
    return spec


def test_a_real_gateway_deployed_reloaded_and_replaced(tmp_path, fleet_name, docker_client):
    gf = GatewayFleet(tmp_path, fleet_name)
    port = free_port()
    path = gf.write({"a": spec_of(port)})
    canaries = {"OPENCLAW_GATEWAY_TOKEN": f"gw-canary-{os.urandom(6).hex()}",
                "ANTHROPIC_API_KEY": f"sk-ant-canary-{os.urandom(6).hex()}",
                "TELEGRAM_BOT_TOKEN": f"123456:tg-canary-{os.urandom(6).hex()}\n"}
    for name, value in canaries.items():
        gf.set_secret("a", name, value)
    container = f"botmaker-{gf.bot('a')}"

    # --- create: healthy, the manifest's model with a secretref-managed key, token auth
    started = time.monotonic()
    code, out = gf.cli("apply", "--yes", *STOP, path)
    assert code == 0, out
    print(f"apply to healthy: {time.monotonic() - started:.1f}s")
    assert "preflight: the gateway's own checks ran for 1 bot(s)" in out
    assert http_status(f"http://127.0.0.1:{port}/healthz") == 200
    c = docker_client.containers.get(container)
    assert c.attrs["State"]["Health"]["Status"] == "healthy"
    state_dir = tmp_path / "state" / gf.bot("a")
    st = os.stat(state_dir)
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o700, 1000)
    code, models = gateway_cli(docker_client, container, "models", "status")
    assert code == 0, models
    assert "Default       : anthropic/claude-sonnet-4-5" in models
    assert "anthropic effective=models.json:marker(secretref-managed)" in models
    token = canaries["OPENCLAW_GATEWAY_TOKEN"]
    code, health = gateway_cli(docker_client, container, "gateway", "health", "--token", token)
    assert code == 0 and "OK" in health, health
    code, refused = gateway_cli(docker_client, container, "gateway", "health", "--token", "not-the-token")
    assert code != 0 and "token mismatch" in refused, refused
    code, out = gf.cli("plan", "--detailed-exitcode", path)
    assert code == 0 and "No changes." in out, out

    # --- a model change: a hot reload, same container, no restart, the new model reported
    before = c.attrs
    gf.write({"a": spec_of(port, model="claude-opus-4-1")})
    plan_file = tmp_path / "plan.json"
    code, out = gf.cli("plan", "--out", str(plan_file), path)
    assert code == 0, out
    assert "will be updated in place (gateway reloads its config)" in out
    assert 'config agents.defaults.model.primary: "anthropic/claude-sonnet-4-5" -> "anthropic/claude-opus-4-1"' in out
    started = time.monotonic()
    code, out = gf.cli("apply", "--plan", str(plan_file), *STOP)
    assert code == 0, out
    print(f"reload: {time.monotonic() - started:.1f}s")
    assert "config hot reload applied (agents.defaults.model.primary)" in out
    after = docker_client.containers.get(container).attrs
    assert after["Id"] == before["Id"]
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"] and after["RestartCount"] == 0
    code, models = gateway_cli(docker_client, container, "models", "status")
    assert "Default       : anthropic/claude-opus-4-1" in models, models
    code, out = gf.cli("plan", "--detailed-exitcode", path)
    assert code == 0 and "No changes." in out, out

    # --- a gateway-port change restarts the gateway: a stop-first replace, healthy on the new port
    gf.write({"a": spec_of(port, gateway_port=18790, model="claude-opus-4-1")})
    code, out = gf.cli("plan", path)
    assert "must be replaced" in out and "config gateway.port: 18789 -> 18790  # forces replacement" in out, out
    started = time.monotonic()
    code, out = gf.cli("apply", "--yes", *STOP, path)
    assert code == 0, out
    print(f"replace: {time.monotonic() - started:.1f}s")
    replaced = docker_client.containers.get(container)
    assert replaced.id != before["Id"] and replaced.attrs["State"]["Health"]["Status"] == "healthy"
    assert http_status(f"http://127.0.0.1:{port}/healthz") == 200
    assert gf.config("a")["gateway"]["port"] == 18790
    code, out = gf.cli("plan", "--detailed-exitcode", path)
    assert code == 0 and "No changes." in out, out

    # --- no canary anywhere: outputs, plan file, inspect, the gateway's logs, the rendered config
    mem = replaced.stats(stream=False)["memory_stats"]
    print(f"gateway memory: usage {mem.get('usage', 0) / 2**20:.0f} MiB, max {mem.get('max_usage', 0) / 2**20:.0f} MiB")
    places = {
        "cli output": "\n".join(gf.outputs),
        "plan file": plan_file.read_text(),
        "docker inspect": json.dumps(replaced.attrs),
        "gateway logs": replaced.logs().decode("utf-8", "replace"),
        "rendered config": json.dumps(gf.config("a")),
    }
    code, filelog = gateway_cli(docker_client, container, "logs", "--plain", "--limit", "500")
    places["gateway file log"] = filelog
    for secret, value in canaries.items():
        for where, text in places.items():
            assert value.strip() not in text, f"{secret} leaked into the {where}"
    assert set(json.dumps(gf.config("a")).split('"provider": "')[1:]) and \
        gf.config("a")["secrets"]["providers"]["openclaw_gateway_token"]["path"] == "/run/secrets/OPENCLAW_GATEWAY_TOKEN"


def test_bad_key_files_and_a_broken_config_change_nothing(tmp_path, fleet_name, docker_client):
    gf = GatewayFleet(tmp_path, fleet_name)
    port = free_port()
    path = gf.write({"a": spec_of(port)})
    for name in ("OPENCLAW_GATEWAY_TOKEN", "ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"):
        gf.set_secret("a", name, f"value-of-{name.lower()}-{os.urandom(4).hex()}")
    key = gf.secrets / gf.bot("a") / "ANTHROPIC_API_KEY"

    # our own checks: a 0644 key file and a root-owned one are refused before anything changes
    os.chmod(key, 0o644)
    code, out = gf.cli("apply", "--yes", path)
    assert code == 1 and f"file {key} is open to group or others (mode 0644); run: chmod 600 {key}" in out, out
    os.chmod(key, 0o600)
    os.chown(key, 0, 0)
    code, out = gf.cli("apply", "--yes", path)
    assert code == 1 and f"file {key} is owned by uid 0" in out and f"run: chown 1000 {key}" in out, out
    os.chown(key, 1000, 1000)

    # the gateway's own checks: a value OpenClaw rejects never reaches a container
    spec = spec_of(port)
    spec["openclaw"] = {"logging": {"level": "banana"}}
    gf.write({"a": spec})
    code, out = gf.cli("apply", "--yes", path)
    assert code == 1, out
    assert ("bot " + gf.bot("a") + ": preflight: openclaw config validate: logging.level: Invalid input "
            '(allowed: "silent", "fatal", "error", "warn", "info", "debug", "trace")') in out, out
    assert "the plan has errors (above); nothing was changed" in out
    assert docker_client.containers.list(all=True, filters={"label": f"botmaker.fleet={fleet_name}"}) == []
    assert docker_client.containers.list(all=True, filters={"label": f"botmaker.preflight={fleet_name}"}) == []
    assert not (tmp_path / "config" / gf.bot("a") / "openclaw.json").exists()
