"""Recovery on the real engine, through the CLI (issue 24): a replace whose runner was killed
while it waited for the new container is finished as it would have been, or rolled back (item 5);
after `unlock --force` of a live apply, that apply starts no new change and the next one waits for
it instead of removing its aside copy (item 9); a bot paused by hand is unpaused (item 10)."""

from __future__ import annotations

import signal
import time

from tests.support.engine_harness import poll
from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    ASIDE_MARK,
    FAST,
    Manifests,
    apply_ok,
    assert_clean,
    bot,
    cleanup_markers,
    fleet_container_list,
    get_container,
    run_cli,
)
from tests.support.reliakit import finish, run_deployer, start_deployer

# Failures do not count for the first 8 s, then one failed probe makes it unhealthy: the killed
# apply is still waiting for it, the recovery finds it starting or unhealthy.
FAILS_LATER = {"test": ["CMD", "/bin/false"], "interval": "1s", "timeout": "1s", "retries": 1, "startPeriod": "8s"}
# healthy at the first probe, one interval after the start: a replace of it waits about 8 s
SLOW_HEALTHY = {"test": ["CMD", "/bin/true"], "interval": "8s", "timeout": "2s", "retries": 3}
# a replace makes these mutating calls: stop the old one, rename it aside, create, start the new one
KILLED_AFTER_START = 4


