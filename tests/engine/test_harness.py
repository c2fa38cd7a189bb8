"""Self-tests of the real-engine harness: the stand-in images behave like the
bot the deployer expects (serves /healthz on :18789 as uid 1000, and refuses
to start when a mounted secret is unreadable)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.support.engine_harness import (
    BOT_PORT,
    BOT_UID,
    FLEET_LABEL,
    make_fleet_name,
    poll,
    remove_fleet,
)

HEALTH_URL = f"http://127.0.0.1:{BOT_PORT}/healthz"


def _run(client, image, fleet, suffix, **kwargs):
    return client.containers.run(
        image,
        name=f"botmaker-{fleet}-{suffix}",
        labels={FLEET_LABEL: fleet},
        detach=True,
        **kwargs,
    )


def _status(container) -> str:
    container.reload()
    return container.status


def _wait_running(container, timeout: float = 30.0) -> None:
    def running():
        st = _status(container)
        if st in ("exited", "dead"):
            pytest.fail(
                f"{container.name} exited ({container.attrs['State']['ExitCode']}): "
                f"{container.logs().decode(errors='replace')}",
                pytrace=False,
            )
        return st == "running"

    poll(running, timeout=timeout, what=f"{container.name} to be running")


def _healthz(container) -> str | None:
    res = container.exec_run(["wget", "-qO-", HEALTH_URL])
    out = res.output.decode(errors="replace")
    return out if res.exit_code == 0 and "ok" in out else None


def _wait_healthy(container, timeout: float = 30.0) -> str:
    return poll(lambda: _healthz(container), timeout=timeout, what=f"{container.name} /healthz")


def _exit_code(container, timeout: float = 30.0) -> int:
    return int(container.wait(timeout=timeout)["StatusCode"])


def test_fleet_name_shape(fleet_name):
    assert len(fleet_name) <= 40
    assert fleet_name.startswith("t-")
    assert all(ch.islower() or ch.isdigit() or ch == "-" for ch in fleet_name)
    assert not fleet_name.endswith("-") and "--" not in fleet_name


def test_stand_in_images_differ(docker_client, stand_in_image, stand_in_image_v2):
    v1 = docker_client.images.get(stand_in_image)
    v2 = docker_client.images.get(stand_in_image_v2)
    assert v1.id != v2.id
    assert v1.attrs["Config"]["User"] == str(BOT_UID)
    assert f"{BOT_PORT}/tcp" in v1.attrs["Config"]["ExposedPorts"]
    # nothing may be tagged :latest (tests must pin exact versions)
    tags = [t for img in docker_client.images.list(name="deployer-test/openclaw") for t in img.tags]
    assert "deployer-test/openclaw:latest" not in tags


def test_healthz_answers_ok(docker_client, stand_in_image, fleet_name):
    c = _run(docker_client, stand_in_image, fleet_name, "h")
    _wait_running(c)
    assert "ok" in _wait_healthy(c)
    uid = c.exec_run(["id", "-u"]).output.decode().strip()
    assert uid == str(BOT_UID)
    ver = c.exec_run(["cat", "/VERSION"]).output.decode().strip()
    assert ver == "1"


def test_v2_image_serves_too(docker_client, stand_in_image_v2, fleet_name):
    c = _run(docker_client, stand_in_image_v2, fleet_name, "h2")
    _wait_running(c)
    assert "ok" in _wait_healthy(c)
    assert c.exec_run(["cat", "/VERSION"]).output.decode().strip() == "2"


def test_stop_is_prompt(docker_client, stand_in_image, fleet_name):
    """SIGTERM stops the bot at once (no waiting for the stop timeout)."""
    c = _run(docker_client, stand_in_image, fleet_name, "stop")
    _wait_running(c)
    _wait_healthy(c)
    c.stop(timeout=20)
    assert _exit_code(c, timeout=5) == 0


def _secret_dir(secrets_dir: Path, bot: str, *, dir_uid: int = BOT_UID) -> Path:
    d = secrets_dir / bot
    d.mkdir(mode=0o700)
    os.chmod(d, 0o700)
    os.chown(d, dir_uid, dir_uid)
    return d


def _write_secret(d: Path, name: str, *, uid: int) -> Path:
    f = d / name
    f.write_text("s3cr3t\n")
    os.chown(f, uid, uid)
    os.chmod(f, 0o600)
    return f


def _secret_mount(d: Path) -> dict:
    return {str(d): {"bind": "/run/secrets", "mode": "ro"}}


def test_root_owned_secret_is_unreadable(docker_client, stand_in_image, fleet_name, secrets_dir):
    d = _secret_dir(secrets_dir, "bad")
    f = _write_secret(d, "api_token", uid=0)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600 and f.stat().st_uid == 0
    c = _run(docker_client, stand_in_image, fleet_name, "bad", volumes=_secret_mount(d))
    assert _exit_code(c) == 3
    logs = c.logs(stdout=True, stderr=True).decode(errors="replace")
    assert "cannot read secret api_token" in logs


def test_root_only_secret_dir_is_unreadable(docker_client, stand_in_image, fleet_name, secrets_dir):
    d = _secret_dir(secrets_dir, "baddir", dir_uid=0)
    _write_secret(d, "api_token", uid=BOT_UID)
    c = _run(docker_client, stand_in_image, fleet_name, "baddir", volumes=_secret_mount(d))
    assert _exit_code(c) == 3
    assert "cannot read secret" in c.logs().decode(errors="replace")


def test_bot_owned_secret_is_readable(docker_client, stand_in_image, fleet_name, secrets_dir):
    d = _secret_dir(secrets_dir, "good")
    f = _write_secret(d, "api_token", uid=0)
    os.chown(f, BOT_UID, BOT_UID)  # same file, now owned by the bot's uid
    c = _run(docker_client, stand_in_image, fleet_name, "good", volumes=_secret_mount(d))
    _wait_running(c)
    assert "ok" in _wait_healthy(c)
    assert c.exec_run(["cat", "/run/secrets/api_token"]).output.decode().strip() == "s3cr3t"
    # read-only mount: the bot cannot tamper with its secrets
    assert c.exec_run(["sh", "-c", "echo x > /run/secrets/api_token"]).exit_code != 0
    assert "cannot read secret" not in c.logs().decode(errors="replace")


def test_fleet_cleanup_only_touches_own_containers(docker_client, stand_in_image):
    """The fleet_name teardown removes the fleet's containers and nothing else."""
    mine, other = make_fleet_name("cleanup-a"), make_fleet_name("cleanup-b")
    try:
        labelled = _run(docker_client, stand_in_image, mine, "lab")
        # unlabelled but named after the fleet
        named = docker_client.containers.run(
            stand_in_image, name=f"botmaker-{mine}-named", detach=True
        )
        bystander = _run(docker_client, stand_in_image, other, "keep")
        assert remove_fleet(docker_client, mine) == []
        ids = {row["Id"] for row in docker_client.api.containers(all=True)}  # no inspect: others come and go
        assert labelled.id not in ids and named.id not in ids
        assert bystander.id in ids
    finally:
        remove_fleet(docker_client, mine)
        remove_fleet(docker_client, other)
