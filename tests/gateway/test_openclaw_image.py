"""Smoke tests of the real OpenClaw gateway image built by scripts/openclaw-image.sh.

They drive the engine directly (docker SDK), not through deployer: they prove the image
itself works as the deployer will use it (user 1000, config mounted read-only, state and
secrets from host directories, exec-form healthcheck, CLI at ``node dist/index.js``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.gatewaykit import (
    CLI,
    CONFIG_PATH,
    GATEWAY_PORT,
    GATEWAY_UID,
    OPENCLAW_VERSION,
    TEST_LABEL,
    gateway_env,
    minimal_config,
    write_bot_dirs,
)

HEALTHY_TIMEOUT = 180.0  # 14-22 s measured at load 3-5 on 2 shared cores, 70 s at load 20; bounds a failure only


def test_image_config_matches_what_the_deployer_relies_on(docker_client: Any, openclaw_image: str) -> None:
    config = docker_client.images.get(openclaw_image).attrs["Config"]
    assert config["User"] == str(GATEWAY_UID)
    assert config["WorkingDir"] == "/app"
    assert config["Cmd"] == CLI + ["gateway", "run"]
    assert f"{GATEWAY_PORT}/tcp" in config["ExposedPorts"]
    test = config["Healthcheck"]["Test"]
    # Exec form: the image has only a busybox shell; a CMD-SHELL check would depend on it.
    assert test[0] == "CMD" and test[1].endswith("node"), test
    assert "http://127.0.0.1:" in test[-1] and "/healthz" in test[-1], test
    assert str(GATEWAY_PORT) in test[-1] and "OPENCLAW_GATEWAY_PORT" in test[-1], test
    assert config["Labels"]["deployer.openclaw.version"] == OPENCLAW_VERSION
    assert config["Labels"]["deployer.recipe"]


def test_version(docker_client: Any, openclaw_image: str, gateway_run_id: str) -> None:
    container = docker_client.containers.run(
        openclaw_image,
        CLI + ["--version"],
        name=f"deployer-{gateway_run_id}-version",
        labels={TEST_LABEL: gateway_run_id},
        network_mode="none",
        detach=True,
    )
    result = container.wait(timeout=60)
    output = container.logs().decode(errors="replace")
    assert result["StatusCode"] == 0, output
    assert output.startswith(f"OpenClaw {OPENCLAW_VERSION}"), output
    # Something runs /bin/sh (the gateway writes #!/bin/sh wrappers into its state dir).
    shell = docker_client.containers.run(
        openclaw_image,
        ["/bin/sh", "-c", "id -u; command -v node"],
        name=f"deployer-{gateway_run_id}-sh",
        labels={TEST_LABEL: gateway_run_id},
        network_mode="none",
        detach=True,
    )
    assert shell.wait(timeout=60)["StatusCode"] == 0
    assert shell.logs().decode().split() == [str(GATEWAY_UID), "/usr/local/bin/node"]


NATIVE_ADDONS_JS = """
const pty = require("@lydell/node-pty");
const p = pty.spawn("/bin/sh", ["-c", "echo pty-ok"], {});
let out = "";
p.onData((d) => { out += d; });
p.onExit(() => {
  const { DatabaseSync } = require("node:sqlite");
  const db = new DatabaseSync(":memory:", { allowExtension: true });
  db.loadExtension(require("sqlite-vec").getLoadablePath());
  console.log(JSON.stringify({
    pty: out.trim(),
    koffi: require("koffi").version,
    vec: db.prepare("select vec_version() as v").get().v,
  }));
});
"""


def test_native_addons_load(docker_client: Any, openclaw_image: str, gateway_run_id: str) -> None:
    """The libraries the script copies are enough for the prebuilt addons: node-pty (libutil,
    a pty running /bin/sh), koffi (libstdc++) and the sqlite-vec extension."""
    container = docker_client.containers.run(
        openclaw_image,
        ["node", "-e", NATIVE_ADDONS_JS],
        name=f"deployer-{gateway_run_id}-addons",
        labels={TEST_LABEL: gateway_run_id},
        network_mode="none",
        detach=True,
    )
    result = container.wait(timeout=60)
    output = container.logs().decode(errors="replace")
    assert result["StatusCode"] == 0, output
    loaded = _parse_json_stdout(output.encode())
    assert loaded["pty"] == "pty-ok", loaded
    assert loaded["koffi"] and loaded["vec"].startswith("v"), loaded


def _http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _log_tail(container: Any, lines: int = 40) -> str:
    try:
        return container.logs(tail=lines).decode(errors="replace")
    except Exception as exc:  # noqa: BLE001 - best effort for a failure message
        return f"<no logs: {exc}>"


def _parse_json_stdout(raw: bytes | None) -> dict[str, Any]:
    text = (raw or b"").decode(errors="replace")
    start = text.find("{")
    assert start >= 0, f"no JSON object in: {text!r}"
    return json.loads(text[start:])


def test_gateway_becomes_healthy_with_file_config_and_secrets(
    docker_client: Any,
    openclaw_image: str,
    gateway_run_id: str,
    record_property: Any,
) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"deployer-{gateway_run_id}-"))
    container = None
    try:
        dirs = write_bot_dirs(
            root,
            minimal_config(),
            {
                "OPENCLAW_GATEWAY_TOKEN": "gw-" + gateway_run_id + "-token-0123456789abcdef",
                "ANTHROPIC_API_KEY": "sk-ant-not-a-real-key\n",
            },
        )
        config_md5 = hashlib.md5(dirs.config_file.read_bytes()).hexdigest()
        container = docker_client.containers.run(
            openclaw_image,
            name=f"deployer-{gateway_run_id}-gateway",
            labels={TEST_LABEL: gateway_run_id},
            user=f"{GATEWAY_UID}:{GATEWAY_UID}",
            environment=gateway_env(),
            volumes=dirs.volumes(),
            ports={f"{GATEWAY_PORT}/tcp": ("127.0.0.1", None)},
            read_only=True,
            tmpfs={
                "/tmp": "rw,nosuid,nodev,mode=1777",
                # SQLite snapshot staging; without it a read-only rootfs gives exit 78.
                "/home/node/.cache": f"rw,nosuid,nodev,uid={GATEWAY_UID},gid={GATEWAY_UID},mode=0700",
            },
            mem_limit="1g",
            memswap_limit="1g",
            detach=True,
        )
        started = time.monotonic()
        container.reload()
        host_port = int(container.attrs["NetworkSettings"]["Ports"][f"{GATEWAY_PORT}/tcp"][0]["HostPort"])
        healthz = f"http://127.0.0.1:{host_port}/healthz"

        first_200: float | None = None
        healthy_after: float | None = None
        deadline = started + HEALTHY_TIMEOUT
        while healthy_after is None:
            container.reload()
            state = container.attrs["State"]
            if state["Status"] in ("exited", "dead"):
                pytest.fail(
                    f"gateway exited with {state.get('ExitCode')} (OOMKilled={state.get('OOMKilled')}):\n"
                    f"{_log_tail(container)}",
                    pytrace=False,
                )
            if first_200 is None:
                try:
                    if _http_get(healthz)[0] == 200:
                        first_200 = time.monotonic() - started
                except OSError:
                    pass
            if (state.get("Health") or {}).get("Status") == "healthy":
                healthy_after = time.monotonic() - started
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"gateway not healthy after {HEALTHY_TIMEOUT:.0f}s "
                    f"(health={state.get('Health')}):\n{_log_tail(container)}",
                    pytrace=False,
                )
            time.sleep(0.25)

        status, body = _http_get(healthz)
        assert status == 200, body
        assert json.loads(body) == {"ok": True, "status": "live"}

        code, (out, err) = container.exec_run(CLI + ["config", "validate", "--json"], demux=True)
        report = _parse_json_stdout(out)
        assert code == 0, (out, err)
        assert report["valid"] is True, report
        assert report["path"] == CONFIG_PATH, report

        # The gateway wrote its state where the deployer mounts it, and left the config alone.
        assert (dirs.state / "state" / "openclaw.sqlite").is_file()
        assert hashlib.md5(dirs.config_file.read_bytes()).hexdigest() == config_md5

        mem = docker_client.api.stats(container.id, stream=False)["memory_stats"]
        mib = 1024 * 1024
        metrics = {
            "healthz_200_s": round(first_200, 1) if first_200 is not None else None,
            "healthy_s": round(healthy_after, 1),
            "mem_usage_mib": round(mem.get("usage", 0) / mib),
            "mem_rss_mib": round((mem.get("stats") or {}).get("rss", 0) / mib),
            "mem_max_usage_mib": round(mem.get("max_usage", 0) / mib),  # cgroup v1 only
        }
        for key, value in metrics.items():
            record_property(key, value)
        print(f"openclaw gateway smoke: {metrics}")
    finally:
        if container is not None:
            try:
                container.remove(force=True, v=True)
            except Exception:  # noqa: BLE001 - the gateway_run_id fixture retries and reports
                pass
        shutil.rmtree(root, ignore_errors=True)
