"""Issue "ownership, safe prune, drift", on the real engine.

Ownership: two fleets on one engine never prune each other; managed containers without a fleet
label (the dashboard's) and protected containers survive --prune; a name held by an unmanaged
container is refused unless --adopt, and one held by another fleet is never adopted.
Safe prune: orphans are only listed without --prune; with it they are stopped gracefully and
removed (their volumes kept); the zero-bots and --max-removals guards refuse; a failed create
blocks every removal.
Drift: `deployer drift` reports desired vs actual for docker update, a hand stop, a hand rename,
a moved image tag and an extra labelled container; `apply --refresh` repairs each.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.engine_harness import STAND_IN_IMAGE, make_fleet_name, remove_fleet
from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    FAST,
    # noqa: F401 - cleanup_markers is an autouse fixture
    Manifests,
    apply_ok,
    assert_clean,
    bot,
    cleanup_markers,
    get_container,
    plan_json,
    remove_markers,
    run_cli,
    temp_tag,
    wait_status,
)

# --- local helpers ------------------------------------------------------------------------------









def assert_no_drift(m: Manifests) -> None:
    code, out = run_cli("drift", m.path)
    assert code == 0, out
    assert f"No drift: fleet {m.fleet} matches its manifests." in out


def write_bot_docs(directory: Path, fleet: str, bots: Mapping[str, Mapping[str, Any]]) -> str:
    """A manifest set whose bot names are given verbatim (Manifests always prefixes its own fleet)."""
    directory.mkdir(parents=True, exist_ok=True)
    docs = [{"apiVersion": "botmaker/v1", "kind": "Fleet", "metadata": {"name": fleet},
             "spec": {"defaults": {"runtime": "container"}}}]
    docs += [{"apiVersion": "botmaker/v1", "kind": "Bot", "metadata": {"name": name}, "spec": dict(spec)}
             for name, spec in bots.items()]
    (directory / "fleet.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(directory)


def container_events(client: Any, container_id: str, since: int) -> list[dict[str, Any]]:
    """The engine's events for one container since `since` (bounded: `until` ends the stream)."""
    stream = client.events(since=since, until=int(time.time()) + 1, decode=True,
                           filters={"container": container_id, "type": "container"})
    try:
        return [e for e in stream if e.get("Type") == "container"]
    finally:
        stream.close()


# Looking at the engine with low-level list calls only: the model-level containers.list(all=True)
# inspects every container on the engine and races with other runs removing theirs.

def _rows(client: Any, **filters: Any) -> list[dict[str, Any]]:
    return client.api.containers(all=True, filters=filters or None)


def _name(row: dict[str, Any]) -> str:
    return (row.get("Names") or ["/"])[0].lstrip("/")


def fleet_rows(client: Any, fleet: str) -> dict[str, dict[str, Any]]:
    """id -> list row of every container of `fleet`: labelled botmaker.fleet=<fleet>, or named
    botmaker-<fleet>... (what the fleet_name fixture removes)."""
    found = {r["Id"]: r for r in _rows(client, label=f"botmaker.fleet={fleet}")}
    found.update({r["Id"]: r for r in _rows(client) if _name(r).startswith(f"botmaker-{fleet}")})
    return found


def fleet_names(client: Any, fleet: str, *, labelled_only: bool = True) -> list[str]:
    rows = fleet_rows(client, fleet).values()
    return sorted(_name(r) for r in rows
                  if not labelled_only or (r.get("Labels") or {}).get("botmaker.fleet") == fleet)


def ids_and_states(client: Any, fleet: str) -> dict[str, tuple[str, str]]:
    return {_name(r): (r["Id"], r["State"]) for r in fleet_rows(client, fleet).values()}


def all_container_ids(client: Any) -> set[str]:
    return {r["Id"] for r in _rows(client)}


@pytest.fixture
def other_fleet(request: pytest.FixtureRequest, docker_client):
    """A second unique fleet for tests that need two; cleaned up like conftest's fleet_name."""
    name = make_fleet_name(request.node.name + "-b")
    yield name
    remove_markers(docker_client, name)
    problems = remove_fleet(docker_client, name)
    leftovers = fleet_rows(docker_client, name)
    if problems or leftovers:
        pytest.fail(f"cleanup of fleet {name} incomplete: {problems} leftover containers: "
                    f"{sorted(_name(r) for r in leftovers.values())}", pytrace=False)