def test_a_killed_replace_whose_new_container_is_unhealthy_is_rolled_back(tmp_path, fleet_name, secrets_dir,
                                                                           docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    apply_ok(m)
    old = get_container(docker_client, m.cname("a"))

    m.write({"a": bot(healthcheck=FAILS_LATER)})
    killed = run_deployer("apply", "--yes", "--wait-timeout", "60", "--lock-ttl", "5", m.path,
                          log=tmp_path / "calls.log", crash_after=KILLED_AFTER_START)
    assert killed.returncode == -signal.SIGKILL, killed.describe()
    names = sorted(c.name for c in fleet_container_list(docker_client, fleet_name))
    assert names[0] == m.cname("a") and names[1].startswith(f"{m.cname('a')}{ASIDE_MARK}{old.id[:12]}."), names
    aside = names[1]  # named with the killed run's lock token
    new = get_container(docker_client, m.cname("a"))
    assert new.id != old.id and new.status == "running"
    code, out = run_cli("unlock", fleet_name, "--force")
    assert code == 0, out
    # a run unlocked by force may not be dead: until it has been silent for its TTL (5 s) its copy
    # is left alone; then it is the leftover of an interrupted replace
    code, out = run_cli("plan", m.path)
    assert "keeps " + aside + " aside: the bot is left alone until that run ends" in out, out
    poll(lambda: "the bot is left alone" not in run_cli("plan", m.path)[1], timeout=15, what="the killed run to fall silent")

    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2, out
    assert f"-/+ bot {m.name('a')} must be replaced" in out, out
    assert "a replace was interrupted: the new container is running" in out, out
    assert f"the old one is kept aside as {aside}" in out and "restores the old one if it is not" in out, out
    assert "only extra copies removed" not in out, out

    code, out = run_cli("apply", "--yes", *FAST, m.path)
    assert code == 1, out
    assert "rolled back: the replace an earlier apply left unfinished did not complete: container is unhealthy" in out
    (c,) = fleet_container_list(docker_client, fleet_name)
    assert (c.id, c.name, c.status) == (old.id, m.cname("a"), "running"), "the working old container is back"

    code, out = run_cli("status", m.path)
    assert "in sync" not in out and "pending replace" in out, out


def test_a_paused_bot_is_unpaused_by_apply(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    apply_ok(m)
    c = get_container(docker_client, m.cname("a"))
    c.pause()

    code, out = run_cli("drift", m.path)
    assert code == 2, out
    assert f"bot {m.name('a')}: drifted (apply will unpause)" in out, out
    assert "container is paused, manifest says running: it will be unpaused" in out, out
    assert 'state: desired "running", actual "paused"' in out, out

    code, out = run_cli("plan", m.path)
    assert f"bot {m.name('a')} will be unpaused" in out, out
    assert "it will be unpaused" in out and "Plan: 0 to create, 0 to replace, 0 to update, 1 to start" in out, out

    code, out = run_cli("apply", "--yes", *FAST, m.path)
    assert code == 0, out
    assert f"{m.name('a')}: unpaused" in out, out
    c.reload()
    assert c.status == "running" and c.id == get_container(docker_client, m.cname("a")).id
    assert_clean(m)


def test_after_unlock_force_a_live_apply_starts_nothing_new_and_the_next_apply_waits_for_it(
        tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot()})
    apply_ok(m)
    old_a, old_b = (get_container(docker_client, m.cname(s)) for s in "ab")

    m.write({"a": bot(healthcheck=SLOW_HEALTHY), "b": bot(env={"V": "2"})})
    args = ("apply", "--yes", "--parallelism", "1", "--wait-timeout", "60", m.path)
    started = time.monotonic()
    first = start_deployer(*args, log=tmp_path / "first.log")

    def replacing_a() -> bool:
        names = {c.name: c for c in fleet_container_list(docker_client, fleet_name)}
        new = names.get(m.cname("a"))
        return any(n.startswith(m.cname("a") + ASIDE_MARK) for n in names) and new is not None and new.id != old_a.id
    poll(replacing_a, timeout=30, what="the first apply to set a aside and start its new container")

    code, out = run_cli("unlock", fleet_name, "--force")  # the operator thinks the first apply is dead
    assert code == 0 and "removed the lock" in out and "That run showed life" in out, out
    second = run_deployer(*args, log=tmp_path / "second.log")
    first_run = finish(first, args, tmp_path / "first.log", started)

    # the first apply finished the replace under way, then saw its lock gone before b
    assert first_run.returncode == 1, first_run.describe()
    assert "Rollout stopped early: the fleet lock was lost: the fleet lock was removed by someone else" in \
        first_run.stdout, first_run.describe()
    assert f"{m.name('b')}" in first_run.stdout and "not started" in first_run.stdout, first_run.describe()
    assert [c.split()[1] for c in first_run.calls] == ["stop", "rename", "create", "start", "remove"], first_run.describe()
    # the second waited for it, and then had only b to do: a's aside copy was never its business
    assert second.returncode == 0, second.describe()
    assert "a run that lost the fleet lock still shows life" in second.stderr, second.describe()
    assert [c.split()[1] for c in second.calls] == ["stop", "rename", "create", "start", "remove"], second.describe()
    assert all(m.cname("b") in c for c in second.calls), second.describe()
    assert second.stdout.index("Apply finished") >= 0 and "1 succeeded, 0 failed" in second.stdout

    by_name = {c.name: c for c in fleet_container_list(docker_client, fleet_name)}
    assert sorted(by_name) == [m.cname("a"), m.cname("b")]
    assert by_name[m.cname("a")].status == "running" and by_name[m.cname("b")].id != old_b.id
    assert_clean(m)


def test_lock_timeout_says_whom_it_waits_for(tmp_path, fleet_name, secrets_dir, docker_client):
    from deployer.backends.docker.engine import DockerEngine
    from deployer.runtime.lock import FleetLock

    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    with FleetLock(DockerEngine(), fleet_name):
        code, out = run_cli("apply", "--yes", "--lock-timeout", "3", *FAST, m.path)
    assert code == 1, out
    lines = out.splitlines()
    waiting = [line for line in lines if line.startswith(f"fleet {fleet_name} is locked by ")]
    assert len(waiting) == 1 and waiting[0].endswith("waiting up to 3s for it (--lock-timeout)..."), out
    assert f"error: fleet {fleet_name} is locked by" in out and "after waiting 3s" in out, out
