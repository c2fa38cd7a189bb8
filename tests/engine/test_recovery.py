"""Recovery on the real engine, through the CLI: a bot paused by hand is unpaused (issue 24, item 10)."""

from __future__ import annotations

from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    FAST,
    Manifests,
    apply_ok,
    assert_clean,
    bot,
    cleanup_markers,
    get_container,
    run_cli,
)


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
