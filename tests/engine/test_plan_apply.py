"""Issue "plan and apply", on the real engine: create, no-op, replace, update, stop/start,
moved image tags, rollback, foreign containers, an unreachable engine, confirmation, orphans,
crash leftovers and status."""

from __future__ import annotations

import json

import pytest

from tests.support.engine_harness import STAND_IN_IMAGE
from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    FAST,
    # noqa: F401 - cleanup_markers is an autouse fixture
    Manifests,
    apply_ok,
    apply_plan,
    aside_leftovers,
    assert_clean,
    bot,
    cleanup_markers,
    container_exists,
    env_of,
    fleet_container_list,
    fleet_container_names,
    get_container,
    make_plan,
    plan_json,
    run_cli,
    temp_tag,
    wait_status,
)


def test_create_fleet_from_nothing(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot(env={"GREETING": "hi"}), "c": bot(state="stopped")})

    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2, out
    assert out.count(" + bot ") == 3, out
    assert "Plan: 3 to create" in out

    out = apply_ok(m)
    assert "Apply finished: 3 succeeded, 0 failed." in out

    containers = {c.name: c for c in fleet_container_list(docker_client, fleet_name)}
    assert sorted(containers) == sorted(m.cname(s) for s in "abc")
    for short in "abc":
        c = containers[m.cname(short)]
        labels = c.labels
        assert labels["botmaker.managed"] == "true"
        assert labels["botmaker.bot-id"] == m.name(short)
        assert labels["botmaker.fleet"] == fleet_name
        assert labels["botmaker.spec-hash"].startswith("v1-")
        assert c.attrs["Config"]["Image"] == STAND_IN_IMAGE
    assert containers[m.cname("a")].status == "running"
    assert containers[m.cname("b")].status == "running"
    assert containers[m.cname("c")].status == "created"
    assert env_of(containers[m.cname("b")])["GREETING"] == "hi"


def test_second_apply_is_a_noop_with_constant_engine_calls(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({s: bot() for s in ("a", "b")})
    apply_ok(m)
    ids = {c.name: c.id for c in fleet_container_list(docker_client, fleet_name)}

    assert_clean(m)
    code, out = run_cli("apply", "--yes", m.path)
    assert code == 0 and "No changes." in out, out

    def quiet_round():
        fleet, options, engine, the_plan = make_plan(m.path)
        assert not the_plan.has_changes and not the_plan.errors, the_plan
        planning = dict(engine.calls)
        report = apply_plan(engine, fleet, options, the_plan)
        assert report.results == [] and not report.failed
        assert engine.mutating_calls == 0, dict(engine.calls)
        assert dict(engine.calls) == planning  # applying a clean plan calls nothing at all
        return planning

    two = quiet_round()
    assert sum(two.values()) <= 4, two
    assert "inspect" not in two, two  # unchanged containers are never inspected

    m.write({s: bot() for s in "abcdefgh"})
    fleet, options, engine, the_plan = make_plan(m.path)
    assert sorted(a.action for a in the_plan.actions) == ["create"] * 6 + ["noop"] * 2
    report = apply_plan(engine, fleet, options, the_plan)
    assert not report.failed, report
    eight = quiet_round()
    assert eight == two, (two, eight)

    after = {c.name: c.id for c in fleet_container_list(docker_client, fleet_name)}
    assert len(after) == 8
    assert all(after[name] == cid for name, cid in ids.items())  # a and b were never touched


def test_env_change_replaces_the_container(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(env={"GREETING": "hello"})})
    apply_ok(m)
    old = get_container(docker_client, m.cname("a"))

    m.write({"a": bot(env={"GREETING": "bonjour"})})
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2, out
    assert f"-/+ bot {m.name('a')} must be replaced" in out
    assert "env:" in out and "forces replacement" in out
    doc = plan_json(m)
    (action,) = doc["actions"]
    assert action["action"] == "replace"
    assert [c["field"] for c in action["changes"]] == ["env"]
    assert action["changes"][0]["after"] == {"GREETING": "bonjour"}

    apply_ok(m)
    new = get_container(docker_client, m.cname("a"))
    assert new.id != old.id
    assert new.status == "running"
    assert env_of(new)["GREETING"] == "bonjour"
    assert fleet_container_names(docker_client, fleet_name) == [m.cname("a")]  # old one gone, no _old_
    assert not container_exists(docker_client, old.id)
    assert_clean(m)


