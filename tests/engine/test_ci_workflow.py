"""Issue "CI and code review", on the real engine: saved plans (exact, secret-free, refused when
stale), the fleet lock (concurrent applies, waiting, a killed holder, unlock), SIGTERM during an
apply, revision stamps and the fleet record, and the CI output formats."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine_harness import STAND_IN_IMAGE, fleet_containers, make_fleet_name, poll, remove_fleet
from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    # noqa: F401 - cleanup_markers is an autouse fixture
    ASIDE_MARK,
    FAST,
    Manifests,
    apply_ok,
    assert_clean,
    bot,
    cleanup_markers,
    env_of,
    get_container,
    run_cli,
    write_secret,
)

ANSI = re.compile(r"\x1b\[")
CANARY_NAME = "CANARY_TOKEN"

# A healthcheck that turns healthy after about two seconds (the first probe runs after one interval).
SLOW_HEALTHY = {"test": ["CMD", "/bin/true"], "interval": "2s", "timeout": "2s", "retries": 3}
# One that never passes and, with this many retries, is not "unhealthy" for a long time either:
# wait_ready keeps waiting until --wait-timeout.
NEVER_HEALTHY = {"test": ["CMD", "/bin/false"], "interval": "1s", "timeout": "1s", "retries": 1000}








def fleet_ids(client: Any, fleet: str) -> dict[str, tuple[str, str]]:
    """id -> (name, state) of every container of the fleet (by label, or by name prefix).

    Filtered list calls only, no inspect per container (a shared engine's containers come and go).
    """
    prefix = f"/botmaker-{fleet}"
    found: dict[str, tuple[str, str]] = {}
    for filters in ({"label": f"botmaker.fleet={fleet}"}, {"name": f"botmaker-{fleet}"}):
        for c in client.api.containers(all=True, filters=filters):
            names = c.get("Names") or []
            mine = [n for n in names if n.startswith(prefix)]
            if "label" in filters or mine:
                found[c["Id"]] = ((mine or names or [c["Id"]])[0].lstrip("/"), c["State"])
    return found


def snapshot(client: Any, fleet: str) -> dict[str, tuple[str, str]]:
    """name -> (id, state) of every container of the fleet."""
    return {name: (cid, state) for cid, (name, state) in fleet_ids(client, fleet).items()}


def remove_fleet_containers(client: Any, fleet: str) -> list[str]:
    """The harness's cleanup (containers, lock and record markers, networks, volumes by the
    fleet's labels, found with filtered list calls); returns what is left or failed."""
    problems = remove_fleet(client, fleet)
    problems += [f"leftover container {name}" for name in fleet_containers(client, fleet).values()]
    return problems


@pytest.fixture
def other_fleet(docker_client):
    """A second unique fleet for a test, cleaned up the same way."""
    name = make_fleet_name("other")
    yield name
    problems = remove_fleet_containers(docker_client, name)
    if problems:
        pytest.fail(f"cleanup of fleet {name} incomplete: {problems}", pytrace=False)


def asides(client: Any, fleet: str) -> list[str]:
    return sorted(n for n in snapshot(client, fleet) if ASIDE_MARK in n)


def marker(client: Any, name: str) -> Any:
    """The marker container with exactly this name, or None."""
    import docker.errors

    try:
        c = client.containers.get(name)
    except docker.errors.NotFound:
        return None
    return c if c.name == name else None


def lock_of(client: Any, fleet: str) -> Any:
    return marker(client, f"botmaker-lock.{fleet}")


def record_of(client: Any, fleet: str) -> Any:
    return marker(client, f"botmaker-record.{fleet}")


def error_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("error:")]


# --- subprocesses --------------------------------------------------------------------------------

def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "DEPLOYER_SECRETS_DIR")}
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", **extra)
    return env


