"""Helpers for the swarm backend's tests (tests/swarm/test_swarm_backend.py, bench/swarm_apply.py): manifests of a swarm fleet, the CLI in process against the
test swarm's manager, and the cleanup of everything a fleet made (services, secrets, marker
configs), found by the deployer's own labels, never by name."""

from __future__ import annotations

import json
import os
import shutil
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

IMAGE = "deployer-test/openclaw:1"
IMAGE2 = "deployer-test/openclaw:2"
BOT_UID = 1000
FAST = ("--wait-timeout", "60", "--stop-timeout", "5")
MARKER_KINDS = ("botmaker.record", "botmaker.lock", "botmaker.history")


class SwarmFleet:
    """A swarm fleet's manifest set in tmp_path/<fleet>: a Fleet doc (backend swarm, runtime
    container) and one file per bot; bots are named <fleet>-<short>."""

    def __init__(self, tmp_path: Path, name: str, docker_host: str):
        self.name = name
        self.docker_host = docker_host
        self.dir = tmp_path / name / "manifests"
        self.secrets_dir = tmp_path / name / "secrets"
        self.secrets_dir.mkdir(parents=True, mode=0o700)
        os.chmod(self.secrets_dir, 0o700)

    @property
    def path(self) -> str:
        return str(self.dir)

    def bot(self, short: str) -> str:
        return f"{self.name}-{short}"

    def service(self, short: str) -> str:
        return f"botmaker-{self.bot(short)}"

    def write(self, bots: Mapping[str, Mapping[str, Any]]) -> str:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        fleet = {"apiVersion": "botmaker/v1", "kind": "Fleet", "metadata": {"name": self.name},
                 "spec": {"backend": "swarm", "secretsDir": str(self.secrets_dir),
                          "defaults": {"runtime": "container", "image": IMAGE}}}
        (self.dir / "fleet.yaml").write_text(yaml.safe_dump(fleet, sort_keys=False))
        for short, spec in bots.items():
            doc = {"apiVersion": "botmaker/v1", "kind": "Bot", "metadata": {"name": self.bot(short)}, "spec": dict(spec)}
            (self.dir / f"bot-{short}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        return self.path

    def secret(self, short: str, name: str, value: str) -> Path:
        bot_dir = self.secrets_dir / self.bot(short)
        bot_dir.mkdir(mode=0o700, exist_ok=True)
        os.chown(bot_dir, BOT_UID, BOT_UID)
        path = bot_dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value)
        os.chown(path, BOT_UID, BOT_UID)
        return path

    def env(self, host: str | None = None) -> dict[str, str]:
        return {"DOCKER_HOST": host or self.docker_host, "DOCKER_CONTEXT": "", "DEPLOYER_SWARM_UPDATE_MONITOR": "1"}

    def cli(self, *args: str, host: str | None = None, env: Mapping[str, str] | None = None) -> tuple[int, str]:
        """`deployer <args>` in process against the manager (or `host`): (exit code, stdout+stderr)."""
        from deployer.cli import main

        env = {**self.env(host), **(env or {})}
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=True)
        out = result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            out += "".join(traceback.format_exception(result.exception))
            return 99, out
        return result.exit_code, out

    def apply(self, *extra: str) -> tuple[int, str]:
        return self.cli("apply", "--yes", *FAST, *extra, self.path)


def remove_fleet(client: Any, fleet: str) -> None:
    """Every service and secret labelled botmaker.fleet=<fleet>, and its marker configs."""
    for svc in client.services.list(filters={"label": f"botmaker.fleet={fleet}"}):
        svc.remove()
    for secret in client.secrets.list(filters={"label": f"botmaker.fleet={fleet}"}):
        try:
            secret.remove()
        except Exception:  # noqa: BLE001 - a task still shutting down; the lab's teardown ends it
            pass
    for kind in MARKER_KINDS:
        for cfg in client.configs.list(filters={"label": f"{kind}={fleet}"}):
            cfg.remove()


def tasks_of(client: Any, service: str) -> list[dict[str, Any]]:
    return client.api.tasks(filters={"service": service})


def running(client: Any, service: str) -> list[dict[str, Any]]:
    return [t for t in tasks_of(client, service)
            if t["DesiredState"] == "running" and t["Status"]["State"] == "running"]


def update_by_hand(client: Any, service: str, change: Any) -> None:
    """What an operator's `docker service update` does: the stored spec, changed, sent back."""
    api = client.api
    svc = api.inspect_service(service, insert_defaults=False)
    spec = json.loads(json.dumps(svc["Spec"]))
    change(spec)
    res = api.post(f"{api.base_url}/v{api.api_version}/services/{svc['ID']}/update", json=spec,
                   params={"version": svc["Version"]["Index"]})
    res.raise_for_status()