# --- ownership ----------------------------------------------------------------------------------

def test_two_fleets_never_prune_each_other(tmp_path, fleet_name, other_fleet, secrets_dir, docker_client):
    a = Manifests(tmp_path / "a", fleet_name, secrets_dir)
    secrets_b = tmp_path / "secrets-b"
    secrets_b.mkdir(mode=0o700)
    b = Manifests(tmp_path / "b", other_fleet, secrets_b)
    a.write({"x": bot(), "y": bot()})
    b.write({"x": bot(), "y": bot()})
    apply_ok(a)
    apply_ok(b)
    before_b = ids_and_states(docker_client, other_fleet)
    assert sorted(before_b) == [b.cname("x"), b.cname("y")]
    assert all(state == "running" for _, state in before_b.values())
    kept_a = get_container(docker_client, a.cname("x"))

    a.write({"x": bot()})
    code, out = run_cli("plan", "--prune", a.path)
    assert code == 0, out
    assert f"  - bot {a.name('y')} will be removed" in out
    assert other_fleet not in out  # B's containers are not even mentioned by name

    out = apply_ok(a, "--prune")
    assert "Apply finished: 1 succeeded, 0 failed." in out
    assert fleet_names(docker_client, fleet_name) == [a.cname("x")]
    assert get_container(docker_client, a.cname("x")).id == kept_a.id
    assert ids_and_states(docker_client, other_fleet) == before_b  # same ids, still running

    # and the other way round: B pruning everything of its own leaves A alone
    b.write({})
    out = apply_ok(b, "--prune", "--allow-empty")
    assert "Apply finished: 2 succeeded, 0 failed." in out
    assert fleet_names(docker_client, other_fleet) == []
    x = get_container(docker_client, a.cname("x"))
    assert (x.id, x.status) == (kept_a.id, "running")


def test_dashboard_container_without_fleet_survives_prune(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot()})
    apply_ok(m)
    # what the botmaker dashboard makes: managed, a bot id, no fleet label
    dash = docker_client.containers.run(
        STAND_IN_IMAGE, name=m.cname("dash"), detach=True,
        labels={"botmaker.managed": "true", "botmaker.bot-id": m.name("dash")},
    )
    wait_status(docker_client, m.cname("dash"), "running")

    m.write({"a": bot()})
    code, out = run_cli("plan", "--prune", m.path)
    assert code == 0, out
    assert f"  - bot {m.name('b')} will be removed" in out
    assert m.name("dash") not in out
    found = re.search(r"(\d+) managed container\(s\) of other fleets or tools seen and left alone\.", out)
    assert found and int(found.group(1)) >= 1, out
    assert plan_json(m, "--prune")["foreign_managed_containers"] >= 1

    out = apply_ok(m, "--prune")
    assert "left alone" in out
    assert m.name("dash") not in out
    assert "Apply finished: 1 succeeded, 0 failed." in out
    dash.reload()
    assert dash.status == "running"
    assert get_container(docker_client, m.cname("dash")).id == dash.id
    assert "botmaker.fleet" not in dash.labels
    assert fleet_names(docker_client, fleet_name) == [m.cname("a")]  # by label: b gone
    assert fleet_names(docker_client, fleet_name, labelled_only=False) == sorted([m.cname("a"), m.cname("dash")])
    assert_clean(m)


def test_protected_container_survives_prune(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot()})
    apply_ok(m)
    keep = docker_client.containers.run(
        STAND_IN_IMAGE, name=m.cname("keep"), detach=True,
        labels={"botmaker.managed": "true", "botmaker.fleet": fleet_name,
                "botmaker.bot-id": m.name("keep"), "botmaker.protect": "true"},
    )
    wait_status(docker_client, m.cname("keep"), "running")

    m.write({"a": bot()})
    doc = plan_json(m, "--prune")
    assert {a["bot"]: a["action"] for a in doc["actions"]} == {m.name("b"): "remove", m.name("keep"): "orphan"}
    code, out = run_cli("plan", "--prune", m.path)
    assert code == 0, out
    assert f"  ? bot {m.name('keep')} is an orphan" in out
    assert "protected (botmaker.protect=true): never removed" in out

    out = apply_ok(m, "--prune")
    assert "protected (botmaker.protect=true)" in out
    assert "Apply finished: 1 succeeded, 0 failed." in out
    keep.reload()
    assert keep.status == "running"
    assert fleet_names(docker_client, fleet_name) == [m.cname("a"), m.cname("keep")]

    # even an empty manifest set with every guard lifted does not remove it
    m.write({})
    out = apply_ok(m, "--prune", "--allow-empty")
    assert "protected" in out
    keep.reload()
    assert keep.status == "running"
    assert fleet_names(docker_client, fleet_name) == [m.cname("keep")]


