"""Recovery on the real engine, through the CLI (issue 24): a replace whose runner was killed
while it waited for the new container is finished as it would have been, or rolled back (item 5);
a bot paused by hand is unpaused (item 10)."""

from __future__ import annotations

import signal

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
from tests.support.reliakit import run_deployer

# Failures do not count for the first 8 s, then one failed probe makes it unhealthy: the killed
# apply is still waiting for it, the recovery finds it starting or unhealthy.
FAILS_LATER = {"test": ["CMD", "/bin/false"], "interval": "1s", "timeout": "1s", "retries": 1, "startPeriod": "8s"}
# a replace makes these mutating calls: stop the old one, rename it aside, create, start the new one
KILLED_AFTER_START = 4


def test_a_killed_replace_whose_new_container_is_unhealthy_is_rolled_back(tmp_path, fleet_name, secrets_dir,
                                                                           docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    apply_ok(m)
    old = get_container(docker_client, m.cname("a"))

    m.write({"a": bot(healthcheck=FAILS_LATER)})
    killed = run_deployer("apply", "--yes", "--wait-timeout", "60", m.path, log=tmp_path / "calls.log",
                          crash_after=KILLED_AFTER_START)
    assert killed.returncode == -signal.SIGKILL, killed.describe()
    aside = f"{m.cname('a')}{ASIDE_MARK}{old.id[:12]}"
    assert sorted(c.name for c in fleet_container_list(docker_client, fleet_name)) == [m.cname("a"), aside]
    new = get_container(docker_client, m.cname("a"))
    assert new.id != old.id and new.status == "running"
    code, out = run_cli("unlock", fleet_name, "--force")
    assert code == 0, out

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
    assert f"bot {m.name('a')}: drifted" in out
    assert "container is paused, manifest says running: it will be unpaused" in out, out
    assert 'state: desired "running", actual "paused"' in out, out

    code, out = run_cli("plan", m.path)
    assert "it will be unpaused" in out and "Plan: 0 to create, 0 to replace, 0 to update, 1 to start" in out, out

    code, out = run_cli("apply", "--yes", *FAST, m.path)
    assert code == 0, out
    assert f"{m.name('a')}: unpaused" in out, out
    c.reload()
    assert c.status == "running" and c.id == get_container(docker_client, m.cname("a")).id
    assert_clean(m)