def test_memory_change_updates_in_place(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(resources={"memory": "64m"})})
    apply_ok(m)
    old = get_container(docker_client, m.cname("a"))
    assert old.attrs["HostConfig"]["Memory"] == 64 * 1024**2

    m.write({"a": bot(resources={"memory": "96m"})})
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2, out
    assert f"  ~ bot {m.name('a')} will be updated in place" in out
    assert "memory: 64m -> 96m" in out
    (action,) = plan_json(m)["actions"]
    assert action["action"] == "update"
    assert [c["field"] for c in action["changes"]] == ["memory"]

    out = apply_ok(m)
    new = get_container(docker_client, m.cname("a"))
    assert new.id == old.id
    assert new.status == "running"
    assert new.attrs["HostConfig"]["Memory"] == 96 * 1024**2
    assert new.attrs["State"]["StartedAt"] == old.attrs["State"]["StartedAt"]  # never restarted
    assert_clean(m)


def test_undoing_an_in_place_update_is_planned_and_applied_in_place(tmp_path, fleet_name, secrets_dir,
                                                                    docker_client):
    """The container's spec labels cannot follow `docker update`: after 64m -> 96m in place they
    still say 64m, and the manifest put back to 64m must still plan the update back (it planned
    "No changes" and the container kept 96m)."""
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(resources={"memory": "64m"}), "b": bot()})
    apply_ok(m)
    created = get_container(docker_client, m.cname("a"))
    m.write({"a": bot(resources={"memory": "96m"}), "b": bot()})
    assert "updated in place" in apply_ok(m)
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 0, out  # what runs

    m.write({"a": bot(resources={"memory": "64m"}), "b": bot()})
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2 and f"  ~ bot {m.name('a')} will be updated in place" in out, out
    actions = {a["bot"]: a for a in plan_json(m)["actions"]}
    assert actions[m.name("a")]["action"] == "update" and m.name("b") not in actions, actions  # b: no change
    assert [(c["field"], c["before"], c["after"]) for c in actions[m.name("a")]["changes"]] == [
        ("memory", 96 << 20, 64 << 20)]
    apply_ok(m)
    now = get_container(docker_client, m.cname("a"))
    assert now.id == created.id and now.attrs["HostConfig"]["Memory"] == 64 << 20
    assert now.attrs["State"]["StartedAt"] == created.attrs["State"]["StartedAt"]  # never restarted
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 0, out
    assert_clean(m)


def test_stop_and_start(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot()})
    apply_ok(m)
    ids = {c.name: c.id for c in fleet_container_list(docker_client, fleet_name)}

    # the manifest says stopped
    m.write({"a": bot(state="stopped"), "b": bot()})
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2, out
    assert f"  . bot {m.name('a')} will be stopped" in out
    assert m.name("b") not in out
    apply_ok(m)
    assert get_container(docker_client, m.cname("a")).status == "exited"
    assert_clean(m)

    # stopped by hand, behind the deployer's back
    docker_client.containers.get(m.cname("b")).stop(timeout=5)
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2, out
    assert f"  > bot {m.name('b')} will be started" in out
    assert m.name("a") not in out
    apply_ok(m)
    assert get_container(docker_client, m.cname("b")).status == "running"
    assert get_container(docker_client, m.cname("a")).status == "exited"
    assert {c.name: c.id for c in fleet_container_list(docker_client, fleet_name)} == ids
    assert_clean(m)


