"""Secrets on the real engine: the read-only mount, checks before any change, rotation, and
exclusive tokens shared by two bots."""

from __future__ import annotations

import json
import secrets as pysecrets

from tests.support.engine_harness import STAND_IN_IMAGE
from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    Manifests,
    cleanup_markers,
    fleet_container_names,
    get_container,
    run_cli,
    write_secret,
)

FAST = ("--wait-timeout", "20")
TOKEN = "TELEGRAM_BOT_TOKEN"


def telegram_bot(**spec):
    return {"image": STAND_IN_IMAGE, "restart": "no", "channels": [{"type": "telegram"}], "secrets": [TOKEN], **spec}


def new_token() -> str:
    return f"{pysecrets.randbelow(10**9)}:AA{pysecrets.token_hex(16)}"


def read_secret_inside(container, name: str = TOKEN) -> str:
    res = container.exec_run(["cat", f"/run/secrets/{name}"])
    assert res.exit_code == 0, res.output
    return res.output.decode()


def test_secrets_are_mounted_read_only_and_readable(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": telegram_bot()})
    token = new_token()
    write_secret(secrets_dir, m.name("a"), TOKEN, token)

    code, out = run_cli("apply", "--yes", *FAST, m.path)
    assert code == 0, out
    c = get_container(docker_client, m.cname("a"))
    assert c.status == "running"
    mounts = [mt for mt in c.attrs["Mounts"] if mt["Destination"] == "/run/secrets"]
    assert len(mounts) == 1, c.attrs["Mounts"]
    (mount,) = mounts
    assert mount["Type"] == "bind"
    assert mount["Source"] == str(secrets_dir / m.name("a"))
    assert mount["RW"] is False
    assert read_secret_inside(c) == token
    whoami = c.exec_run(["id", "-u"])
    assert whoami.output.decode().strip() == "1000"
    # read-only: even a write attempt from inside fails
    res = c.exec_run(["sh", "-c", f"echo x > /run/secrets/{TOKEN}"])
    assert res.exit_code != 0
    assert (secrets_dir / m.name("a") / TOKEN).read_text() == token


def test_unreadable_secret_fails_before_any_change(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": telegram_bot(), "b": {"image": STAND_IN_IMAGE, "restart": "no"}})
    path = write_secret(secrets_dir, m.name("a"), TOKEN, new_token(), uid=0)  # root-owned 0600

    for args in (("plan",), ("apply", "--yes", *FAST)):
        code, out = run_cli(*args, m.path)
        assert code == 1, out
        assert f"chown 1000 {path}" in out
        assert "nothing was changed" in out
        assert "Traceback" not in out
        # no container at all: not even bot b, whose secrets are fine
        assert fleet_container_names(docker_client, fleet_name) == []

    # validate --secrets finds it too, without the engine (the image user is unknown there, so
    # the owner check cannot apply; a group-readable mode always is an error)
    path.chmod(0o640)
    code, out = run_cli("validate", "--secrets", m.path)
    assert code == 1, out
    assert f"chmod 600 {path}" in out


def test_rotated_secret_replaces_the_container(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": telegram_bot()})
    write_secret(secrets_dir, m.name("a"), TOKEN, new_token())
    code, out = run_cli("apply", "--yes", *FAST, m.path)
    assert code == 0, out
    old = get_container(docker_client, m.cname("a"))

    rotated = new_token()
    write_secret(secrets_dir, m.name("a"), TOKEN, rotated)
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2, out
    assert f"-/+ bot {m.name('a')} must be replaced" in out
    assert f"secret {TOKEN} changed" in out
    code, out = run_cli("plan", "--format", "json", m.path)
    assert code == 0, out
    (action,) = json.loads(out)["actions"]
    assert action["action"] == "replace"
    assert any(r.startswith(f"secret {TOKEN} changed") for r in action["reasons"])

    code, out = run_cli("apply", "--yes", *FAST, m.path)
    assert code == 0, out
    new = get_container(docker_client, m.cname("a"))
    assert new.id != old.id and new.status == "running"
    assert read_secret_inside(new) == rotated
    assert fleet_container_names(docker_client, fleet_name) == [m.cname("a")]

    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 0, out
    assert "No changes." in out


def test_shared_exclusive_token_is_refused(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": telegram_bot(), "b": telegram_bot()})
    token = new_token()
    write_secret(secrets_dir, m.name("a"), TOKEN, token)
    write_secret(secrets_dir, m.name("b"), TOKEN, token + "\n")  # same token, trailing newline

    # first, before any plan made the fingerprint key: validate must find the conflict anyway
    code, out = run_cli("validate", "--secrets", m.path)
    assert code == 1, out
    assert "same value" in out and m.name("a") in out and m.name("b") in out
    assert not (secrets_dir / ".deployer-fingerprint-key").exists()  # validate writes nothing

    for args in (("plan",), ("apply", "--yes", *FAST)):
        code, out = run_cli(*args, m.path)
        assert code == 1, out
        conflict = [line for line in out.splitlines() if "same value" in line]
        assert len(conflict) == 1, out
        assert m.name("a") in conflict[0] and m.name("b") in conflict[0]
        assert TOKEN in conflict[0]
        assert fleet_container_names(docker_client, fleet_name) == []

    code, out = run_cli("validate", "--secrets", m.path)
    assert code == 1 and "same value" in out, out