class Procs:
    """Deployer subprocesses of one test; any still running at teardown are killed (before the
    fleet_name fixture removes the fleet, so none can recreate a container afterwards)."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.running: list[tuple[subprocess.Popen, Path]] = []

    def start(self, *args: str, tag: str) -> subprocess.Popen:
        log = self.tmp_path / f"{tag}.log"
        with open(log, "wb") as f:
            proc = subprocess.Popen([sys.executable, "-m", "deployer", *args], stdout=f, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=cli_env(), cwd=str(self.tmp_path))
        self.running.append((proc, log))
        return proc

    def output(self, proc: subprocess.Popen) -> str:
        for p, log in self.running:
            if p is proc:
                return log.read_text(errors="replace")
        raise KeyError(proc.pid)

    def finish(self, proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            pytest.fail(f"deployer pid {proc.pid} still running after {timeout:.0f}s:\n{self.output(proc)}")
        return code, self.output(proc)

    def kill_all(self) -> None:
        for proc, _ in self.running:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def procs(fleet_name: str, tmp_path: Path):
    p = Procs(tmp_path)
    yield p
    p.kill_all()


def run_in_pty(argv: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run argv with stdin/stdout/stderr on a pseudo-terminal (so colour would be on); all output."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait(timeout=10)
                pytest.fail(f"{argv} still running after {timeout:.0f}s: {b''.join(chunks)!r}")
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every slave end is closed, the child is gone
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
    return code, b"".join(chunks).decode(errors="replace")


# --- saved plans ---------------------------------------------------------------------------------

def test_saved_plan_applies_exactly_it_and_holds_no_secret(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    canary = "canary-" + hashlib.sha256(os.urandom(16)).hexdigest()[:32]
    write_secret(secrets_dir, m.name("a"), CANARY_NAME, canary)
    m.write({"a": bot(secrets=[CANARY_NAME], env={"GREETING": "one"}), "c": bot()})
    apply_ok(m)
    before = snapshot(docker_client, fleet_name)

    # the change under review: a's env (replace) and a new bot b (create); c stays as it is
    m.write({"a": bot(secrets=[CANARY_NAME], env={"GREETING": "two"}), "b": bot(), "c": bot()})
    plan_file = tmp_path / "plan.json"
    code, out = run_cli("plan", "--out", str(plan_file), m.path)
    assert code == 0, out
    assert f"apply --plan {plan_file}" in out
    assert snapshot(docker_client, fleet_name) == before  # plan changed nothing

    text = plan_file.read_text()
    document = json.loads(text)
    assert document["kind"] == "deployer-plan"
    actions = {a["bot"]: a["action"] for a in document["plan"]["actions"]}
    assert actions[m.name("a")] == "replace" and actions[m.name("b")] == "create", actions
    assert actions.get(m.name("c"), "noop") == "noop", actions
    for leak in (canary, canary.encode().hex(), hashlib.sha256(canary.encode()).hexdigest(),
                 hashlib.sha256((canary + "\n").encode()).hexdigest()):
        assert leak not in text, "the plan file holds the secret (or a plain hash of it)"
    assert canary not in out

    code, out = run_cli("apply", "--plan", str(plan_file), *FAST)
    assert code == 0, out
    assert "Apply finished: 2 succeeded, 0 failed." in out, out
    assert canary not in out

    after = snapshot(docker_client, fleet_name)
    assert sorted(after) == sorted(m.cname(s) for s in "abc"), after
    assert after[m.cname("c")] == before[m.cname("c")]  # untouched
    assert after[m.cname("a")][0] != before[m.cname("a")][0]  # replaced
    assert after[m.cname("a")][1] == after[m.cname("b")][1] == "running"
    assert env_of(get_container(docker_client, m.cname("a")))["GREETING"] == "two"
    assert lock_of(docker_client, fleet_name) is None
    assert_clean(m)

    # applying the same saved plan again is refused: the engine moved (by the plan itself)
    code, out = run_cli("apply", "--plan", str(plan_file), *FAST)
    assert code == 1, out
    assert error_lines(out) and error_lines(out)[0].startswith("error: plan is stale"), out
    assert snapshot(docker_client, fleet_name) == after


def _rewrite_manifests(m, docker_client, secrets_dir) -> None:
    m.write({"a": bot(secrets=[CANARY_NAME]), "b": bot(env={"GREETING": "three"}), "c": bot()})


def _stop_by_hand(m, docker_client, secrets_dir):
    docker_client.containers.get(m.cname("a")).stop(timeout=5)
    return m.name("a")


def _remove_by_hand(m, docker_client, secrets_dir):
    docker_client.containers.get(m.cname("a")).remove(force=True)
    return m.name("a")


def _rotate_secret(m, docker_client, secrets_dir):
    write_secret(secrets_dir, m.name("a"), CANARY_NAME, "rotated-" + os.urandom(12).hex())
    return m.name("a")


@pytest.mark.parametrize("move", [_rewrite_manifests, _stop_by_hand, _remove_by_hand, _rotate_secret],
                         ids=["manifest-changed", "stopped-by-hand", "removed-by-hand", "secret-rotated"])
def test_stale_saved_plan_is_refused_and_changes_nothing(move, tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    write_secret(secrets_dir, m.name("a"), CANARY_NAME, "first-" + os.urandom(12).hex())
    m.write({"a": bot(secrets=[CANARY_NAME]), "b": bot()})
    apply_ok(m)
    # pending changes: b's env (replace) and a new bot c (create)
    m.write({"a": bot(secrets=[CANARY_NAME]), "b": bot(env={"GREETING": "two"}), "c": bot()})
    plan_file = tmp_path / "plan.json"
    code, out = run_cli("plan", "--out", str(plan_file), m.path)
    assert code == 0, out

    named = move(m, docker_client, secrets_dir)
    before = snapshot(docker_client, fleet_name)

    code, out = run_cli("apply", "--plan", str(plan_file), *FAST)
    assert code == 1, out
    errors = error_lines(out)
    assert errors and errors[0].startswith("error: plan is stale"), out
    if move is _rotate_secret:
        assert f"the secrets of bot {named}" in errors[0], out
    elif named is not None:
        assert f"bot {named}" in errors[0], out
    else:
        assert "manifest" in errors[0], out
    assert "Apply finished" not in out and "[...]" not in out, out
    assert snapshot(docker_client, fleet_name) == before  # same containers, same ids, same states
    assert m.cname("c") not in before
    assert lock_of(docker_client, fleet_name) is None

    # a fresh plan of the same manifests applies
    code, out = run_cli("plan", "--out", str(plan_file), m.path)
    assert code == 0, out
    code, out = run_cli("apply", "--plan", str(plan_file), *FAST)
    assert code == 0, out
    assert_clean(m)


def test_saved_plan_is_not_stale_when_only_other_fleets_change(tmp_path, fleet_name, other_fleet, secrets_dir,
                                                             docker_client):
    """Other fleets deploying on the same engine between plan and apply do not make our plan stale
    (the saved plan used to record how many managed containers of other fleets it saw)."""
    m = Manifests(tmp_path / "ours", fleet_name, secrets_dir)
    m.write({"a": bot()})
    plan_file = tmp_path / "plan.json"
    code, out = run_cli("plan", "--out", str(plan_file), m.path)
    assert code == 0, out

    other = Manifests(tmp_path / "other", other_fleet, secrets_dir)
    other.write({"x": bot()})
    apply_ok(other)
    assert m.cname("a") not in snapshot(docker_client, fleet_name)

    code, out = run_cli("apply", "--plan", str(plan_file), *FAST)
    assert code == 0, out
    assert "Apply finished: 1 succeeded, 0 failed." in out, out
    assert snapshot(docker_client, fleet_name)[m.cname("a")][1] == "running"
    assert list(snapshot(docker_client, other_fleet)) == [other.cname("x")]  # left alone



def test_saved_plan_applies_from_another_directory_and_checkout(tmp_path, fleet_name, secrets_dir, docker_client,
                                                               monkeypatch):
    """Issue 24: `apply --plan` from another directory said a manifest "was removed": the plan
    stored its paths relative to where it was made. Now they are relative to the root of the git
    checkout holding the manifests, so the plan file (a CI artifact) can move, and be applied in
    another checkout of the same repository, from any directory in it."""
    checkout = tmp_path / "job-1"
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    m = Manifests(checkout, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot()})
    monkeypatch.chdir(checkout)
    code, out = run_cli("plan", "--out", "plan.json", "manifests")
    assert code == 0, out

    # the next job: the artifact downloaded elsewhere, the repository checked out elsewhere,
    # apply run from a subdirectory of that checkout
    artifact = tmp_path / "artifacts" / "plan.json"
    artifact.parent.mkdir()
    (checkout / "plan.json").rename(artifact)
    other = tmp_path / "job-2"
    shutil.copytree(checkout, other, symlinks=True)
    (other / "docs").mkdir()
    monkeypatch.chdir(other / "docs")
    code, out = run_cli("apply", "--plan", str(artifact), *FAST)
    assert code == 0, out
    assert "Apply finished: 2 succeeded, 0 failed." in out, out
    assert {n: s for n, (_, s) in snapshot(docker_client, fleet_name).items()} == {
        m.cname("a"): "running", m.cname("b"): "running"}
    stored = json.loads(artifact.read_text())
    assert stored["paths"] == ["manifests"] and stored["relative_to"] == "repository", stored
    assert sorted(stored["manifests"]) == ["manifests/bot-a.yaml", "manifests/bot-b.yaml", "manifests/fleet.yaml"]

    # a checkout whose manifests differ: the stale message says relative to what
    (other / "manifests" / "bot-b.yaml").unlink()
    code, out = run_cli("apply", "--plan", str(artifact), *FAST)
    assert code == 1, out
    assert error_lines(out) == [
        "error: plan is stale: manifest manifests/bot-b.yaml was removed since the plan was made "
        f"(paths relative to the repository root {other})"], out


def test_saved_plan_outside_a_checkout_applies_from_another_directory(tmp_path, fleet_name, secrets_dir,
                                                                     docker_client, monkeypatch):
    """Manifests in no git checkout: the plan stores absolute paths, so apply --plan works from anywhere."""
    m = Manifests(tmp_path / "here", fleet_name, secrets_dir)
    m.write({"a": bot()})
    monkeypatch.chdir(tmp_path / "here")
    code, out = run_cli("plan", "--out", "plan.json", "manifests")
    assert code == 0, out
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    code, out = run_cli("apply", "--plan", "../here/plan.json", *FAST)
    assert code == 0, out
    assert "Apply finished: 1 succeeded, 0 failed." in out, out
    assert json.loads((tmp_path / "here" / "plan.json").read_text())["paths"] == [m.path]

# --- the fleet lock --------------------------------------------------------------------------------

def _three_slow_bots(m: Manifests) -> None:
    m.write({s: bot(healthcheck=SLOW_HEALTHY) for s in ("a", "b", "c")})


def _assert_converged(m: Manifests, docker_client, shorts: str) -> None:
    state = snapshot(docker_client, m.fleet)
    assert sorted(state) == sorted(m.cname(s) for s in shorts), state
    assert all(status == "running" for _, status in state.values()), state
    assert lock_of(docker_client, m.fleet) is None
    assert_clean(m)


def test_concurrent_applies_one_wins_the_other_names_the_holder(tmp_path, fleet_name, secrets_dir,
                                                                 docker_client, procs):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    _three_slow_bots(m)
    args = ("apply", "--yes", "--wait-timeout", "30", m.path)
    first, second = procs.start(*args, tag="one"), procs.start(*args, tag="two")
    results = {first.pid: procs.finish(first), second.pid: procs.finish(second)}

    winners = [pid for pid, (code, _) in results.items() if code == 0]
    losers = [pid for pid, (code, _) in results.items() if code != 0]
    assert len(winners) == 1 and len(losers) == 1, results
    (winner,), (loser,) = winners, losers
    code, out = results[loser]
    assert code == 1, out
    errors = error_lines(out)
    assert errors and "is locked by" in errors[0], out
    assert re.search(rf"@{re.escape(socket.gethostname())} pid {winner}\b", errors[0]), out
    assert "Apply finished" not in out and "[...]" not in out, out  # the loser changed nothing
    assert "Apply finished: 3 succeeded, 0 failed." in results[winner][1], results[winner][1]
    _assert_converged(m, docker_client, "abc")


def test_concurrent_apply_with_lock_timeout_waits_then_succeeds(tmp_path, fleet_name, secrets_dir,
                                                                docker_client, procs):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    _three_slow_bots(m)
    args = ("apply", "--yes", "--wait-timeout", "30", "--lock-timeout", "60", m.path)
    first, second = procs.start(*args, tag="one"), procs.start(*args, tag="two")
    outs = [procs.finish(first), procs.finish(second)]
    assert [code for code, _ in outs] == [0, 0], outs
    applied = [out for _, out in outs if "Apply finished: 3 succeeded, 0 failed." in out]
    waited = [out for _, out in outs if "No changes." in out and "Apply finished" not in out]
    assert len(applied) == 1 and len(waited) == 1, outs
    _assert_converged(m, docker_client, "abc")


def test_killed_apply_lock_expires_and_is_taken_over(tmp_path, fleet_name, secrets_dir, docker_client, procs):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    apply_ok(m)
    old_id = get_container(docker_client, m.cname("a")).id

    # a replace whose new container never gets healthy: killed while it waits for it
    m.write({"a": bot(healthcheck=NEVER_HEALTHY)})
    proc = procs.start("apply", "--yes", "--wait-timeout", "30", "--lock-ttl", "5", m.path, tag="killed")
    poll(lambda: lock_of(docker_client, fleet_name), timeout=30, what="the apply to take the lock")

    def waiting_for_health():
        new = snapshot(docker_client, fleet_name).get(m.cname("a"))
        return bool(asides(docker_client, fleet_name)) and new is not None and new[0] != old_id \
            and new[1] == "running"

    poll(waiting_for_health, timeout=30, what="the old container set aside and the new one started")
    assert proc.poll() is None, procs.output(proc)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL

    held = lock_of(docker_client, fleet_name)
    assert held is not None, "a SIGKILLed apply cannot release its lock"
    assert held.labels["botmaker.lock.pid"] == str(proc.pid)
    expires = float(held.labels["botmaker.lock.expires"])
    assert expires - float(held.labels["botmaker.lock.started"]) == pytest.approx(5, abs=1)
    assert asides(docker_client, fleet_name), "the killed apply left its aside container"

    # the fix lands; once the dead run's lock has expired a new apply takes it over and converges
    m.write({"a": bot(healthcheck=SLOW_HEALTHY)})
    poll(lambda: time.time() > expires + 1, timeout=30, interval=0.2, what="the killed apply's lock to expire")
    code, out = run_cli("apply", "--yes", *FAST, m.path)
    assert code == 0, out
    assert "Took over the expired lock" in out and re.search(rf"pid {proc.pid}\b", out), out
    assert asides(docker_client, fleet_name) == [], snapshot(docker_client, fleet_name)
    c = get_container(docker_client, m.cname("a"))
    assert c.status == "running" and c.attrs["State"]["Health"]["Status"] == "healthy"
    _assert_converged(m, docker_client, "a")


def test_unlock(tmp_path, fleet_name, docker_client):
    from deployer.backends.docker.engine import DockerEngine
    from deployer.runtime.lock import FleetLock

    code, out = run_cli("unlock", fleet_name)
    assert code == 0 and f"fleet {fleet_name} is not locked" in out, out

    lock = FleetLock(DockerEngine(), fleet_name)
    lock.acquire()
    try:
        held = lock_of(docker_client, fleet_name)
        assert held is not None and held.id == lock.marker_id

        code, out = run_cli("unlock", fleet_name)
        assert code == 1, out
        errors = error_lines(out)
        assert errors and errors[0].startswith(f"error: fleet {fleet_name} is locked by"), out
        assert re.search(rf"@{re.escape(socket.gethostname())} pid {os.getpid()}\b", errors[0]), out
        assert "--force" in errors[0]
        assert lock_of(docker_client, fleet_name) is not None  # still held

        code, out = run_cli("unlock", fleet_name, "--force")
        assert code == 0, out
        assert f"removed the lock of fleet {fleet_name} held by" in out, out
        assert re.search(rf"pid {os.getpid()}\b", out), out
        assert lock_of(docker_client, fleet_name) is None
    finally:
        lock.marker_id = None  # it was removed by unlock --force; nothing to release

    code, out = run_cli("unlock", fleet_name)
    assert code == 0 and "is not locked" in out, out
    code, out = run_cli("unlock", fleet_name, "--force")
    assert code == 0 and f"fleet {fleet_name} was not locked" in out, out


# --- SIGTERM during an apply --------------------------------------------------------------------------

def test_sigterm_during_apply_reports_releases_lock_and_next_apply_converges(tmp_path, fleet_name, secrets_dir,
                                                                             docker_client, procs):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    shorts = "abcd"
    m.write({s: bot(healthcheck=SLOW_HEALTHY) for s in shorts})
    proc = procs.start("apply", "--yes", "--parallelism", "1", "--wait-timeout", "30", m.path, tag="term")
    poll(lambda: snapshot(docker_client, fleet_name), timeout=30, what="the first bot's container")
    assert proc.poll() is None, procs.output(proc)
    proc.send_signal(signal.SIGTERM)
    code, out = procs.finish(proc, timeout=60)

    assert code in (130, 1), out
    assert "Traceback" not in out, out
    assert "Apply finished:" in out and "interrupted" in out, out
    # never-started bots are "not started", not failed (issue 24)
    assert "Rollout stopped early: the apply was interrupted" in out and out.rstrip().endswith("(interrupted)."), out
    assert any(line.endswith(" not started") for line in out.splitlines()), out
    assert lock_of(docker_client, fleet_name) is None, "the interrupted apply left its lock"
    made = snapshot(docker_client, fleet_name)
    assert 1 <= len(made) < len(shorts), (made, out)  # bots under way finished, the rest were not started
    assert all(status == "running" for _, status in made.values()), made

    out = apply_ok(m)
    assert f"Apply finished: {len(shorts) - len(made)} succeeded, 0 failed." in out, out
    _assert_converged(m, docker_client, shorts)


# --- revision stamps and the fleet record ---------------------------------------------------------------

def _git(repo: Path, *args: str) -> str:
    res = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_revision_stamps_and_fleet_record(tmp_path, fleet_name, secrets_dir, docker_client):
    repo = tmp_path / "repo"
    repo.mkdir()
    m = Manifests(repo, fleet_name, secrets_dir)
    m.write({"a": bot()})
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "ci@example.com")
    _git(repo, "config", "user.name", "CI")
    _git(repo, "add", "manifests")
    _git(repo, "commit", "-q", "-m", "fleet")
    sha = _git(repo, "rev-parse", "HEAD")
    assert re.fullmatch(r"[0-9a-f]{40}", sha)

    apply_ok(m)
    a = get_container(docker_client, m.cname("a"))
    assert a.labels["botmaker.revision"] == sha
    assert a.labels["botmaker.manifest"] == str(m.dir / "bot-a.yaml")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a.labels["botmaker.applied-at"])
    assert a.labels["botmaker.applied-by"].endswith("@" + socket.gethostname())
    rec = record_of(docker_client, fleet_name)
    assert rec is not None
    assert rec.labels["botmaker.record"] == fleet_name and rec.labels["botmaker.revision"] == sha
    assert rec.labels["botmaker.applied-at"] == a.labels["botmaker.applied-at"]

    # status: text and json
    code, out = run_cli("status", m.path)
    assert code == 0, out
    assert f"last apply: revision {sha}" in out, out
    code, out = run_cli("status", "--format", "json", m.path)
    assert code == 0, out
    status = json.loads(out)
    assert status["last_apply"]["revision"] == sha, status
    assert [b["revision"] for b in status["bots"]] == [sha[:12]], status

    # --revision overrides git, on the containers created and on the record
    time.sleep(1.1)  # applied-at has one-second resolution
    m.write({"a": bot(), "b": bot()})
    apply_ok(m, "--revision", "abc123")
    b = get_container(docker_client, m.cname("b"))
    assert b.labels["botmaker.revision"] == "abc123"
    assert b.labels["botmaker.manifest"] == str(m.dir / "bot-b.yaml")
    assert get_container(docker_client, m.cname("a")).labels["botmaker.revision"] == sha  # a was not recreated
    rec2 = record_of(docker_client, fleet_name)
    assert rec2.labels["botmaker.revision"] == "abc123"
    assert rec2.labels["botmaker.applied-at"] != rec.labels["botmaker.applied-at"]

    # an apply with no changes still rewrites the record (uncommitted manifests: "-dirty")
    time.sleep(1.1)
    before = snapshot(docker_client, fleet_name)
    out = apply_ok(m)
    assert "No changes." in out, out
    assert snapshot(docker_client, fleet_name) == before
    rec3 = record_of(docker_client, fleet_name)
    assert rec3.id != rec2.id
    assert rec3.labels["botmaker.revision"] == sha + "-dirty"
    assert rec3.labels["botmaker.applied-at"] > rec2.labels["botmaker.applied-at"]
    assert rec3.labels["botmaker.result"] == "no changes"
    code, out = run_cli("status", "--format", "json", m.path)
    assert code == 0 and json.loads(out)["last_apply"]["revision"] == sha + "-dirty", out


# --- output formats ---------------------------------------------------------------------------------

def test_validate_github_annotations_need_no_engine(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: botmaker/v1\n"
        "kind: Bot\n"
        "metadata:\n"
        "  name: bad-bot\n"
        "spec:\n"
        f"  image: {STAND_IN_IMAGE}\n"
        "  restart: sometimes\n"
        "  colour: red\n"
    )
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}  # validate must not need the engine
    code, out = run_cli("validate", "--format", "github", str(bad), env=env)
    assert code == 1, out
    annotations = [line for line in out.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 2, out
    for line in annotations:
        assert re.match(r"::error file=[^,:]+,line=\d+,col=\d+(,title=[^:]*)?::.+", line), line
        assert f"file={bad}," in line
    assert any(",line=7,col=" in line and "restart" in line for line in annotations), out
    assert any(",line=8,col=" in line and "colour" in line for line in annotations), out
    assert out.rstrip().endswith("2 error(s), 0 warning(s)")


def test_plan_markdown_and_github_formats(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(env={"GREETING": "one"}), "c": bot()})
    apply_ok(m)
    m.write({"a": bot(env={"GREETING": "two"}), "b": bot(), "c": bot()})
    before = snapshot(docker_client, fleet_name)

    code, md = run_cli("plan", "--format", "markdown", m.path)
    assert code == 0, md
    assert "| Action | Count |" in md and "| create | 1 |" in md and "| replace | 1 |" in md, md
    assert md.count("<details>") == md.count("</details>") == 2, md
    sections = md.split("<details>")[1:]
    assert any(f"<b>{m.name('a')}</b>: replace" in s and "GREETING" in s and "two" in s for s in sections), md
    assert any(f"<b>{m.name('b')}</b>: create" in s for s in sections), md
    assert f"<b>{m.name('c')}</b>" not in md, md
    assert not ANSI.search(md)

    code, gh = run_cli("plan", "--format", "github", m.path)
    assert code == 0, gh
    notices = [line for line in gh.splitlines() if line.startswith("::notice ")]
    assert len(notices) == 2, gh
    assert any(f"file={m.dir / 'bot-a.yaml'}::bot {m.name('a')}: replace" in n for n in notices), gh
    assert any(f"file={m.dir / 'bot-b.yaml'}::bot {m.name('b')}: create" in n for n in notices), gh

    code, out = run_cli("plan", "--format", "markdown", "--detailed-exitcode", m.path)
    assert code == 2, out
    assert snapshot(docker_client, fleet_name) == before  # plans change nothing
    assert lock_of(docker_client, fleet_name) is None  # and take no lock


def test_no_color_and_NO_COLOR_on_a_terminal(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot(state="stopped")})
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "DEPLOYER_SECRETS_DIR")}
    env["TERM"] = "xterm"
    deployer = [sys.executable, "-m", "deployer"]

    code, out = run_in_pty(deployer + ["plan", m.path], env)
    assert code == 0, out
    assert ANSI.search(out), f"expected colour on a terminal (else this test proves nothing): {out!r}"

    code, out = run_in_pty(deployer + ["plan", "--no-color", m.path], env)
    assert code == 0 and "Plan: 2 to create" in out, out
    assert not ANSI.search(out), repr(out)

    code, out = run_in_pty(deployer + ["plan", m.path], {**env, "NO_COLOR": "1"})
    assert code == 0 and "Plan: 2 to create" in out, out
    assert not ANSI.search(out), repr(out)

    code, out = run_in_pty(deployer + ["apply", "--yes", "--no-color", *FAST, m.path], env)
    assert code == 0 and "Apply finished: 2 succeeded, 0 failed." in out, out
    assert not ANSI.search(out), repr(out)
    assert sorted(snapshot(docker_client, fleet_name)) == [m.cname("a"), m.cname("b")]
