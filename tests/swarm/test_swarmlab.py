"""The 3-node swarm harness does what the swarm tests rely on (issue 12).

Through the docker SDK directly (the deployer's swarm backend comes later): the nodes, their
roles, labels and images; a dnsrr service placed on a worker; a real node loss and its
failover; restart and rejoin; a teardown that leaves nothing behind and the host's docker0 as
it was. No timed assertions: the machine is shared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
from docker.types import EndpointSpec, RestartPolicy, ServiceMode

from tests.support.swarmlab import DEFAULT_IMAGES, NETNS_DIR, NODE_INIT, TEST_LABEL, SwarmLab, Unavailable, poll

pytestmark = pytest.mark.swarm

IMAGE = "deployer-test/openclaw:1"


def running_tasks(service: Any) -> list[dict]:
    return [t for t in service.tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running"]


def create_service(client: Any, label: str, name: str, **kwargs: Any) -> Any:
    return client.services.create(
        IMAGE, name=f"sl-{label}-{name}", labels={TEST_LABEL: label},
        endpoint_spec=EndpointSpec(mode="dnsrr"), mode=ServiceMode("replicated", replicas=1), **kwargs)


def wait_one_running(service: Any, timeout: float = 60) -> dict:
    def one() -> dict | None:
        tasks = running_tasks(service)
        return tasks[0] if len(tasks) == 1 else None

    return poll(one, timeout=timeout, what=f"one running task of {service.name}")


def host_link_state() -> dict[str, Any]:
    """The host's docker0 as `ip` shows it (MAC, admin-up flag, addresses) and the host's link
    names. Not its carrier: that drops whenever the host has no running container."""
    link = subprocess.run(["ip", "-br", "link", "show", "docker0"], capture_output=True, text=True, check=False)
    addr = subprocess.run(["ip", "-br", "addr", "show", "docker0"], capture_output=True, text=True, check=False)
    names = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    link_fields, addr_fields = link.stdout.split(), addr.stdout.split()
    return {
        "docker0": (link.returncode, addr.returncode, link_fields[:1], link_fields[2:3],
                    "UP" in (link_fields[3].strip("<>").split(",") if len(link_fields) > 3 else []), addr_fields[2:]),
        # the host engine's container veths and network bridges come and go with other people's work
        "names": sorted(n for n in (line.split(":")[1].strip().split("@")[0] for line in names.splitlines())
                        if not n.startswith(("veth", "br-"))),
    }


# ---------------------------------------------------------------------------------------------


def test_three_nodes_ready_one_manager_two_labelled_workers(swarm: SwarmLab, swarm_manager: Any) -> None:
    nodes = {n.attrs["Description"]["Hostname"]: n.attrs for n in swarm_manager.nodes.list()}
    assert sorted(nodes) == ["manager", "worker1", "worker2"]
    assert {name: a["Status"]["State"] for name, a in nodes.items()} == dict.fromkeys(nodes, "ready")
    assert {name: a["Spec"]["Role"] for name, a in nodes.items()} == {
        "manager": "manager", "worker1": "worker", "worker2": "worker"}
    assert nodes["manager"]["Spec"]["Availability"] == "drain"  # tasks run on the workers only
    assert nodes["worker1"]["Spec"]["Labels"] == {"region": "eu"}
    assert nodes["worker2"]["Spec"]["Labels"] == {"region": "us"}
    assert {name: a["ID"] for name, a in nodes.items()} == {n.name: n.node_id for n in swarm.nodes.values()}
    # each node its own engine, none the host's
    host = docker.from_env(timeout=30)
    try:
        host_id = host.info()["ID"]
    finally:
        host.close()
    engine_ids = set()
    for node in swarm.nodes.values():
        client = node.client()
        try:
            info = client.info()
        finally:
            client.close()
        assert info["Name"] == node.name
        assert info["Swarm"]["LocalNodeState"] == "active"
        assert info["Swarm"]["NodeAddr"] == node.address
        assert info["DockerRootDir"] == str(node.data_root)
        engine_ids.add(info["ID"])
        assert node.socket.is_socket() and node.docker_host == f"unix://{node.socket}"
    assert len(engine_ids) == 3 and host_id not in engine_ids


def test_every_node_has_the_stand_in_images_with_the_host_ids(swarm: SwarmLab) -> None:
    host = docker.from_env(timeout=30)
    try:
        want = {ref: host.images.get(ref).id for ref in DEFAULT_IMAGES}
    finally:
        host.close()
    for node in swarm.nodes.values():
        client = node.client()
        try:
            assert {ref: client.images.get(ref).id for ref in DEFAULT_IMAGES} == want, node.name
        finally:
            client.close()


def test_each_daemon_lives_in_its_own_namespaces(swarm: SwarmLab) -> None:
    mine = {ns: os.stat(f"/proc/self/ns/{ns}").st_ino for ns in ("net", "mnt", "uts")}
    seen: dict[str, set[int]] = {"net": set(), "mnt": set(), "uts": set()}
    for node in swarm.nodes.values():
        assert node.alive and node.pid is not None
        for ns in seen:
            inode = os.stat(f"/proc/{node.pid}/ns/{ns}").st_ino
            assert inode != mine[ns], f"{node.name}'s dockerd shares the test's {ns} namespace"
            seen[ns].add(inode)
        assert os.stat(f"/proc/{node.pid}/ns/net").st_ino == os.stat(NETNS_DIR / node.netns).st_ino
        # a fresh sysfs: the daemon sees the links of its own netns (with the host's sysfs it
        # would list the host's, docker0 among them)
        in_netns = subprocess.run(["ip", "-n", node.netns, "-o", "link", "show"], capture_output=True, text=True,
                                  check=True).stdout
        names = {line.split(":")[1].strip().split("@")[0] for line in in_netns.splitlines()}
        assert set(os.listdir(f"/proc/{node.pid}/root/sys/class/net")) == names
        assert "eth0" in names
    assert all(len(inodes) == 3 for inodes in seen.values()), seen
    # the nodes reach each other over the lab's bridge (run_in_netns: the test's netns cannot)
    for worker in swarm.workers:
        ping = swarm.run_in_netns(worker.name, ["busybox", "ping", "-c", "1", "-W", "2", swarm.manager.address])
        assert ping.returncode == 0, ping.stdout + ping.stderr
    # nothing the nodes mounted shows in the host's mount table
    assert swarm.host_mounts() == []


def test_preflight_says_why_the_machine_cannot_run_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the fixture turns into a failure (never a skip) on a machine that cannot run the lab."""
    from tests.support import swarmlab

    monkeypatch.setattr(swarmlab.os, "geteuid", lambda: 1000)
    with pytest.raises(Unavailable, match="running as uid 1000, not root.*swarm-tools.sh"):
        SwarmLab.preflight()
    monkeypatch.setattr(swarmlab.os, "geteuid", lambda: 0)
    real_which = shutil.which
    monkeypatch.setattr(swarmlab.shutil, "which", lambda tool: None if tool == "nsenter" else real_which(tool))
    with pytest.raises(Unavailable, match="missing on PATH: nsenter"):
        SwarmLab.preflight()