def test_protected_copy_of_a_declared_bot_is_never_removed(tmp_path, fleet_name, secrets_dir, docker_client):
    """A protected container carrying a *declared* bot's labels is not an orphan but an extra
    copy; extra copies are cleaned up as leftovers, but never a protected one."""
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    apply_ok(m)
    current = get_container(docker_client, m.cname("a"))
    keep = docker_client.containers.run(
        STAND_IN_IMAGE, name=m.cname("a") + "-keep", detach=True,
        labels={"botmaker.managed": "true", "botmaker.fleet": fleet_name,
                "botmaker.bot-id": m.name("a"), "botmaker.protect": "true"},
    )
    wait_status(docker_client, keep.name, "running")

    code, out = run_cli("plan", "--detailed-exitcode", "--prune", m.path)
    assert code == 0, out  # nothing to do: the protected copy is not a leftover to remove
    for args in (("apply", "--yes", *FAST), ("apply", "--yes", *FAST, "--prune", "--refresh")):
        code, out = run_cli(*args, m.path)
        assert code == 0, (args, out)
        keep.reload()
        assert keep.status == "running", args
        assert get_container(docker_client, m.cname("a")).id == current.id, args
    assert_no_drift(m)
    assert fleet_names(docker_client, fleet_name) == sorted([m.cname("a"), keep.name])