def test_moved_image_tag_replaces(tmp_path, fleet_name, secrets_dir, docker_client, stand_in_image,
                                  stand_in_image_v2):
    repo = "deployer-test/moving"
    v1 = docker_client.images.get(stand_in_image)
    v2 = docker_client.images.get(stand_in_image_v2)
    # the fleet_name fixture removes the containers; the tag goes when the block ends
    with temp_tag(docker_client, stand_in_image, repo, fleet_name) as ref:
        m = Manifests(tmp_path, fleet_name, secrets_dir)
        m.write({"a": bot(image=ref)})
        apply_ok(m)
        old = get_container(docker_client, m.cname("a"))
        assert old.image.id == v1.id
        assert_clean(m)

        assert v2.tag(repo, fleet_name)  # the tag moves to another image ID
        code, out = run_cli("plan", "--detailed-exitcode", m.path)
        assert code == 2, out
        assert f"-/+ bot {m.name('a')} must be replaced" in out
        (action,) = plan_json(m)["actions"]
        assert action["action"] == "replace"
        assert [c["field"] for c in action["changes"]] == ["image_id"]
        assert action["changes"][0]["after"] == v2.id.split(":", 1)[1][:12]

        apply_ok(m)
        new = get_container(docker_client, m.cname("a"))
        assert new.id != old.id and new.status == "running"
        assert new.image.id == v2.id
        assert fleet_container_names(docker_client, fleet_name) == [m.cname("a")]
        assert_clean(m)
    assert ref not in {t for img in docker_client.images.list() for t in img.tags}


def test_failed_replace_rolls_back(tmp_path, fleet_name, secrets_dir, docker_client, wait_until):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    apply_ok(m)
    old = get_container(docker_client, m.cname("a"))

    m.write({"a": bot(command=["sh", "-c", "echo boom; exit 7"])})
    code, out = run_cli("apply", "--yes", *FAST, m.path)
    assert code == 1, out
    assert "rolled back" in out
    assert "exited with code 7" in out
    assert "boom" in out
    assert "Apply finished: 0 succeeded, 1 failed." in out

    wait_status(docker_client, m.cname("a"), "running")
    again = get_container(docker_client, m.cname("a"))
    assert again.id == old.id
    assert fleet_container_names(docker_client, fleet_name) == [m.cname("a")]  # no _old_, no new one left
    # still planned as a replace: the manifest has not been reached
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2 and "must be replaced" in out, out


def test_unmanaged_container_with_our_name_is_refused(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot()})
    squatter = docker_client.containers.run(STAND_IN_IMAGE, name=m.cname("a"), detach=True)
    try:
        wait_status(docker_client, m.cname("a"), "running")
        code, out = run_cli("plan", m.path)
        assert code == 1, out
        assert m.cname("a") in out and squatter.id[:12] in out
        assert "not created by deployer" in out and "will not touch it" in out

        code, out = run_cli("apply", "--yes", *FAST, m.path)
        assert code == 1, out
        assert m.cname("a") in out and "nothing was changed" in out

        squatter.reload()
        assert squatter.status == "running"
        assert get_container(docker_client, m.cname("a")).id == squatter.id
        assert not any(k.startswith("botmaker.") for k in squatter.labels)
        assert fleet_container_names(docker_client, fleet_name) == [m.cname("a")]  # b not created either
    finally:
        squatter.remove(force=True)


@pytest.mark.parametrize("command", [("plan",), ("apply", "--yes"), ("status",)])
def test_engine_unreachable(tmp_path, fleet_name, secrets_dir, command):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    host = "unix:///nonexistent.sock"
    code, out = run_cli(*command, m.path, env={"DOCKER_HOST": host})
    assert code == 1, out
    assert "Traceback" not in out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith("error: ")
    assert host in lines[0] and "cannot reach the Docker engine" in lines[0]


