"""The swarm backend through the CLI, on the 3-node test swarm (tests/support/swarmlab.py): the same
manifests, commands, exit codes, guards and secret rules as on one engine (issue 12).

Every test uses its own fleet name and removes what that fleet made (by the deployer's labels).
No timed assertions (the machine is shared): order is proven from the tasks' own timestamps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.swarmkit import IMAGE, IMAGE2, SwarmFleet, remove_fleet, running, tasks_of, update_by_hand
from tests.support.swarmlab import TEST_LABEL, SwarmLab

pytestmark = pytest.mark.swarm

REPO = Path(__file__).resolve().parents[2]
SPREAD = {"constraints": ["node.role==worker"], "preferences": [{"spread": "node.labels.region"}]}


@pytest.fixture
def fleet(swarm: SwarmLab, swarm_manager: Any, tmp_path: Path) -> Iterator[SwarmFleet]:
    f = SwarmFleet(tmp_path, "sw" + uuid.uuid4().hex[:6], swarm.manager.docker_host)
    yield f
    if not swarm.manager.alive:  # say why, before the next test's heal() restarts it
        print("the manager's dockerd died; its log ends:\n" + swarm.manager.log_tail(80))
        swarm.heal()
    remove_fleet(swarm.manager.client(), f.name)


def spec_of(client: Any, service: str) -> dict[str, Any]:
    return client.api.inspect_service(service, insert_defaults=False)


def bots(mode: str) -> dict[str, Any]:
    """Three bots spread by placement: one per worker region, one anywhere on a worker."""
    where = {"a": ["node.labels.region==eu"], "b": ["node.labels.region==us"], "c": ["node.role==worker"]}
    return {s: {"placement": {"constraints": c, "preferences": [{"spread": "node.labels.region"}]},
                "env": {"MODE": mode}} for s, c in where.items()}


def test_create_spread_no_op_and_one_stop_first_update(fleet: SwarmFleet, swarm: SwarmLab, swarm_manager: Any) -> None:
    fleet.write(bots("one"))
    code, out = fleet.apply()
    assert code == 0, out
    nodes = {}
    for s in ("a", "b", "c"):
        tasks = running(swarm_manager, fleet.service(s))
        assert len(tasks) == 1, (s, tasks_of(swarm_manager, fleet.service(s)))
        nodes[s] = swarm.node_by_id(tasks[0]["NodeID"]).name
        svc = spec_of(swarm_manager, fleet.service(s))
        assert svc["Spec"]["Labels"]["botmaker.fleet"] == fleet.name
        assert svc["Spec"]["EndpointSpec"]["Mode"] == "dnsrr"
        assert svc["Spec"]["UpdateConfig"]["Order"] == "stop-first"
    # placed by the constraints over the two workers' regions, none on the (drained) manager
    assert nodes["a"] == "worker1" and nodes["b"] == "worker2" and nodes["c"] in ("worker1", "worker2")

    # the second plan has no changes, and a no-op apply changes nothing (same versions, same tasks)
    code, out = fleet.cli("plan", "--detailed-exitcode", fleet.path)
    assert code == 0 and "No changes" in out, out
    versions = {s: spec_of(swarm_manager, fleet.service(s))["Version"]["Index"] for s in ("a", "b", "c")}
    code, out = fleet.apply()
    assert code == 0 and "No changes" in out, out
    assert {s: spec_of(swarm_manager, fleet.service(s))["Version"]["Index"] for s in ("a", "b", "c")} == versions

    # ... counted on the backend: 0 mutating calls, no secret or marker beyond the record
    from deployer.backends import open_backend
    from deployer.backends.endpoint import resolve
    from deployer.flows.prepare import load_fleet, plan_options, prepare
    from deployer.runtime.applier import Applier, ApplyOptions

    loaded, _ = load_fleet([fleet.path])
    engine = open_backend("swarm", endpoint=resolve({"DOCKER_HOST": fleet.docker_host}))
    prepared = prepare(loaded, plan_options(loaded, None, traits=engine.traits), engine, preflight=False)
    report = Applier(engine, loaded.name, ApplyOptions(plan_options=prepared.options)).apply(prepared.plan)
    assert not prepared.plan.has_changes and report.results == []
    assert engine.mutating_calls == 0 and engine.calls["secret_create"] == 0, engine.calls

    # env change -> one stop-first update: the old task ended before the new one started
    fleet.write({**bots("one"), "a": bots("two")["a"]})
    old = running(swarm_manager, fleet.service("a"))[0]
    code, out = fleet.apply()
    assert code == 0 and "1 succeeded" in out, out
    tasks = {t["ID"]: t for t in tasks_of(swarm_manager, fleet.service("a"))}
    new = [t for t in tasks.values() if t["DesiredState"] == "running"]
    assert len(new) == 1 and new[0]["ID"] != old["ID"] and len(tasks) == 2  # one update, one new task
    assert "MODE=two" in new[0]["Spec"]["ContainerSpec"]["Env"]
    ended = tasks[old["ID"]]["Status"]["Timestamp"]  # when the old task reached shutdown
    started = new[0]["Status"]["Timestamp"]  # when the new one reached running
    assert tasks[old["ID"]]["Status"]["State"] in ("shutdown", "complete") and ended <= started
    for s in ("b", "c"):
        assert spec_of(swarm_manager, fleet.service(s))["Version"]["Index"] == versions[s]

    code, out = fleet.cli("status", fleet.path)
    assert code == 0 and "NODE" in out and "worker" in out, out


def test_secret_rotation_keeps_the_previous_version_until_unreferenced(fleet: SwarmFleet, swarm: SwarmLab,
                                                                       swarm_manager: Any) -> None:
    canary = "canary-" + uuid.uuid4().hex
    fleet.write({"a": {"secrets": ["TELEGRAM_BOT_TOKEN"]}})
    fleet.secret("a", "TELEGRAM_BOT_TOKEN", canary + "-v1")
    outputs = []

    def secrets() -> dict[str, str]:
        return {s.name: s.id for s in swarm_manager.secrets.list(filters={"label": f"botmaker.bot-id={fleet.bot('a')}"})}

    code, out = fleet.apply()
    outputs.append(out)
    assert code == 0, out
    v1 = secrets()
    assert len(v1) == 1 and next(iter(v1)).startswith(f"botmaker-{fleet.name}-{fleet.bot('a')}-TELEGRAM_BOT_TOKEN-")
    ref = spec_of(swarm_manager, fleet.service("a"))["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"][0]
    assert ref["File"] == {"Name": "TELEGRAM_BOT_TOKEN", "UID": "1000", "GID": "1000", "Mode": 0o400}
    assert read_secret_in_task(swarm, swarm_manager, fleet.service("a")) == canary + "-v1"

    fleet.secret("a", "TELEGRAM_BOT_TOKEN", canary + "-v2")
    code, out = fleet.cli("plan", fleet.path)
    outputs.append(out)
    assert code == 0 and "secret TELEGRAM_BOT_TOKEN changed" in out, out
    version = spec_of(swarm_manager, fleet.service("a"))["Version"]["Index"]
    code, out = fleet.apply()
    outputs.append(out)
    assert code == 0, out
    v2 = secrets()
    assert set(v1) < set(v2) and len(v2) == 2  # the old version stays: the previous spec mounts it
    svc = spec_of(swarm_manager, fleet.service("a"))
    assert svc["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretID"] in v1.values()
    assert len(running(swarm_manager, fleet.service("a"))) == 1
    assert read_secret_in_task(swarm, swarm_manager, fleet.service("a")) == canary + "-v2"
    # swapped in one update: the service's version moved by the update and swarm's own bookkeeping only
    assert len([t for t in tasks_of(swarm_manager, fleet.service("a"))]) == 2 and svc["Version"]["Index"] > version

    fleet.secret("a", "TELEGRAM_BOT_TOKEN", canary + "-v3")
    code, out = fleet.apply()
    outputs.append(out)
    assert code == 0, out
    v3 = secrets()
    assert not set(v1) & set(v3) and len(v3) == 2  # v1 referenced by nothing any more: removed; v2 kept

    # the canary is in no output and nowhere in the service's inspect or the secrets' metadata
    for args in (("status", fleet.path), ("drift", fleet.path), ("plan", "--format", "json", fleet.path)):
        outputs.append(fleet.cli(*args)[1])
    inspect = json.dumps(swarm_manager.api.inspect_service(fleet.service("a")))
    meta = json.dumps([s.attrs for s in swarm_manager.secrets.list(filters={"label": f"botmaker.fleet={fleet.name}"})])
    for text in outputs + [inspect, meta]:
        assert canary not in text


def read_secret_in_task(swarm: SwarmLab, manager: Any, service: str) -> str:
    task = running(manager, service)[0]
    node = swarm.node_by_id(task["NodeID"])
    client = node.client()
    try:
        container = client.containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
        code, out = container.exec_run(["sh", "-c", "stat -c '%u %g %a' /run/secrets/TELEGRAM_BOT_TOKEN; "
                                                    "cat /run/secrets/TELEGRAM_BOT_TOKEN"], user="1000")
        assert code == 0, out
        owner, _, value = out.decode().partition("\n")
        assert owner == "1000 1000 400"
        return value
    finally:
        client.close()


def test_a_failing_update_is_rolled_back_by_swarm(fleet: SwarmFleet, swarm_manager: Any) -> None:
    fleet.write({"a": {}})
    assert fleet.apply()[0] == 0
    fleet.write({"a": {"command": ["sh", "-c", "echo dying; exit 3"]}})
    code, out = fleet.apply()
    assert code == 1, out
    assert "rolled back" in out and "swarm rolled service" in out, out
    svc = spec_of(swarm_manager, fleet.service("a"))
    assert svc["UpdateStatus"]["State"] == "rollback_completed"
    assert "Args" not in svc["Spec"]["TaskTemplate"]["ContainerSpec"]  # the old spec is back
    live = running(swarm_manager, fleet.service("a"))
    assert len(live) == 1 and "Args" not in live[0]["Spec"]["ContainerSpec"]
    code, out = fleet.cli("plan", fleet.path)
    assert code == 0 and "must be replaced" in out  # the manifest still wants the new spec


def test_prune_two_fleets_and_a_stack_service(fleet: SwarmFleet, swarm: SwarmLab, swarm_manager: Any,
                                              swarm_label: str, tmp_path: Path) -> None:
    other = SwarmFleet(tmp_path, "sw" + uuid.uuid4().hex[:6], swarm.manager.docker_host)
    stack = swarm_manager.services.create(
        IMAGE, name=f"stk{swarm_label}_web", endpoint_spec=__import__("docker").types.EndpointSpec(mode="dnsrr"),
        labels={"com.docker.stack.namespace": f"stk{swarm_label}", TEST_LABEL: swarm_label})
    try:
        fleet.write({"a": {}, "b": {}})
        other.write({"a": {}})
        assert fleet.apply()[0] == 0 and other.apply()[0] == 0
        before = {name: spec_of(swarm_manager, name)["Version"]["Index"] for name in (other.service("a"), stack.id)}
        fleet.write({"a": {}})
        code, out = fleet.cli("plan", fleet.path)
        assert code == 0 and "orphan" in out and "--prune removes them" in out, out
        code, out = fleet.apply("--prune", "--max-removals", "0")
        assert code == 1 and "refusing to remove 1" in out, out
        code, out = fleet.apply("--prune")
        assert code == 0 and "removed" in out, out
        names = {s.name for s in swarm_manager.services.list()}
        assert fleet.service("b") not in names and fleet.service("a") in names
        assert {name: spec_of(swarm_manager, name)["Version"]["Index"] for name in before} == before
        code, out = other.cli("plan", "--detailed-exitcode", other.path)
        assert code == 0, out
    finally:
        remove_fleet(swarm_manager, other.name)


def test_drift_by_hand_is_found_and_refresh_repairs_it(fleet: SwarmFleet, swarm_manager: Any) -> None:
    fleet.write({"a": {"placement": SPREAD}, "b": {}, "c": {}})
    assert fleet.apply()[0] == 0
    update_by_hand(swarm_manager, fleet.service("a"), lambda s: s["Mode"]["Replicated"].update(Replicas=2))
    update_by_hand(swarm_manager, fleet.service("b"), lambda s: s["TaskTemplate"]["ContainerSpec"].update(Image=IMAGE2))
    update_by_hand(swarm_manager, fleet.service("c"),
                   lambda s: s["TaskTemplate"].update(Placement={"Constraints": ["node.labels.region==us"]}))
    code, out = fleet.cli("drift", fleet.path)
    assert code == 2, out
    assert "scaled to 2" in out and "image on the engine differs" in out and "placement on the engine differs" in out
    code, out = fleet.apply("--refresh")
    assert code == 0, out
    code, out = fleet.cli("drift", fleet.path)
    assert code == 0, out
    assert len(running(swarm_manager, fleet.service("a"))) == 1


def test_a_worker_is_refused_in_one_line(fleet: SwarmFleet, swarm: SwarmLab) -> None:
    fleet.write({"a": {}})
    code, out = fleet.cli("plan", fleet.path, host=swarm.workers[0].docker_host)
    assert code == 1 and "is a swarm worker, not a manager" in out, out
    assert len(out.strip().splitlines()) == 1


def test_an_image_no_node_has_fails_at_once(fleet: SwarmFleet, swarm_manager: Any) -> None:
    fleet.write({"a": {"image": "deployer-test/not-on-any-node:1"}})
    code, out = fleet.apply("--wait-timeout", "600")
    assert code == 1, out
    assert "has no image deployer-test/not-on-any-node:1" in out and "load the image on every node" in out, out
    assert spec_of(swarm_manager, fleet.service("a"))["Spec"]["Mode"]["Replicated"]["Replicas"] == 0


def test_concurrent_applies_exclude_each_other_through_the_cluster_lock(fleet: SwarmFleet, swarm_manager: Any) -> None:
    from deployer.backends import open_backend
    from deployer.backends.endpoint import resolve
    from deployer.runtime.lock import FleetLock

    fleet.write({"a": {}})
    holder = FleetLock(open_backend("swarm", endpoint=resolve({"DOCKER_HOST": fleet.docker_host})), fleet.name, ttl=30)
    holder.acquire()
    try:
        code, out = fleet.apply()
        assert code == 1 and f"fleet {fleet.name} is locked by" in out, out
        code, out = fleet.cli("unlock", fleet.name, env={"DEPLOYER_BACKEND": "swarm"})
        assert code == 1 and "is locked by" in out and "--force" in out, out
    finally:
        holder.release()
    # two applies at once: exactly one gets the lock, the other is refused
    fleet.write({"a": {}, "b": {}})
    env = {**os.environ, **fleet.env()}
    procs = [subprocess.Popen([sys.executable, "-m", "deployer", "apply", "--yes", fleet.path], env=env,
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stdout.read() if p.stdout else "") for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 1], [0, 0]), results  # never two applies changing the fleet at once
    if codes == [0, 1]:
        assert "is locked by" in [out for code, out in results if code == 1][0]
    assert len(running(swarm_manager, fleet.service("b"))) == 1


def test_a_lost_worker_moves_its_bot_and_the_fleet_converges_after_it_returns(fleet: SwarmFleet, swarm: SwarmLab,
                                                                               swarm_manager: Any) -> None:
    """A real node loss (the worker's dockerd and the bot processes on it SIGKILLed) while an
    unpinned bot runs there: `status` shows it running on the other worker; once the node is
    back, exactly one task per bot runs and apply has nothing to do."""
    import time

    fleet.write({"a": {"placement": {"constraints": ["node.role==worker"]}},
                 "b": {"placement": {"constraints": ["node.labels.region==us"]}}})
    assert fleet.apply()[0] == 0
    victim = swarm.node_by_id(running(swarm_manager, fleet.service("a"))[0]["NodeID"])
    survivor = next(w for w in swarm.workers if w.name != victim.name)
    began = time.monotonic()
    swarm.kill_node(victim.name)
    try:
        moved = None
        while time.monotonic() - began < 120:
            code, out = fleet.cli("status", "--format", "json", fleet.path)
            row = next(r for r in json.loads(out)["bots"] if r["bot"] == fleet.bot("a")) if code == 0 else {}
            if row.get("node") == survivor.name and row.get("actual_state") == "running":
                moved = time.monotonic() - began
                break
            time.sleep(0.5)
        assert moved is not None, out
        print(f"failover: {fleet.bot('a')} running on {survivor.name} {moved:.1f}s after {victim.name} was killed")
    finally:
        swarm.restart_node(victim.name)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        counts = {s: len(running(swarm_manager, fleet.service(s))) for s in ("a", "b")}
        if counts == {"a": 1, "b": 1}:
            break
        time.sleep(0.5)
    assert counts == {"a": 1, "b": 1}
    code, out = fleet.cli("plan", "--detailed-exitcode", fleet.path)
    assert code == 0 and "No changes" in out, out


def test_the_manager_killed_mid_apply_is_a_clear_error_and_the_next_apply_converges(
        fleet: SwarmFleet, swarm: SwarmLab) -> None:
    import time

    fleet.write({s: {"env": {"MODE": "one"}} for s in ("a", "b", "c", "d")})
    assert fleet.apply()[0] == 0
    fleet.write({s: {"env": {"MODE": "two"}} for s in ("a", "b", "c", "d")})  # four updates, one at a time
    env = {**os.environ, **fleet.env()}
    proc = subprocess.Popen([sys.executable, "-m", "deployer", "apply", "--yes", "--parallelism", "1",
                             "--lock-ttl", "5", fleet.path], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # kill the manager once the first update is done and the second under way
        seen.append(line)
        if line.startswith("[ok ]"):
            break
    swarm.kill_node("manager")
    out = "".join(seen) + proc.stdout.read()
    assert proc.wait(timeout=120) == 1, out
    assert "cannot reach" in out and "Traceback" not in out, out
    assert "Apply finished:" in out  # a report of what was and was not done
    swarm.restart_node("manager")
    time.sleep(1)
    code, out = fleet.apply("--lock-timeout", "60")
    assert code == 0, out
    code, out = fleet.cli("plan", "--detailed-exitcode", fleet.path)
    assert code == 0 and "No changes" in out, out
