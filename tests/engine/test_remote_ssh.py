"""DOCKER_HOST=ssh://… and docker contexts, on real parts: Debian's sshd on 127.0.0.1 (a port of
our own, throwaway host and user keys, a known_hosts we write) in front of the shared engine.

The "remote" host is this machine reached over ssh, so the secret checks run through the
helper container (ssh:// is never treated as local) while the test can still write the files.
"""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.engine_harness import STAND_IN_IMAGE_V2
from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    FAST,
    Manifests,
    cleanup_markers,
    fleet_container_list,
    run_cli_streams,
    write_secret,
)
from tests.support.remotekit import PrivateSSHD, Unavailable, cbot, keygen


@pytest.fixture(scope="module")
def sshd():
    root = Path(tempfile.mkdtemp(prefix="dpl-sshd-", dir="/tmp"))
    d = PrivateSSHD(root)
    try:
        d.start()
    except Unavailable as exc:
        pytest.fail(f"cannot run a private sshd: {exc}", pytrace=False)
    yield d
    d.stop()
    import shutil

    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def ssh_env(sshd, tmp_path):
    sshd.write_client_config()
    env = sshd.client_env()
    env["DOCKER_HOST"] = sshd.docker_host
    (tmp_path / "docker-config").mkdir()
    env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")  # never the user's ~/.docker
    return env


@pytest.fixture
def canary() -> str:
    return "CANARY-" + pysecrets.token_hex(16)


class Runs:
    """Every command's whole output is kept and searched for the canary."""

    def __init__(self, env: dict[str, str], canary: str):
        self.env, self.canary, self.outputs = env, canary, []

    def __call__(self, *args: str, expect: int | None = 0, env: dict[str, str] | None = None) -> str:
        code, stdout, out = run_cli_streams(*args, env=env or self.env)
        self.outputs.append(out)
        assert self.canary not in out, f"secret value leaked by deployer {' '.join(args)}:\n{out}"
        assert "Traceback" not in out, out
        if expect is not None:
            assert code == expect, f"deployer {' '.join(args)} exited {code}, not {expect}:\n{out}"
        return out


def test_create_noop_replace_prune_over_ssh(tmp_path, fleet_name, secrets_dir, docker_client, ssh_env, canary, sshd):
    run = Runs(ssh_env, canary)
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    write_secret(secrets_dir, m.name("a"), "TELEGRAM_BOT_TOKEN", f"{canary}-a\n")
    m.write({"a": cbot(secrets=["TELEGRAM_BOT_TOKEN"]), "b": cbot()})

    out = run("plan", m.path)
    assert f"engine: {sshd.docker_host}" in out and "2 to create" in out
    out = run("apply", "--yes", *FAST, m.path)
    assert f"engine: {sshd.docker_host}" in out and "2 succeeded, 0 failed" in out
    names = {c.name for c in fleet_container_list(docker_client, fleet_name)}
    assert names == {m.cname("a"), m.cname("b")}, names

    # no-op: the remote fingerprints equal the ones stamped at create
    out = run("plan", "--detailed-exitcode", m.path)
    assert "No changes." in out
    status = json.loads(run_cli_streams("status", "--format", "json", m.path, env=ssh_env)[1])
    assert status["engine"] == sshd.docker_host and {b["actual_state"] for b in status["bots"]} == {"running"}
    assert status["last_apply"] is not None  # the record marker was written over ssh

    # rotation is seen remotely: a new value replaces a, nothing else
    write_secret(secrets_dir, m.name("a"), "TELEGRAM_BOT_TOKEN", f"{canary}-a-rotated\n")
    plan = json.loads(run_cli_streams("plan", "--format", "json", m.path, env=ssh_env)[1])
    changed = {a["bot"]: a["action"] for a in plan["actions"]}
    assert changed == {m.name("a"): "replace"}, plan

    # replace by image, and prune b
    m.write({"a": cbot(image=STAND_IN_IMAGE_V2, secrets=["TELEGRAM_BOT_TOKEN"])})
    out = run("apply", "--yes", "--prune", *FAST, m.path)
    assert "failed" not in out.replace("0 failed", ""), out
    containers = fleet_container_list(docker_client, fleet_name)
    assert [(c.name, c.attrs["Config"]["Image"]) for c in containers] == [(m.cname("a"), STAND_IN_IMAGE_V2)]
    run("plan", "--detailed-exitcode", "--prune", m.path)
    # the lock was taken and released over ssh: nothing holds the fleet
    assert "is not locked" in run("unlock", fleet_name)
    for c in containers:
        assert canary not in json.dumps(c.attrs)


