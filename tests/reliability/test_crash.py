"""Crash at every step: an apply SIGKILLed right after each of its mutating engine calls, then
a normal `deployer apply --yes --prune` must converge the fleet exactly.

The scenario's apply creates one bot (a), replaces one (b: env change), updates one in place
(c: memory) and prunes one orphan (z). It runs through tests/support/crash_apply.py with
--parallelism 1, so its mutating calls come in one fixed order; a first run without a kill
learns that order and its length M, then for every k in 1..M the fleet is reset to the same
starting state, the apply is killed right after its k-th mutating call returned, and a
recovery apply must converge:

  * every desired bot has exactly one container, named botmaker-<bot>, running, with the
    desired spec (env / memory read back by inspect); no `_old_` aside, no orphan;
  * `plan --prune --detailed-exitcode` exits 0 and the recovery released its lock.

Right after the kill, no bot that existed before may be gone: its canonical container or its
aside copy exists. The killed run leaves its lock (it never ran its `finally`): for k=1 the
recovery takes it over after its --lock-ttl 5 expired (--lock-timeout 30); for the other k it
is removed with `deployer unlock FLEET --force` first, to save the wait.

Each crash point runs on a fleet of its own (same scenario, other bot names), a few at a time:
most of an apply is waiting (settle, stop), and the kill order inside one apply stays fixed.
"""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.engine_harness import CONTAINER_PREFIX, STAND_IN_IMAGE, make_fleet_name
from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    ASIDE_MARK,
    Manifests,
    apply_plan,
    cleanup_markers,
    env_of,
    make_plan,
)
from tests.support.reliakit import fleet_container_names, fleet_containers, reset_fleet, run_deployer

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
WORKERS = 4  # crash points run at the same time, each on a fleet of its own


def bot(**spec):
    return {"image": STAND_IN_IMAGE, "restart": "no", **spec}


START = {
    "b": bot(env={"VERSION": "1"}),
    "c": bot(resources={"memory": "64m"}),
    "z": bot(),  # not in DESIRED: the orphan that --prune removes
}
DESIRED = {
    "a": bot(),                                 # create
    "b": bot(env={"VERSION": "2"}),             # replace (env is not an in-place field)
    "c": bot(resources={"memory": "96m"}),      # update in place
}
# bots that exist before the apply and are still wanted: never lost, even by a killed apply
KEPT = ("b", "c")

KILLED_ARGS = ("apply", "--yes", "--prune", "--parallelism", "1", "--lock-ttl", "5", "--wait-timeout", "20")
RECOVER_ARGS = ("apply", "--yes", "--prune", "--wait-timeout", "20")


def names_of(calls: list[str]) -> list[str]:
    """'3 rename 0123abcd to botmaker-x_old_0123abcd' -> 'rename' (IDs differ from run to run)."""
    return [line.split()[1] for line in calls]


def set_up_start(client, fleet: str, start: Manifests) -> None:
    reset_fleet(client, fleet)
    fleet_spec, options, engine, the_plan = make_plan(start.path)
    report = apply_plan(engine, fleet_spec, options, the_plan)
    assert not report.failed, [(r.bot, r.message) for r in report.failed]
    got = {c.name: c.status for c in fleet_containers(client, fleet)}
    assert got == {start.cname(s): "running" for s in START}, got


def lock_exists(client, fleet: str) -> bool:
    import docker.errors

    try:
        client.containers.get(f"botmaker-lock.{fleet}")
        return True
    except docker.errors.NotFound:
        return False


def assert_converged(client, fleet: str, want: Manifests, context: str) -> None:
    containers = fleet_containers(client, fleet)
    names = sorted(c.name for c in containers)
    assert names == sorted(want.cname(s) for s in DESIRED), f"{context}: containers {names}"
    assert not [n for n in names if ASIDE_MARK in n], context
    by_name = {c.name: c for c in containers}
    for short in DESIRED:
        c = by_name[want.cname(short)]
        assert c.status == "running", f"{context}: {c.name} is {c.status}"
        assert c.labels["botmaker.bot-id"] == want.name(short), context
        assert c.labels["botmaker.fleet"] == fleet, context
    assert env_of(by_name[want.cname("b")]).get("VERSION") == "2", f"{context}: b has the old env"
    assert by_name[want.cname("c")].attrs["HostConfig"]["Memory"] == 96 * MIB, f"{context}: c memory not updated"
    assert by_name[want.cname("c")].attrs["HostConfig"]["MemorySwap"] == 96 * MIB, context
    assert not lock_exists(client, fleet), f"{context}: the recovery apply left its lock"
    plan = run_deployer("plan", "--prune", "--detailed-exitcode", want.path, plain=True)
    assert plan.returncode == 0, f"{context}: plan after recovery is not clean:\n{plan.describe()}"


