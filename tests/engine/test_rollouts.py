"""Issue "Rollouts that stay safe at scale", parts 1 and 2, on the real engine: the heartbeat
keeps a slow apply's lock for many TTLs, a SIGKILLed holder is taken over after about one TTL,
two takers of a dead holder's lock never both win; the failure budget and the canary stop a bad
rollout early with a report of what was and was not done."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine_harness import poll
from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    FAST,
    Manifests,
    apply_ok,
    bot,
    cleanup_markers,
    get_container,
    run_cli,
)

TTL = "5"
# healthy about 4 s after start (the first probe runs one interval after start)
SLOW = {"test": ["CMD", "/bin/true"], "interval": "4s", "timeout": "2s", "retries": 3}
BAD = ["sh", "-c", "echo bad config; exit 3"]


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "DEPLOYER_SECRETS_DIR")}
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1")
    return env


class Procs:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.running: list[tuple[subprocess.Popen, Path]] = []

    def start(self, *args: str, tag: str) -> subprocess.Popen:
        log = self.tmp / f"{tag}.log"
        with open(log, "wb") as f:
            proc = subprocess.Popen([sys.executable, "-m", "deployer", *args], stdout=f, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=cli_env(), cwd=str(self.tmp))
        self.running.append((proc, log))
        return proc

    def output(self, proc: subprocess.Popen) -> str:
        return next(log for p, log in self.running if p is proc).read_text(errors="replace")

    def finish(self, proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str]:
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            pytest.fail(f"pid {proc.pid} still running after {timeout}s:\n{self.output(proc)}")
        return code, self.output(proc)


@pytest.fixture
def procs(fleet_name, tmp_path):
    p = Procs(tmp_path)
    yield p
    for proc, _ in p.running:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def lock_markers(client: Any, fleet: str) -> dict[str, str]:
    """name -> id of the fleet's lock marker and heartbeats (one filtered list call)."""
    rows = client.api.containers(all=True, filters={"label": f"botmaker.lock={fleet}"})
    return {(r["Names"] or ["/?"])[0].lstrip("/"): r["Id"] for r in rows}


def lock_id(client: Any, fleet: str) -> str | None:
    return lock_markers(client, fleet).get(f"botmaker-lock.{fleet}")


@pytest.mark.slow
def test_heartbeat_keeps_a_slow_apply_locked_for_many_ttls(tmp_path, fleet_name, docker_client, procs):
    m = Manifests(tmp_path, fleet_name, None)
    shorts = ("a", "b", "c", "d", "e")
    m.write({s: bot() for s in shorts})
    apply_ok(m, "--parallelism", "5")
    # replaces wait for their new container in the mutation slot: one after the other, ~6 s each
    m.write({s: bot(healthcheck={**SLOW, "interval": "6s"}) for s in shorts})
    started = time.monotonic()
    holder = procs.start("apply", "--yes", "--parallelism", "1", "--wait-timeout", "60", "--lock-ttl", TTL,
                         m.path, tag="holder")
    first_id = poll(lambda: lock_id(docker_client, fleet_name), timeout=30, interval=0.1, what="the lock")
    waiter = procs.start("apply", "--yes", "--wait-timeout", "60", "--lock-timeout", "300", m.path, tag="waiter")

    beats: set[str] = set()
    refused: list[tuple[float, str]] = []
    while holder.poll() is None:
        markers = lock_markers(docker_client, fleet_name)
        now_id = markers.get(f"botmaker-lock.{fleet_name}")
        if now_id not in (None, first_id):
            # legitimate only once the holder is done: it prints its summary before it releases
            assert "Apply finished" in procs.output(holder), "the lock changed hands under a live apply"
        beats |= {n for n in markers if ".beat." in n}
        elapsed = time.monotonic() - started
        if not refused and elapsed > 3 * float(TTL) or len(refused) == 1 and elapsed > 5 * float(TTL):
            code, out = run_cli("apply", "--yes", *FAST, m.path)  # no --lock-timeout: fails at once
            refused.append((elapsed, out))
            assert code == 1, out
            assert re.search(rf"is locked by \S+@{re.escape(socket.gethostname())} pid {holder.pid}\b", out), out
            assert "last heartbeat" in out and "Apply finished" not in out, out
        time.sleep(0.2)
    held_for = time.monotonic() - started
    code, out = procs.finish(holder)
    assert code == 0 and "Apply finished: 5 succeeded, 0 failed." in out, out
    assert "Took over" not in out
    assert len(refused) == 2, (held_for, refused)
    assert len(beats) >= 4, beats  # the heartbeat moved on while the apply ran
    code, out = procs.finish(waiter)
    assert code == 0 and "No changes." in out and "Took over" not in out, out
    assert lock_markers(docker_client, fleet_name) == {}  # lock and heartbeats gone
    print(f"\napply held its lock {held_for:.1f}s = {held_for / float(TTL):.1f} TTLs (TTL {TTL}s), "
          f"{len(beats)} heartbeats seen; second apply refused at {refused[0][0]:.0f}s and {refused[1][0]:.0f}s")