def test_unmanaged_name_holder_needs_adopt(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    squatter = docker_client.containers.run(STAND_IN_IMAGE, name=m.cname("a"), detach=True)
    wait_status(docker_client, m.cname("a"), "running")

    code, out = run_cli("plan", m.path)
    assert code == 1, out
    assert f"--adopt {m.name('a')}" in out and squatter.id[:12] in out
    code, out = run_cli("apply", "--yes", *FAST, m.path)
    assert code == 1, out
    assert f"--adopt {m.name('a')}" in out and "nothing was changed" in out
    squatter.reload()
    assert squatter.status == "running" and squatter.name == m.cname("a")
    assert not any(k.startswith("botmaker.") for k in squatter.labels)

    code, out = run_cli("plan", "--adopt", m.name("a"), m.path)
    assert code == 0, out
    assert f"-/+ bot {m.name('a')} must be replaced" in out and "adopt" in out

    out = apply_ok(m, "--adopt", m.name("a"))
    assert "Apply finished: 1 succeeded, 0 failed." in out
    adopted = get_container(docker_client, m.cname("a"))
    assert adopted.id != squatter.id and adopted.status == "running"
    assert adopted.labels["botmaker.fleet"] == fleet_name
    assert adopted.labels["botmaker.managed"] == "true"
    assert adopted.labels["botmaker.bot-id"] == m.name("a")
    assert squatter.id not in all_container_ids(docker_client)
    assert fleet_names(docker_client, fleet_name) == [m.cname("a")]
    assert_clean(m)


def test_name_held_by_another_fleet_cannot_be_adopted(tmp_path, fleet_name, other_fleet, secrets_dir,
                                                      docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    # fleet B (really applied by the deployer) declares a bot whose container name is A's
    b_path = write_bot_docs(tmp_path / "b", other_fleet, {m.name("a"): bot()})
    code, out = run_cli("apply", "--yes", *FAST, b_path)
    assert code == 0, out
    holder = get_container(docker_client, m.cname("a"))
    assert holder.labels["botmaker.fleet"] == other_fleet

    for args in (("plan",), ("plan", "--adopt", m.name("a")),
                 ("apply", "--yes", *FAST), ("apply", "--yes", *FAST, "--adopt", m.name("a"))):
        code, out = run_cli(*args, m.path)
        assert code == 1, (args, out)
        assert f"fleet {other_fleet}" in out and "cannot be adopted" in out, (args, out)
        now = get_container(docker_client, m.cname("a"))
        assert (now.id, now.status, now.labels) == (holder.id, "running", holder.labels), args
    assert fleet_names(docker_client, other_fleet) == [m.cname("a")]


# --- safe prune -----------------------------------------------------------------------------------

def test_orphan_listed_then_pruned_gracefully_keeping_its_volumes(tmp_path, fleet_name, secrets_dir,
                                                                  docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    volume_name = f"{fleet_name}-b-data"
    # labelled with the fleet so the fleet_name fixture removes it afterwards
    docker_client.volumes.create(volume_name, labels={"botmaker.fleet": fleet_name})
    bind_dir = tmp_path / "state-b"
    bind_dir.mkdir()
    (bind_dir / "memory.json").write_text("{}")
    m.write({"a": bot(), "b": bot(volumes=[{"source": volume_name, "target": "/data"},
                                           {"source": str(bind_dir), "target": "/state"}])})
    apply_ok(m)
    orphan = get_container(docker_client, m.cname("b"))
    mounts = {mt["Destination"]: mt for mt in orphan.attrs["Mounts"]}
    assert mounts["/data"]["Name"] == volume_name and mounts["/state"]["Source"] == str(bind_dir)
    orphan.exec_run(["sh", "-c", "echo kept > /data/file"], user="0")

    m.write({"a": bot()})
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2, out  # an orphan alone changes nothing, but it is drift (issue 24)
    assert f"  ? bot {m.name('b')} is an orphan" in out
    assert "1 orphan container(s)" in out and "--prune removes them" in out
    assert [(a["bot"], a["action"]) for a in plan_json(m)["actions"]] == [(m.name("b"), "orphan")]

    out = apply_ok(m)
    assert "No changes." in out
    still = get_container(docker_client, m.cname("b"))
    assert (still.id, still.status) == (orphan.id, "running")

    code, out = run_cli("plan", "--prune", "--detailed-exitcode", m.path)
    assert code == 2, out
    assert f"  - bot {m.name('b')} will be removed" in out
    assert [(a["bot"], a["action"]) for a in plan_json(m, "--prune")["actions"]] == [(m.name("b"), "remove")]

    since = int(time.time()) - 1
    out = apply_ok(m, "--prune")
    assert "Apply finished: 1 succeeded, 0 failed." in out
    assert orphan.id not in all_container_ids(docker_client)
    assert fleet_names(docker_client, fleet_name) == [m.cname("a")]

    # graceful: SIGTERM and a clean exit (the stand-in traps TERM), then the removal
    events = container_events(docker_client, orphan.id, since)
    seq = [(e["Action"], e["Actor"]["Attributes"]) for e in events]
    actions = [a for a, _ in seq]
    assert "destroy" in actions, seq
    kills = [attrs.get("signal") for a, attrs in seq if a == "kill"]
    assert kills and all(s in ("15", "SIGTERM", "TERM") for s in kills), seq
    dies = [i for i, (a, _) in enumerate(seq) if a == "die"]
    assert len(dies) == 1 and seq[dies[0]][1].get("exitCode") == "0", seq
    assert actions.index("kill") < dies[0] < actions.index("destroy"), seq

    # what the orphan used is still there
    assert docker_client.volumes.get(volume_name).name == volume_name
    assert (bind_dir / "memory.json").read_text() == "{}"
    probe = docker_client.containers.run(
        STAND_IN_IMAGE, ["cat", "/data/file"], name=m.cname("probe"), remove=False, detach=True,
        volumes={volume_name: {"bind": "/data", "mode": "ro"}},
    )
    try:
        assert probe.wait(timeout=20)["StatusCode"] == 0
        assert probe.logs().decode().strip() == "kept"
    finally:
        probe.remove(force=True)
    assert_clean(m)


def test_prune_with_zero_bots_needs_allow_empty(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot()})
    apply_ok(m)
    before = ids_and_states(docker_client, fleet_name)

    m.write({})  # only the Fleet document
    for args in (("plan", "--prune"), ("apply", "--yes", *FAST, "--prune")):
        code, out = run_cli(*args, m.path)
        assert code == 1, (args, out)
        assert "--allow-empty" in out and "zero bots" in out, (args, out)
        assert ids_and_states(docker_client, fleet_name) == before
    assert "nothing was changed" in out

    # without --prune zero bots just lists orphans
    code, out = run_cli("plan", m.path)
    assert code == 0 and "2 orphan container(s)" in out, out

    out = apply_ok(m, "--prune", "--allow-empty")
    assert "Apply finished: 2 succeeded, 0 failed." in out
    assert fleet_names(docker_client, fleet_name) == []
    assert not {cid for cid, _ in before.values()} & all_container_ids(docker_client)


def test_max_removals_refuses_a_bigger_prune(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot(), "c": bot()})
    apply_ok(m)
    before = ids_and_states(docker_client, fleet_name)

    m.write({"a": bot()})
    code, out = run_cli("apply", "--yes", *FAST, "--prune", "--max-removals", "1", m.path)
    assert code == 1, out
    assert "refusing to remove 2 containers: more than --max-removals 1" in out
    assert "nothing was changed" in out
    assert ids_and_states(docker_client, fleet_name) == before

    out = apply_ok(m, "--prune", "--max-removals", "2")
    assert "Apply finished: 2 succeeded, 0 failed." in out
    assert fleet_names(docker_client, fleet_name) == [m.cname("a")]


@pytest.mark.parametrize("broken", ["bind-source", "missing-image"])
def test_failed_create_blocks_pruning(tmp_path, fleet_name, secrets_dir, docker_client, broken):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot()})
    apply_ok(m)
    before = ids_and_states(docker_client, fleet_name)

    if broken == "bind-source":
        bad = bot(volumes=[{"source": str(tmp_path / "does-not-exist"), "target": "/state"}])
        expected = "bad bind source"
    else:
        bad = bot(image=f"deployer-test/absent:{fleet_name}", pullPolicy="Never")
        expected = "pullPolicy is Never"
    m.write({"a": bot(), "bad": bad})
    code, out = run_cli("plan", "--prune", m.path)
    assert code == 0, out
    assert f"  + bot {m.name('bad')} will be created" in out
    assert f"  - bot {m.name('b')} will be removed" in out

    code, out = run_cli("apply", "--yes", *FAST, "--prune", m.path)
    assert code == 1, out
    assert expected in out
    assert re.search(rf"{re.escape(m.name('b'))}\s+remove\s+skipped\s+\(an earlier change failed; nothing pruned\)",
                     out), out
    assert "0 succeeded, 1 failed, 1 skipped" in out
    assert ids_and_states(docker_client, fleet_name) == before  # orphan b still there and running
    assert m.cname("bad") not in fleet_names(docker_client, fleet_name)


