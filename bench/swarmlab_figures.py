"""Figures for the 3-node test swarm of tests/support/swarmlab.py (issue 12).

    python3 -m bench.swarmlab_figures [--runs 3] [--labs 2]

As root. Measures: start (network, daemons, swarm, images) and stop of whole labs; memory (RSS
and PSS of every process of each node) idle and with one task per worker; failover of a
one-replica dnsrr service after kill_node of the worker it runs on (node Down in the manager's
view, task Running on the other worker), with the default restart delay (5 s) and with 0; and
restart_node → Ready. The machine may be shared: the figures are ranges, not promises.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

from docker.types import EndpointSpec, RestartPolicy, ServiceMode

from bench.timing import timed
from tests.support.engine_harness import STAND_IN_IMAGE
from tests.support.swarmlab import TEST_LABEL, SwarmLab, poll

IMAGE = STAND_IN_IMAGE


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"median {statistics.median(values):.2f}, range {min(values):.2f}–{max(values):.2f}, n={len(values)}"


def running_on(service, node_id: str | None = None) -> list[dict]:
    tasks = [t for t in service.tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running"]
    return [t for t in tasks if node_id is None or t["NodeID"] == node_id]


def memory_line(lab: SwarmLab, what: str) -> None:
    mem = lab.memory()
    per = ", ".join(f"{name} {m['rss_mib']:.0f}/{m['pss_mib']:.0f}" for name, m in mem.items())
    print(f"memory {what}: RSS {sum(m['rss_mib'] for m in mem.values()):.0f} MiB, "
          f"PSS {sum(m['pss_mib'] for m in mem.values()):.0f} MiB  (per node RSS/PSS: {per})")


def failover(lab: SwarmLab, delay_s: float | None, runs: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"kill": [], "down": [], "moved": [], "restart_ready": []}
    mgr = lab.manager.client()
    try:
        for run in range(runs):
            policy = RestartPolicy(condition="any", delay=int(delay_s * 1e9)) if delay_s is not None else None
            service = mgr.services.create(IMAGE, name=f"bench-fo-{run}-{int(time.time())}", labels={TEST_LABEL: "bench"},
                                          endpoint_spec=EndpointSpec(mode="dnsrr"),
                                          mode=ServiceMode("replicated", replicas=1), restart_policy=policy)
            try:
                task = poll(functools.partial(running_on, service), timeout=60, what="first task running")[0]
                victim = lab.node_by_id(task["NodeID"])
                other = next(w for w in lab.workers if w is not victim)
                t0 = time.monotonic()  # down and moved are counted from the kill's start
                out["kill"].append(timed(lab.kill_node, victim.name)[0])
                down = moved = None
                deadline = t0 + 120
                while (down is None or moved is None) and time.monotonic() < deadline:
                    if down is None and lab.node_states().get(victim.name, ("?",))[0] == "down":
                        down = time.monotonic() - t0
                    if moved is None and running_on(service, other.node_id):
                        moved = time.monotonic() - t0
                    time.sleep(0.05)
                if down is None or moved is None:
                    raise SystemExit(f"failover run {run}: down={down} moved={moved} after 120 s")
                out["down"].append(down)
                out["moved"].append(moved)
                out["restart_ready"].append(lab.restart_node(victim.name))
            finally:
                service.remove()
            time.sleep(1)
    finally:
        mgr.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="failover runs per restart delay")
    parser.add_argument("--labs", type=int, default=2, help="extra start/stop cycles of whole labs")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; the machine may be shared with other work")

    starts: dict[str, list[float]] = {}
    stops: list[float] = []
    for _ in range(args.labs):
        lab = SwarmLab()
        lab.start()
        for key, value in lab.timings.items():
            starts.setdefault(key, []).append(value)
        problems = lab.stop()
        assert not problems, problems
        stops.append(lab.timings["stop"])

    lab = SwarmLab()
    lab.start()
    try:
        for key, value in lab.timings.items():
            starts.setdefault(key, []).append(value)
        time.sleep(2)
        memory_line(lab, "idle")
        mgr = lab.manager.client()
        try:
            services = [mgr.services.create(IMAGE, name=f"bench-mem-{region}", labels={TEST_LABEL: "bench"},
                                            endpoint_spec=EndpointSpec(mode="dnsrr"),
                                            constraints=[f"node.labels.region=={region}"]) for region in ("eu", "us")]
            for service in services:
                poll(functools.partial(running_on, service), timeout=60, what=f"{service.name} running")
            time.sleep(2)
            memory_line(lab, "one task per worker")
            for service in services:
                service.remove()
        finally:
            mgr.close()
        results = {label: failover(lab, delay, args.runs) for label, delay in (("restart delay 5 s (default)", None),
                                                                                ("restart delay 0", 0.0))}
    finally:
        problems = lab.stop()
        stops.append(lab.timings["stop"])
    assert not problems, problems

    print(f"heartbeat {lab.heartbeat_s:g} s (dispatcher, set at swarm init)")
    for key in ("network", "daemons", "swarm", "images", "start"):
        print(f"start/{key}: {fmt(starts.get(key, []))} s")
    print(f"stop: {fmt(stops)} s")
    for label, res in results.items():
        print(f"failover, {label}: kill_node {fmt(res['kill'])} s; node Down {fmt(res['down'])} s; "
              f"task Running on the other worker {fmt(res['moved'])} s; restart_node → Ready {fmt(res['restart_ready'])} s")


if __name__ == "__main__":
    main()