def test_sigkilled_holder_is_taken_over_after_one_ttl(tmp_path, fleet_name, docker_client, procs):
    m = Manifests(tmp_path, fleet_name, None)
    m.write({"a": bot(healthcheck=SLOW)})
    holder = procs.start("apply", "--yes", "--wait-timeout", "60", "--lock-ttl", TTL, m.path, tag="holder")
    dead_id = poll(lambda: lock_id(docker_client, fleet_name), timeout=30, interval=0.05, what="the lock")
    poll(lambda: any(".beat." in n for n in lock_markers(docker_client, fleet_name)), timeout=30, interval=0.05,
         what="a first heartbeat")
    waiter = procs.start("apply", "--yes", "--wait-timeout", "60", "--lock-timeout", "120", m.path, tag="waiter")
    time.sleep(1.0)  # the waiter is waiting on a live holder now
    holder.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    assert holder.wait(10) == -signal.SIGKILL

    new_id = poll(lambda: (lock_id(docker_client, fleet_name) or dead_id) != dead_id and lock_id(docker_client, fleet_name),
                  timeout=60, interval=0.05, what="the waiter to take the lock over")
    takeover = time.monotonic() - killed
    code, out = procs.finish(waiter)
    assert code == 0, out
    assert f"Took over the expired lock of" in out and re.search(rf"pid {holder.pid}\b", out), out
    assert new_id != dead_id
    # never early: the dead holder beat at most one interval (TTL/4) before the kill
    assert takeover >= float(TTL) - float(TTL) / 4 - 1, takeover
    assert get_container(docker_client, m.cname("a")).status == "running"
    assert lock_markers(docker_client, fleet_name) == {}  # the dead holder's heartbeat was cleared too
    print(f"\nSIGKILLed holder taken over {takeover:.1f}s after the kill (TTL {TTL}s)")