def test_wrong_or_unknown_host_key_is_refused_in_one_line(tmp_path, fleet_name, secrets_dir, docker_client,
                                                          ssh_env, sshd):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": cbot()})
    real = sshd.known_hosts.read_text()
    try:
        sshd.trust_host_key(keygen(tmp_path / "impostor"))
        code, _, out = run_cli_streams("apply", "--yes", *FAST, m.path, env=ssh_env)
        errors = [line for line in out.splitlines() if line.strip()]
        assert code == 1 and len(errors) == 1, out
        assert errors[0].startswith("error: ") and f"ssh to root@127.0.0.1:{sshd.port}" in errors[0], out
        assert "does not match the one in known_hosts" in errors[0], out

        sshd.known_hosts.write_text("")  # unknown host: strict checking (from the ssh config) refuses
        code, _, out = run_cli_streams("plan", m.path, env=ssh_env)
        assert code == 1 and "host key verification failed" in out and len(out.strip().splitlines()) == 1, out
    finally:
        sshd.known_hosts.write_text(real)
    assert fleet_container_list(docker_client, fleet_name) == []


def test_refused_key_and_refused_connection_are_one_line(tmp_path, fleet_name, secrets_dir, ssh_env, sshd):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": cbot()})
    sshd.write_client_config(identity=Path(str(tmp_path / "stranger")))
    keygen(tmp_path / "stranger")
    code, _, out = run_cli_streams("plan", m.path, env=ssh_env)
    assert code == 1 and "refused our key" in out and len(out.strip().splitlines()) == 1, out
    sshd.write_client_config()
    env = dict(ssh_env, DOCKER_HOST="ssh://root@127.0.0.1:1")
    code, _, out = run_cli_streams("status", m.path, env=env)
    assert code == 1 and "ssh to root@127.0.0.1:1: connection refused" in out, out
    assert len(out.strip().splitlines()) == 1, out


@pytest.mark.parametrize("breakage", ["mode-0644", "root-owned"])
def test_remote_secret_check_refuses_bad_files_before_any_change(tmp_path, fleet_name, secrets_dir, docker_client,
                                                                 ssh_env, canary, breakage):
    run = Runs(ssh_env, canary)
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    kwargs = {"mode": 0o644} if breakage == "mode-0644" else {"uid": 0}
    path = write_secret(secrets_dir, m.name("a"), "ANTHROPIC_API_KEY", f"{canary}\n", **kwargs)
    m.write({"a": cbot(secrets=["ANTHROPIC_API_KEY"]), "b": cbot()})
    out = run("apply", "--yes", *FAST, m.path, expect=1)
    want = "is open to group or others (mode 0644)" if breakage == "mode-0644" else "is owned by uid 0"
    assert str(path) in out and want in out and "nothing was changed" in out, out
    assert fleet_container_list(docker_client, fleet_name) == []