def crash_point(k: int, order: list[str], tmp: Path, client) -> str:
    """Reset a fleet of its own to START, kill the apply after its k-th mutating call, recover."""
    fleet = make_fleet_name(f"crash-k{k}")
    start = Manifests(tmp / "start", fleet, None)
    start.write(START)
    want = Manifests(tmp / "want", fleet, None)
    want.write(DESIRED)
    m = len(order)
    context = f"fleet {fleet}: killed after mutating call {k}/{m} ({order[k - 1]})"
    try:
        set_up_start(client, fleet, start)
        killed = run_deployer(*KILLED_ARGS, want.path, log=tmp / "calls.log", crash_after=k)
        assert killed.returncode == -signal.SIGKILL, f"{context}\n{killed.describe()}"
        assert names_of(killed.calls) == order[:k], f"{context}\n{killed.describe()}"
        assert "Traceback" not in killed.output, f"{context}\n{killed.describe()}"

        # nothing that existed before is lost: canonical container or its aside copy
        after_kill = fleet_container_names(client, fleet)
        for short in KEPT:
            own = [n for n in after_kill if n == want.cname(short) or n.startswith(want.cname(short) + ASIDE_MARK)]
            assert own, f"{context}: bot {short} lost; containers: {after_kill}"
        assert lock_exists(client, fleet), f"{context}: a killed apply should leave its lock"

        if k == 1:
            # the dead run's lock expires (--lock-ttl 5) and the recovery takes it over
            recover = run_deployer(*RECOVER_ARGS, "--lock-timeout", "30", want.path, plain=True)
            assert "Took over the expired lock" in recover.stderr, f"{context}\n{recover.describe()}"
            how = "lock takeover"
        else:
            unlock = run_deployer("unlock", fleet, "--force", plain=True)
            assert unlock.returncode == 0 and "removed the lock" in unlock.stdout, f"{context}\n{unlock.describe()}"
            recover = run_deployer(*RECOVER_ARGS, want.path, plain=True)
            how = "unlock --force"
        assert recover.returncode == 0, f"{context}\n{recover.describe()}"
        assert "Traceback" not in recover.output, f"{context}\n{recover.describe()}"
        assert_converged(client, fleet, want, context)
        short = [n[len(CONTAINER_PREFIX + fleet) + 1:] for n in after_kill]
        return f"k={k:<2} after {order[k - 1]:<6}: left {short}; recovered after {how}"
    finally:
        reset_fleet(client, fleet)


def test_crash_after_every_mutating_call_then_apply_converges(tmp_path, fleet_name, docker_client):
    started = time.monotonic()
    start = Manifests(tmp_path / "start", fleet_name, None)
    start.write(START)
    want = Manifests(tmp_path / "want", fleet_name, None)
    want.write(DESIRED)

    # 1. the uninterrupted run: learn M and the order of the mutating calls
    set_up_start(docker_client, fleet_name, start)
    free = run_deployer(*KILLED_ARGS, want.path, log=tmp_path / "calls-free.log")
    assert free.returncode == 0, free.describe()
    assert "Apply finished: 4 succeeded, 0 failed." in free.stdout, free.describe()
    assert_converged(docker_client, fleet_name, want, "uninterrupted run")
    order = names_of(free.calls)
    m = len(order)
    # create a: create, start; replace b: stop, rename, create, start, remove; update c: update;
    # prune z: stop, remove
    assert order == ["create", "start", "stop", "rename", "create", "start", "remove", "update", "stop", "remove"], \
        free.describe()
    reset_fleet(docker_client, fleet_name)

    # 2. every crash point, each in a fleet of its own, a few at a time (they mostly wait)
    results: dict[int, str] = {}
    failures: list[str] = []
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {pool.submit(crash_point, k, order, tmp_path / f"k{k}", docker_client): k
                   for k in range(1, m + 1)}
        for future, k in futures.items():
            try:
                results[k] = future.result(timeout=300)
            except BaseException as exc:  # noqa: BLE001 - report every crash point, not the first
                failures.append(f"k={k}: {type(exc).__name__}: {exc}")
    assert not failures, "\n\n".join(failures)

    print(f"\ncrash points: M={m} mutating calls ({', '.join(order)}); tried k=1..{m} "
          f"in {time.monotonic() - started:.0f}s")
    for k in sorted(results):
        print("  " + results[k])