def test_apply_without_terminal_needs_yes(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    code, out = run_cli("apply", m.path)
    assert code == 1, out
    assert "--yes" in out
    assert fleet_container_names(docker_client, fleet_name) == []


def test_orphan_is_listed_and_left_alone(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot()})
    apply_ok(m)
    orphan = get_container(docker_client, m.cname("b"))

    m.write({"a": bot()})
    code, out = run_cli("plan", m.path)
    assert code == 0, out
    assert f"  ? bot {m.name('b')} is an orphan" in out
    assert "1 orphan container(s)" in out
    doc = plan_json(m)
    assert [(a["bot"], a["action"]) for a in doc["actions"]] == [(m.name("b"), "orphan")]
    assert doc["summary"]["orphans"] == 1

    code, out = run_cli("apply", "--yes", *FAST, m.path)
    assert code == 0, out
    still = get_container(docker_client, m.cname("b"))
    assert still.id == orphan.id and still.status == "running"


def test_interrupted_replace_leftover_is_converged(tmp_path, fleet_name, secrets_dir, docker_client):
    """Crash after "stop old, rename it aside", before the new container existed."""
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    apply_ok(m)
    old = get_container(docker_client, m.cname("a"))
    old.stop(timeout=5)
    aside = f"{m.cname('a')}_old_{old.id[:12]}"
    old.rename(aside)
    assert fleet_container_names(docker_client, fleet_name) == [aside]

    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2, out
    assert f"-/+ bot {m.name('a')} must be replaced" in out
    assert "interrupted apply" in out

    apply_ok(m)
    (c,) = fleet_container_list(docker_client, fleet_name)
    assert c.name == m.cname("a") and c.status == "running"
    assert c.id != old.id
    assert aside_leftovers(docker_client, fleet_name) == []
    assert_clean(m)


def test_interrupted_replace_stale_copy_is_removed(tmp_path, fleet_name, secrets_dir, docker_client):
    """Crash after the new container started, before the old (aside) copy was removed."""
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    apply_ok(m)
    current = get_container(docker_client, m.cname("a"))
    stale = docker_client.containers.create(
        STAND_IN_IMAGE, name=f"{m.cname('a')}_old_0123456789ab", labels=dict(current.labels),
    )
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2, out
    assert f"bot {m.name('a')} " in out and "interrupted" in out
    (action,) = plan_json(m)["actions"]  # listed although the bot itself needs nothing
    assert action["bot"] == m.name("a") and action["action"] == "noop"

    apply_ok(m)
    (c,) = fleet_container_list(docker_client, fleet_name)
    assert c.id == current.id and c.status == "running"
    assert not container_exists(docker_client, stale.id)
    assert_clean(m)


def test_status_text_and_json(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot(state="stopped")})
    apply_ok(m)

    code, out = run_cli("status", m.path)
    assert code == 0, out
    assert f"Fleet {fleet_name}:" in out
    names = {m.name("a"), m.name("b")}
    assert any(line.split()[:3] == ["BOT", "DESIRED", "ACTUAL"] for line in out.splitlines() if line.strip()), out
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in names}
    assert set(rows) == names, out
    assert rows[m.name("a")].split()[1:3] == ["running", "running"]
    assert rows[m.name("b")].split()[1:3] == ["stopped", "created"]
    assert all("in sync" in line for line in rows.values()), out

    code, out = run_cli("status", "--format", "json", m.path)
    assert code == 0, out
    doc = json.loads(out)
    assert doc["fleet"] == fleet_name
    by_bot = {r["bot"]: r for r in doc["bots"]}
    assert set(by_bot) == {m.name("a"), m.name("b")}
    assert (by_bot[m.name("a")]["desired_state"], by_bot[m.name("a")]["actual_state"]) == ("running", "running")
    assert (by_bot[m.name("b")]["desired_state"], by_bot[m.name("b")]["actual_state"]) == ("stopped", "created")
    assert all(r["in_sync"] and r["pending"] == "" for r in doc["bots"])

    # drift shows up as "not in sync"
    docker_client.containers.get(m.cname("a")).stop(timeout=5)
    code, out = run_cli("status", "--format", "json", m.path)
    assert code == 0, out
    row = {r["bot"]: r for r in json.loads(out)["bots"]}[m.name("a")]
    assert row["actual_state"] == "exited" and not row["in_sync"] and row["pending"] == "start"