def test_docker_context_selected_by_flag_and_env(tmp_path, fleet_name, secrets_dir, docker_client, ssh_env, sshd):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": cbot()})
    env = dict(ssh_env)
    env.pop("DOCKER_HOST")
    ctx = f"ssh-{fleet_name}"[:50]
    made = subprocess.run(["docker", "context", "create", ctx, "--docker", f"host={sshd.docker_host}"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert list(Path(env["DOCKER_CONFIG"], "contexts", "meta").iterdir()), "docker context create wrote no store"

    code, _, out = run_cli_streams("--context", ctx, "apply", "--yes", *FAST, m.path, env=env)
    assert code == 0 and f"engine: {sshd.docker_host} (context {ctx})" in out, out
    code, _, out = run_cli_streams("plan", "--detailed-exitcode", m.path, env=dict(env, DOCKER_CONTEXT=ctx))
    assert code == 0 and f"(context {ctx})" in out and "No changes." in out, out

    # `docker context use` sets currentContext; DOCKER_HOST still wins over it, as in the docker CLI
    used = subprocess.run(["docker", "context", "use", ctx], env=env, capture_output=True, text=True, timeout=60)
    assert used.returncode == 0, used.stderr
    code, _, out = run_cli_streams("plan", m.path, env=env)
    assert code == 0 and f"(context {ctx})" in out, out
    local = dict(env, DOCKER_HOST="unix:///var/run/docker.sock")
    code, _, out = run_cli_streams("plan", m.path, env=local)
    assert code == 0 and "engine: unix:///var/run/docker.sock\n" in out, out
    # --host wins over everything, even a context named by DOCKER_CONTEXT that does not exist
    code, _, out = run_cli_streams("--host", sshd.docker_host, "plan", m.path,
                                   env=dict(env, DOCKER_CONTEXT="no-such-context"))
    assert code == 0 and f"engine: {sshd.docker_host}\n" in out, out
    code, _, out = run_cli_streams("--context", "no-such-context", "plan", m.path, env=env)
    assert code == 1 and "docker context 'no-such-context' (from --context) not found" in out, out
    assert len(fleet_container_list(docker_client, fleet_name)) == 1



def test_helper_gathers_the_same_facts_as_local_os_calls(tmp_path, fleet_name, secrets_dir, docker_client,
                                                        stand_in_image, canary):
    """The remote gatherer, run against this machine's engine, sees what lstat sees here: the same
    modes, owners and link counts, and byte-identical HMAC fingerprints (HMAC-SHA256 in sh)."""
    from deployer.backends.docker.engine import DockerEngine
    from deployer.runtime.remote_secrets import _run_facts
    from deployer.secrets.checks import gather_local

    write_secret(secrets_dir, "a", "TELEGRAM_BOT_TOKEN", f"  {canary}\n")
    write_secret(secrets_dir, "a", "OPEN", f"{canary}-2", mode=0o644)
    write_secret(secrets_dir, "b", "TELEGRAM_BOT_TOKEN", canary)  # same token after strip
    write_secret(secrets_dir, "b", "BLANK", " \n\t")
    write_secret(secrets_dir, "b", "ROOTS", f"{canary}-3", uid=0)
    os.link(secrets_dir / "b" / "ROOTS", secrets_dir / "b" / "hardlink")
    (secrets_dir / "a" / "LINK").symlink_to("/etc/passwd")
    wanted = {"a": ("TELEGRAM_BOT_TOKEN", "OPEN", "LINK", "GONE"), "b": ("TELEGRAM_BOT_TOKEN", "BLANK", "ROOTS")}
    token_key = os.urandom(32)
    here = gather_local(secrets_dir, wanted, True, token_key)
    engine = DockerEngine()
    there = _run_facts(engine, stand_in_image, secrets_dir, wanted, token_key)
    assert there == here
    assert here.files[("a", "TELEGRAM_BOT_TOKEN")].token == here.files[("b", "TELEGRAM_BOT_TOKEN")].token
    assert here.files[("b", "ROOTS")].nlink == 2 and here.extra["b"] == ["hardlink"]  # link counts travel too
    assert engine.calls["helper"] >= 5 and not [
        c for c in docker_client.containers.list(all=True, filters={"label": "botmaker.helper=true"})
        if c.name.startswith("botmaker-helper-") and str(secrets_dir) in json.dumps(c.attrs)]


def test_a_bot_printing_its_secret_is_redacted_on_the_remote_host(tmp_path, fleet_name, secrets_dir, docker_client,
                                                                  ssh_env, canary):
    """The gateway prints its token and exits: the quoted log lines are redacted on the host
    (the runner cannot read the value), so the canary is absent and the secret is named."""
    run = Runs(ssh_env, canary)
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    write_secret(secrets_dir, m.name("a"), "TELEGRAM_BOT_TOKEN", f"{canary}\n")
    m.write({"a": cbot(secrets=["TELEGRAM_BOT_TOKEN"],
                       command=["sh", "-c", "echo bad token $(cat /run/secrets/TELEGRAM_BOT_TOKEN) rejected; exit 3"])})
    # (with a remote engine only the host-side redaction runs: the runner's files are not the host's)
    out = run("apply", "--yes", *FAST, m.path, expect=1)
    assert "[secret TELEGRAM_BOT_TOKEN]" in out and "exited with code 3" in out, out


def test_a_local_runners_lock_holds_off_an_ssh_runner(tmp_path, fleet_name, secrets_dir, docker_client, ssh_env):
    """The lock is a marker container on the engine: a run through the local socket and a run
    over ssh to the same engine exclude each other, and the ssh run changes nothing."""
    from deployer.backends.docker.engine import DockerEngine
    from deployer.runtime.lock import FleetLock

    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": cbot()})
    with FleetLock(DockerEngine(), fleet_name):
        code, _, out = run_cli_streams("apply", "--yes", *FAST, m.path, env=ssh_env)
    assert code == 1 and f"error: fleet {fleet_name} is locked by" in out, out
    assert fleet_container_list(docker_client, fleet_name) == []