# --- drift ----------------------------------------------------------------------------------------

def drifted(m: Manifests, *expected_lines: str, repair: str) -> str:
    code, out = run_cli("drift", m.path)
    assert code == 2, out
    assert f"bot {m.name('a')}: drifted (apply will {repair})" in out, out
    for line in expected_lines:
        assert line in out, out
    assert f"Drift: 1 bot(s) of fleet {m.fleet} differ from their manifests." in out
    return out


def drift_json_fields(m: Manifests) -> dict[str, tuple[Any, Any]]:
    code, out = run_cli("drift", "--format", "json", m.path)
    assert code == 2, out
    (entry,) = json.loads(out)["drifted"]
    return {f["field"]: (f["desired"], f["actual"]) for f in entry["fields"]}


def repair(m: Manifests) -> str:
    out = apply_ok(m, "--refresh")
    assert "Apply finished: 1 succeeded, 0 failed." in out
    assert_no_drift(m)
    assert_clean(m)
    return out


def deployed(m: Manifests, docker_client: Any, spec: dict[str, Any]) -> Any:
    m.write({"a": spec})
    apply_ok(m)
    assert_no_drift(m)  # right after a clean apply
    return get_container(docker_client, m.cname("a"))


def test_drift_memory_changed_by_docker_update(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    c = deployed(m, docker_client, bot(resources={"memory": "64m"}))
    c.update(mem_limit="96m", memswap_limit="96m")

    drifted(m, "memory: desired 64m, actual 96m", repair="update")
    assert drift_json_fields(m) == {"memory": (64 * 1024**2, 96 * 1024**2)}
    repair(m)
    after = get_container(docker_client, m.cname("a"))
    assert after.id == c.id and after.status == "running"
    assert after.attrs["HostConfig"]["Memory"] == 64 * 1024**2
    assert after.attrs["State"]["StartedAt"] == c.attrs["State"]["StartedAt"]  # in place, no restart


def test_drift_restart_policy_changed_by_docker_update(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    c = deployed(m, docker_client, bot(restart="unless-stopped"))
    c.update(restart_policy={"Name": "always"})

    drifted(m, 'restart: desired "unless-stopped", actual "always"', repair="update")
    assert drift_json_fields(m) == {"restart": ("unless-stopped", "always")}
    repair(m)
    after = get_container(docker_client, m.cname("a"))
    assert after.id == c.id and after.status == "running"
    assert after.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"


def test_drift_container_stopped_by_hand(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    c = deployed(m, docker_client, bot())
    c.stop(timeout=5)

    drifted(m, 'state: desired "running", actual "exited"', repair="start")
    assert drift_json_fields(m) == {"state": ("running", "exited")}
    repair(m)
    after = get_container(docker_client, m.cname("a"))
    assert after.id == c.id and after.status == "running"


def test_drift_container_renamed_by_hand(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    c = deployed(m, docker_client, bot())
    moved = m.cname("a") + "-moved"
    c.rename(moved)

    out = drifted(m, f'name: desired "{m.cname("a")}", actual "{moved}"', repair="replace")
    assert "renamed by hand" in out
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2 and f"-/+ bot {m.name('a')} must be replaced" in out, out
    repair(m)
    assert fleet_names(docker_client, fleet_name) == [m.cname("a")]
    after = get_container(docker_client, m.cname("a"))
    assert after.name == m.cname("a") and after.status == "running"
    assert c.id not in all_container_ids(docker_client)


def test_drift_image_tag_moved_underneath(tmp_path, fleet_name, secrets_dir, docker_client, stand_in_image,
                                          stand_in_image_v2):
    repo = "deployer-test/drift"
    v1 = docker_client.images.get(stand_in_image)
    v2 = docker_client.images.get(stand_in_image_v2)
    # the fleet_name fixture removes the containers; the tag goes when the block ends
    with temp_tag(docker_client, stand_in_image, repo, fleet_name) as ref:
        m = Manifests(tmp_path, fleet_name, secrets_dir)
        c = deployed(m, docker_client, bot(image=ref))
        assert c.image.id == v1.id

        assert v2.tag(repo, fleet_name)  # retagged underneath the running container
        short1, short2 = v1.id.split(":", 1)[1][:12], v2.id.split(":", 1)[1][:12]
        drifted(m, f'image_id: desired "{short2}", actual "{short1}"', repair="replace")
        assert drift_json_fields(m) == {"image_id": (short2, short1)}
        code, out = run_cli("plan", "--detailed-exitcode", m.path)  # a plain plan sees it too
        assert code == 2 and f"image_id: \"{short1}\" -> \"{short2}\"" in out, out

        repair(m)
        assert fleet_names(docker_client, fleet_name) == [m.cname("a")]
        after = get_container(docker_client, m.cname("a"))
        assert after.name == m.cname("a") and after.status == "running"
        assert after.image.id == v2.id and after.id != c.id
    assert ref not in {t for img in docker_client.images.list() for t in img.tags}


def test_drift_extra_container_with_our_labels(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    c = deployed(m, docker_client, bot())
    extra_name = m.cname("a") + "-extra"
    extra = docker_client.containers.create(
        STAND_IN_IMAGE, name=extra_name,
        labels={"botmaker.managed": "true", "botmaker.fleet": fleet_name, "botmaker.bot-id": m.name("a")},
    )

    code, out = run_cli("drift", m.path)
    assert code == 2, out
    assert f"bot {m.name('a')}: drifted" in out
    assert f"extra containers carry this bot's labels but were not created by this apply: {extra_name}" in out
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 2 and extra_name in out, out

    repair(m)
    assert fleet_names(docker_client, fleet_name) == [m.cname("a")]
    assert get_container(docker_client, m.cname("a")).id == c.id  # the real one was not touched
    assert extra.id not in all_container_ids(docker_client)