def test_guard_refuses_to_run_in_the_launchers_network_namespace(tmp_path: Path) -> None:
    """The node init script must never touch /sys or start a daemon in the host's netns. Run in
    a private mount and UTS namespace (so even a broken guard could only harm those) but the
    test's own network namespace: it must refuse before doing anything."""
    env = dict(os.environ)
    for ns in ("mnt", "net", "uts"):
        env[f"SWARMLAB_LAUNCHER_NS_{ns}"] = os.readlink(f"/proc/self/ns/{ns}")
    marker = tmp_path / "ran"
    proc = subprocess.run(["unshare", "--mount", "--uts", "--propagation", "slave", "--", "/bin/sh", "-c", NODE_INIT,
                           "swarmlab-init", "guard-test", str(tmp_path / "aside"), "touch", str(marker)],
                          env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 97, proc.stderr
    assert "refusing to run: my net namespace" in proc.stderr
    assert not marker.exists() and not (tmp_path / "aside").exists()


def test_dnsrr_service_runs_on_a_worker_and_labels_place_it(swarm: SwarmLab, swarm_manager: Any,
                                                            swarm_label: str) -> None:
    free = create_service(swarm_manager, swarm_label, "free")
    eu = create_service(swarm_manager, swarm_label, "eu", constraints=["node.labels.region==eu"])
    us = create_service(swarm_manager, swarm_label, "us", constraints=["node.labels.region==us"])
    placed = {svc.name: swarm.node_by_id(wait_one_running(svc)["NodeID"]).name for svc in (free, eu, us)}
    assert placed[free.name] in ("worker1", "worker2")
    assert placed[eu.name] == "worker1" and placed[us.name] == "worker2"
    free.reload()
    assert free.attrs["Spec"]["EndpointSpec"]["Mode"] == "dnsrr"
    # the container is on that worker's engine, runs the stand-in image, and not on the host's
    worker = swarm.node(placed[us.name]).client()
    try:
        containers = worker.containers.list(filters={"label": f"com.docker.swarm.service.id={us.id}"})
        assert len(containers) == 1
        result = containers[0].exec_run(["cat", "/VERSION"])
        assert (result.exit_code, result.output.strip()) == (0, b"1")
    finally:
        worker.close()
    host = docker.from_env(timeout=30)
    try:
        assert host.containers.list(all=True, filters={"label": f"com.docker.swarm.service.id={us.id}"}) == []
    finally:
        host.close()


def test_kill_node_is_a_real_node_loss_and_the_task_moves(swarm: SwarmLab, swarm_manager: Any,
                                                          swarm_label: str) -> None:
    service = create_service(swarm_manager, swarm_label, "mover",
                             restart_policy=RestartPolicy(condition="any", delay=0))
    first = wait_one_running(service)
    victim = swarm.node_by_id(first["NodeID"])
    other = next(w for w in swarm.workers if w is not victim)
    worker = victim.client()
    try:
        bot_pid = worker.containers.get(first["Status"]["ContainerStatus"]["ContainerID"]).attrs["State"]["Pid"]
    finally:
        worker.close()
    assert bot_pid > 0 and Path(f"/proc/{bot_pid}").exists()
    dockerd_pid = victim.pid

    killed = swarm.kill_node(victim.name)

    assert dockerd_pid in killed and bot_pid in killed
    assert not victim.alive and swarm.node_pids(victim.name) == set()
    swarm.wait_node_state(victim.name, "down", timeout=60)
    def on_the_other_worker() -> dict | None:
        tasks = running_tasks(service)
        return tasks[0] if len(tasks) == 1 and tasks[0]["NodeID"] == other.node_id else None

    moved = poll(on_the_other_worker, timeout=90, what=f"{service.name} running on {other.name}")
    assert moved["ID"] != first["ID"]

    swarm.restart_node(victim.name)
    assert swarm.node_states()[victim.name] == ("ready", "active")
    # the bot did not survive the "crash": nothing of the service runs on the node that came back
    worker = victim.client()
    try:
        assert worker.containers.list(filters={"label": f"com.docker.swarm.service.id={service.id}"}) == []
    finally:
        worker.close()
    service.reload()
    assert [t["NodeID"] for t in running_tasks(service)] == [other.node_id]  # swarm does not rebalance


def test_restart_node_keeps_the_node_in_the_swarm(swarm: SwarmLab) -> None:
    worker = swarm.workers[1]
    old_id, old_pid = worker.node_id, worker.pid
    swarm.restart_node(worker.name)  # graceful: SIGTERM, then start on the same data root
    assert worker.pid != old_pid and worker.alive
    client = worker.client()
    try:
        assert client.info()["Swarm"]["NodeID"] == old_id
    finally:
        client.close()
    assert swarm.node_states()[worker.name] == ("ready", "active")


def test_the_manager_killed_and_restarted_comes_back_with_its_swarm(swarm: SwarmLab, swarm_manager: Any,
                                                                   swarm_label: str) -> None:
    service = create_service(swarm_manager, swarm_label, "survivor")
    task = wait_one_running(service)
    swarm.kill_node("manager")
    with pytest.raises((docker.errors.DockerException, requests.exceptions.ConnectionError)):
        swarm_manager.services.list()
    swarm.restart_node("manager")
    assert swarm.node_states() == {"manager": ("ready", "drain"), "worker1": ("ready", "active"),
                                   "worker2": ("ready", "active")}
    client = swarm.manager.client()
    try:
        # the raft state survived: same service; its task kept running on its worker meanwhile.
        # The restarted manager reports the task running again once the worker's agent has
        # re-registered and sent its status (seen taking a moment in CI): wait for that report,
        # which must name the same task: a rescheduled one would carry a new ID.
        again = client.services.get(service.id)
        poll(lambda: [t["ID"] for t in running_tasks(again)] or None, timeout=60,
             what="the manager to see the worker's task running again")
        assert [t["ID"] for t in running_tasks(again)] == [task["ID"]]
    finally:
        client.close()


def test_teardown_leaves_nothing_and_the_host_docker0_intact() -> None:
    """Its own lab (the session's is still needed): with a task running, so there are shims and
    container processes to end, stop() must leave no process, namespace, cgroup, mount or file,
    and the host's docker0 and engine as they were."""
    host = docker.from_env(timeout=30)
    try:
        host_before = host.info()["ID"]
    finally:
        host.close()
    links_before = host_link_state()
    lab = SwarmLab()
    try:
        lab.start()
        client = lab.manager.client()
        try:
            service = create_service(client, "teardown", "bot")
            task = wait_one_running(service)
        finally:
            client.close()
        node = lab.node_by_id(task["NodeID"])
        pids = set().union(*(lab.node_pids(n) for n in lab.nodes))
        assert len(lab.node_pids(node.name)) >= 4  # dockerd, containerd, shim, the bot's processes
        assert host_link_state() == links_before  # nothing of the lab in the host's netns, even while up
    finally:
        problems = lab.stop()
    assert problems == []
    assert lab.leftovers() == {"processes": [], "netns": [], "cgroups": [], "mounts": [], "files": []}
    assert [p for p in pids if Path(f"/proc/{p}").exists() and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"] == []
    assert not [n for n in (os.listdir(NETNS_DIR) if NETNS_DIR.exists() else []) if n.startswith(f"dsl-{lab.tag}")]
    after = host_link_state()
    assert after == links_before
    if shutil.which("iptables-save"):
        rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False).stdout
        assert "192.168.99." not in rules and f"dsl-{lab.tag}" not in rules
    rc_link, rc_addr, name, _mac, admin_up, addresses = after["docker0"]
    assert (rc_link, rc_addr, name, admin_up) == (0, 0, ["docker0"], True) and addresses
    host = docker.from_env(timeout=30)
    try:
        assert host.info()["ID"] == host_before
    finally:
        host.close()


def test_reap_ends_a_lab_whose_owner_was_killed() -> None:
    """A lab whose owning process died without stop() (pytest killed hard) keeps running in its
    namespaces; `swarmlab.py reap` ends it. Labs whose owner lives (the session's) are left."""
    script = Path(__file__).resolve().parents[1] / "support" / "swarmlab.py"  # runs as a plain script
    owner = subprocess.Popen([sys.executable, str(script), "up"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    lines: list[str] = []
    assert owner.stdout is not None
    for line in owner.stdout:
        lines.append(line)
        if line.startswith("up in") or len(lines) > 200:
            break
    assert any(line.startswith("up in") for line in lines), "".join(lines)
    host = next(line for line in lines if line.startswith("manager:")).split("DOCKER_HOST=unix://")[1].split()[0]
    root = Path(host).parents[1]
    tag = root.name.removeprefix("dsl-")
    owner.kill()
    owner.wait(timeout=30)
    orphan = SwarmLab(root=root, tag=tag)
    assert orphan.leftovers()["netns"] and any(orphan.node_pids(n) for n in orphan.nodes)

    reaped = SwarmLab.reap_stale()

    assert reaped.get(str(root)) == []
    assert orphan.leftovers() == {"processes": [], "netns": [], "cgroups": [], "mounts": [], "files": []}