def test_two_takers_of_a_dead_holders_lock_exactly_one_wins(fleet_name, docker_client):
    from deployer.backends.docker.engine import DockerEngine
    from deployer.errors import LockHeld
    from deployer.runtime.lock import FleetLock

    for round_ in range(2):
        dead = FleetLock(DockerEngine(), fleet_name, ttl=5)
        dead.acquire()
        dead._stop_heartbeat()  # as if SIGKILLed: no more beats, no release
        time.sleep(7)
        won: list[FleetLock] = []
        refused: list[str] = []
        gate = threading.Barrier(2)

        def take() -> None:
            lock = FleetLock(DockerEngine(), fleet_name, ttl=5, timeout=0)
            gate.wait()
            try:
                lock.acquire()
                won.append(lock)
            except LockHeld as exc:
                refused.append(str(exc))

        threads = [threading.Thread(target=take) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        try:
            assert len(won) == 1 and len(refused) == 1, (round_, won, refused)
            # the winner either removed the dead lock itself or found it removed by the loser
            assert "is locked by" in refused[0] and dead.marker_id != won[0].marker_id
            assert lock_id(docker_client, fleet_name) == won[0].marker_id
        finally:
            for lock in won:
                lock.release()
        assert lock_markers(docker_client, fleet_name) == {}


def _apply_bad(m: Manifests, n: int, *extra: str) -> tuple[int, str]:
    m.write({f"b{i}": bot(command=BAD) for i in range(n)})
    return run_cli("apply", "--yes", *FAST, *extra, m.path)


def _started(out: str) -> list[str]:
    return [line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("[...] ")]


@pytest.mark.parametrize("extra, budget, parallelism", [
    (("--max-failures", "2", "--parallelism", "2"), 2, 2),
    (("--parallelism", "4"), 3, 4),  # the default budget
])
def test_failure_budget_stops_a_bad_rollout(extra, budget, parallelism, tmp_path, fleet_name, docker_client):
    m = Manifests(tmp_path, fleet_name, None)
    m.write({f"b{i}": bot() for i in range(8)})
    apply_ok(m, "--parallelism", "8")
    old = {m.cname(f"b{i}"): get_container(docker_client, m.cname(f"b{i}")).id for i in range(8)}

    code, out = _apply_bad(m, 8, *extra)
    assert code == 1, out
    started = _started(out)
    assert budget <= len(started) <= budget + parallelism - 1, out
    assert f"Rollout stopped early: the failure budget is spent" in out, out
    assert f"(--max-failures {budget})" in out, out
    not_started = [line.split()[0] for line in out.splitlines() if line.endswith(" not started")]
    assert len(not_started) == 8 - len(started) and set(not_started).isdisjoint(started), out
    assert f"Apply finished: 0 succeeded, {len(started)} failed, {8 - len(started)} not started." in out, out
    assert out.count("rolled back") >= len(started), out
    for name, cid in old.items():  # every bot runs its old container: rolled back or never touched
        c = get_container(docker_client, name)
        assert c.id == cid and c.status == "running", name
    assert lock_id(docker_client, fleet_name) is None
    code, status = run_cli("status", m.path)
    assert code == 0 and f"{len(started)} failed, {8 - len(started)} not started" in status, status


def test_canary_stops_before_the_rest_and_lets_a_good_rollout_through(tmp_path, fleet_name, docker_client):
    m = Manifests(tmp_path, fleet_name, None)
    m.write({f"b{i}": bot() for i in range(6)})
    apply_ok(m, "--parallelism", "6")

    code, out = _apply_bad(m, 6, "--canary", "2")
    assert code == 1, out
    assert sorted(_started(out)) == [m.name("b0"), m.name("b1")], out
    assert "Rollout stopped early: a canary failed" in out and "the other 4 changes were not started" in out, out

    m.write({f"b{i}": bot(env={"V": "2"}) for i in range(6)})
    code, out = run_cli("apply", "--yes", *FAST, "--canary", "2", m.path)
    assert code == 0 and "Apply finished: 6 succeeded, 0 failed." in out, out
    assert _started(out)[:2] == [m.name("b0"), m.name("b1")], out


@pytest.mark.slow
def test_a_holder_whose_lock_is_removed_starts_no_new_change(tmp_path, fleet_name, docker_client, procs):
    m = Manifests(tmp_path, fleet_name, None)
    shorts = ("a", "b", "c", "d")
    m.write({s: bot() for s in shorts})
    apply_ok(m, "--parallelism", "4")
    m.write({s: bot(healthcheck={**SLOW, "interval": "6s"}) for s in shorts})  # ~6 s per replace, one at a time
    holder = procs.start("apply", "--yes", "--parallelism", "1", "--wait-timeout", "60", "--lock-ttl", TTL,
                         m.path, tag="holder")
    poll(lambda: any(".beat." in n for n in lock_markers(docker_client, fleet_name)), timeout=30, interval=0.1,
         what="the holder's heartbeat")
    code, out = run_cli("unlock", fleet_name, "--force")
    assert code == 0 and "removed the lock" in out, out
    code, out = procs.finish(holder)
    assert code == 1, out
    assert "Rollout stopped early: the fleet lock was lost: the fleet lock was removed by someone else" in out, out
    not_started = [line.split()[0] for line in out.splitlines() if line.endswith(" not started")]
    assert 1 <= len(not_started) <= 3, out  # the one under way finished, at least the last never started
    assert "warning: could not release the lock" not in out, out
    assert lock_markers(docker_client, fleet_name) == {}  # and it cleared its own heartbeat


# --- issue 24: interrupts, and bounds that hold for creates -----------------------------------------

def _lines_of(out: str, mark: str) -> list[str]:
    """The bots of the progress lines with `mark` ('...', 'ok ', 'ERR'), in order."""
    return [line[6:].split()[0].rstrip(":") for line in out.splitlines() if line.startswith(f"[{mark}] ")]


def _history(fleet: str) -> list[dict[str, Any]]:
    import json

    code, out = run_cli("history", fleet, "--format", "json")
    assert code == 0, out
    return json.loads(out)["entries"]


def test_a_second_ctrl_c_still_reports_and_records_what_ran(tmp_path, fleet_name, docker_client, procs):
    """Issue 24, defect 1: ^C twice a second apart while the first of 5 replaces waits for its
    new container. The bot under way finishes, the other 4 are not started, and the summary, the
    record and a history entry say so; never "nothing was changed"."""
    m = Manifests(tmp_path, fleet_name, None)
    shorts = ("a", "b", "c", "d", "e")
    m.write({s: bot() for s in shorts})
    apply_ok(m, "--parallelism", "5")
    old = {s: get_container(docker_client, m.cname(s)).id for s in shorts}
    entries_before = len(_history(fleet_name))
    m.write({s: bot(healthcheck=SLOW) for s in shorts})  # each replace waits ~4 s for healthy
    proc = procs.start("apply", "--yes", "--parallelism", "1", "--wait-timeout", "60", m.path, tag="twice")
    poll(lambda: f"[...] {m.name('a')}: replacing" in procs.output(proc), timeout=60, interval=0.05,
         what="the first replace to start")
    proc.send_signal(signal.SIGINT)
    poll(lambda: "interrupt received" in procs.output(proc), timeout=2, interval=0.05,
         what="the interrupt to be acknowledged at once")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    code, out = procs.finish(proc, timeout=120)

    assert code == 130, out
    assert "Traceback" not in out and "nothing was changed" not in out, out
    said = out.index("interrupt received, finishing 1 bot under way")
    assert said < out.index(f"[ok ] {m.name('a')}: replaced and started"), out  # said before it finished
    assert "interrupt received again" in out, out
    assert _lines_of(out, "...") == [m.name("a")], out
    not_started = [line.split()[0] for line in out.splitlines() if line.endswith(" not started")]
    assert not_started == [m.name(s) for s in shorts[1:]], out
    assert "FAILED" not in out, out  # never-started bots are not counted as failed
    assert "Apply finished: 1 succeeded, 0 failed, 4 not started (interrupted)." in out, out
    # what ran is recorded: a new history entry and the record say it
    entries = _history(fleet_name)
    assert len(entries) == entries_before + 1, entries
    assert entries[0]["result"] == "1 succeeded, 0 failed, 4 not started (interrupted)", entries[0]
    code, status = run_cli("status", m.path)
    assert "1 succeeded, 0 failed, 4 not started (interrupted)" in status, status
    assert lock_id(docker_client, fleet_name) is None
    assert get_container(docker_client, m.cname("a")).id != old["a"]
    for s in shorts[1:]:  # never touched
        c = get_container(docker_client, m.cname(s))
        assert c.id == old[s] and c.status == "running", s


def test_parallelism_bounds_creates_until_they_are_ready(tmp_path, fleet_name, docker_client):
    """Issue 24, defect 2: with --parallelism 1, a new bot is created only once the one before it
    is ready (the settle time is part of its change): never two under way at once."""
    m = Manifests(tmp_path, fleet_name, None)
    m.write({f"n{i}": bot() for i in range(5)})
    out = apply_ok(m, "--parallelism", "1")
    events = [(line[1:4], line[6:].split()[0].rstrip(":")) for line in out.splitlines()
              if line.startswith(("[...] ", "[ok ] "))]
    names = [m.name(f"n{i}") for i in range(5)]
    assert events == [e for n in names for e in (("...", n), ("ok ", n))], out


def test_failure_budget_bounds_creates_that_exit_at_once(tmp_path, fleet_name, docker_client):
    """Issue 24, defect 2: six new bots whose containers exit at once, --parallelism 1
    --max-failures 1: at most N + parallelism - 1 = 1 is started."""
    m = Manifests(tmp_path, fleet_name, None)
    m.write({f"n{i}": bot(command=BAD) for i in range(6)})
    code, out = run_cli("apply", "--yes", *FAST, "--parallelism", "1", "--max-failures", "1", m.path)
    assert code == 1, out
    assert _lines_of(out, "...") == [m.name("n0")], out
    assert "Rollout stopped early: the failure budget is spent: 1 failed (--max-failures 1)" in out, out
    assert "Apply finished: 0 succeeded, 1 failed, 5 not started." in out, out


def test_a_rolled_back_replace_says_how_long_it_took_not_the_timeout(tmp_path, fleet_name, docker_client):
    """Issue 24, paper cut: the new container turns unhealthy in about a second; the message says
    so, not the --wait-timeout."""
    m = Manifests(tmp_path, fleet_name, None)
    m.write({"a": bot()})
    apply_ok(m)
    sick = {"test": ["CMD", "/bin/false"], "interval": "1s", "timeout": "1s", "retries": 1}
    m.write({"a": bot(healthcheck=sick)})
    code, out = run_cli("apply", "--yes", "--wait-timeout", "60", "--stop-timeout", "5", m.path)
    assert code == 1, out
    found = re.search(r"rolled back: container is unhealthy after (\d+\.\d)s; the old container was restored", out)
    assert found and float(found.group(1)) < 30, out
    assert "after 60s" not in out, out


# --- issue 24 review: hang-ups, a lock removed at the question, a closed stdout --------------------

def _aside_copies(client: Any, fleet: str) -> list[str]:
    rows = client.api.containers(all=True, filters={"label": f"botmaker.fleet={fleet}"})
    return [n.lstrip("/") for r in rows for n in r["Names"] or [] if "_old_" in n]


def test_a_hang_up_is_an_interrupt_not_an_abandoned_run(tmp_path, fleet_name, docker_client, procs):
    """Review of issue 24, item 1: closing the terminal (SIGHUP) while the first of 3 replaces
    waits for its new container lets it finish, like SIGTERM: no aside copy or lock left behind,
    and the summary, the record and a history entry say what ran; exit 130."""
    m = Manifests(tmp_path, fleet_name, None)
    shorts = ("a", "b", "c")
    m.write({s: bot() for s in shorts})
    apply_ok(m, "--parallelism", "3")
    entries_before = len(_history(fleet_name))
    m.write({s: bot(healthcheck=SLOW) for s in shorts})
    proc = procs.start("apply", "--yes", "--parallelism", "1", "--wait-timeout", "60", m.path, tag="hup")
    poll(lambda: f"[...] {m.name('a')}: replacing" in procs.output(proc), timeout=60, interval=0.05,
         what="the first replace to start")
    proc.send_signal(signal.SIGHUP)
    code, out = procs.finish(proc, timeout=120)
    assert code == 130, out
    assert "Traceback" not in out and "interrupt received, finishing 1 bot under way" in out, out
    assert "Apply finished: 1 succeeded, 0 failed, 2 not started (interrupted)." in out, out
    assert _aside_copies(docker_client, fleet_name) == [], out
    assert lock_markers(docker_client, fleet_name) == {}, out
    entries = _history(fleet_name)
    assert len(entries) == entries_before + 1 and entries[0]["result"].endswith("(interrupted)"), entries


def test_a_closed_stdout_loses_neither_the_apply_nor_its_record(tmp_path, fleet_name, docker_client):
    """Review of issue 24, item 3: `apply --yes M | head` closes stdout while a replace is under
    way; the apply goes on, says once on stderr that its output is lost, and its record and
    history entry say what ran; no traceback."""
    m = Manifests(tmp_path, fleet_name, None)
    shorts = ("a", "b", "c")
    m.write({s: bot() for s in shorts})
    apply_ok(m, "--parallelism", "3")
    old = {s: get_container(docker_client, m.cname(s)).id for s in shorts}
    entries_before = len(_history(fleet_name))
    m.write({s: bot(healthcheck=SLOW) for s in shorts})
    proc = subprocess.Popen([sys.executable, "-m", "deployer", "apply", "--yes", "--parallelism", "1",
                             "--wait-timeout", "60", m.path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=cli_env(), cwd=str(tmp_path), text=True)
    try:
        seen = []
        while not any(line.startswith("[...] ") for line in seen):
            line = proc.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
        proc.stdout.close()  # what `| head` does once it has its lines
        err = proc.stderr.read()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert code == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.count("standard output is closed") == 1, err
    entries = _history(fleet_name)
    assert len(entries) == entries_before + 1 and entries[0]["result"] == "3 succeeded, 0 failed", entries
    for s in shorts:
        assert get_container(docker_client, m.cname(s)).id != old[s], s
    assert lock_markers(docker_client, fleet_name) == {}


def test_a_run_whose_lock_is_removed_at_its_question_blocks_nobody_and_changes_nothing(
        tmp_path, fleet_name, docker_client, procs):
    """Review of issue 24, item 2: `unlock --force` of a live run sitting at "Apply this plan?".
    It started no change, so it stops showing life at its next beat: the next `apply --yes` goes
    ahead instead of failing "a run that lost the fleet lock ... is still finishing its changes";
    answering yes then ends the old run with a one-line error, and it changes nothing."""
    import pty

    m = Manifests(tmp_path, fleet_name, None)
    m.write({"a": bot()})
    master, slave = pty.openpty()
    log = tmp_path / "asking.log"
    with open(log, "wb") as f:
        asking = subprocess.Popen([sys.executable, "-m", "deployer", "apply", "--lock-ttl", TTL, *FAST, m.path],
                                  stdin=slave, stdout=f, stderr=subprocess.STDOUT, env=cli_env(), cwd=str(tmp_path))
    procs.running.append((asking, log))
    os.close(slave)
    try:
        poll(lambda: "Apply this plan?" in log.read_text(errors="replace"), timeout=60, interval=0.1,
             what="the question")
        code, out = run_cli("unlock", fleet_name, "--force")
        assert code == 0 and "removed the lock" in out, out
        started = time.monotonic()
        code, out = run_cli("apply", "--yes", "--lock-timeout", "20", *FAST, m.path)
        assert code == 0, out
        assert "still finishing its changes" not in out, out
        assert time.monotonic() - started < 15, out  # at most a beat or two of the old run, not its TTL and more
        created = get_container(docker_client, m.cname("a")).id
        os.write(master, b"y\n")
        code, out = procs.finish(asking, timeout=60)
    finally:
        os.close(master)
    assert code == 1, out
    assert "Traceback" not in out and "Apply finished" not in out and "[...]" not in out, out
    # the answer's echo (and its newline) went to the pty, not the log: the error follows the question
    errors = [line.split("error: ", 1)[1] for line in out.splitlines() if "error: " in line]
    assert len(errors) == 1 and "lock" in errors[0] and "nothing was changed" in errors[0], out
    assert get_container(docker_client, m.cname("a")).id == created  # untouched by the old run
    assert lock_markers(docker_client, fleet_name) == {}
