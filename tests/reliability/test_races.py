"""Races: two applies of one fleet started together (separate processes, each counting its
mutating engine calls through tests/support/crash_apply.py).

The fleet lock must let exactly one of them change anything: the loser exits 1 naming the
holder ("is locked by") and made no mutating call; the winner converges the fleet; nobody
leaves a lock behind. Repeated with the second apply started 0, 0.3 and 0.8 s after the first,
plus one race where the second waits for the lock (--lock-timeout) and then has nothing to do.
"""

from __future__ import annotations

import time

import pytest

from tests.support.engine_harness import STAND_IN_IMAGE
from tests.support.fleetkit import Manifests, cleanup_markers  # noqa: F401 - cleanup_markers is an autouse fixture
from tests.support.reliakit import finish, fleet_containers, reset_fleet, run_deployer, start_deployer

pytestmark = pytest.mark.slow

BOTS = {s: {"image": STAND_IN_IMAGE, "restart": "no", "env": {"WHO": s}} for s in ("a", "b", "c")}
APPLY = ("apply", "--yes", "--wait-timeout", "20")


def race(tmp, m: Manifests, delay: float, second_extra: tuple[str, ...] = ()):
    logs = (tmp / f"first-{delay}.log", tmp / f"second-{delay}.log")
    args = ((*APPLY, m.path), (*APPLY, *second_extra, m.path))
    t0 = time.monotonic()
    first = start_deployer(*args[0], log=logs[0])
    time.sleep(delay)
    t1 = time.monotonic()
    second = start_deployer(*args[1], log=logs[1])
    return finish(first, args[0], logs[0], t0), finish(second, args[1], logs[1], t1)


def assert_fleet_converged(client, fleet: str, m: Manifests, context: str) -> None:
    containers = fleet_containers(client, fleet)
    assert sorted(c.name for c in containers) == sorted(m.cname(s) for s in BOTS), context
    for c in containers:
        assert c.status == "running", f"{context}: {c.name} is {c.status}"
    assert not [c for c in client.api.containers(all=True, filters={"name": f"botmaker-lock.{fleet}"})], \
        f"{context}: a lock was left behind"
    plan = run_deployer("plan", "--detailed-exitcode", m.path, plain=True)
    assert plan.returncode == 0, f"{context}\n{plan.describe()}"


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.8])
def test_two_applies_at_once_exactly_one_mutates(delay, tmp_path, fleet_name, docker_client):
    m = Manifests(tmp_path, fleet_name, None)
    m.write(BOTS)
    reset_fleet(docker_client, fleet_name)

    runs = race(tmp_path, m, delay)
    context = f"second apply {delay}s after the first:\n" + "\n\n".join(r.describe() for r in runs)
    assert sorted(r.returncode for r in runs) == [0, 1], context
    winner, loser = sorted(runs, key=lambda r: r.returncode)
    assert "is locked by" in loser.stderr, context
    assert f"fleet {fleet_name} is locked by" in loser.stderr, context
    assert loser.calls == [], context  # the loser changed nothing at all
    assert "Traceback" not in loser.output + winner.output, context
    assert len(winner.calls) == 6, context  # create + start for each of the 3 bots
    assert "Apply finished: 3 succeeded, 0 failed." in winner.stdout, context
    assert_fleet_converged(docker_client, fleet_name, m, context)
    print(f"\nrace delay={delay}s: winner {'first' if winner is runs[0] else 'second'} "
          f"({len(winner.calls)} mutating calls), loser exit 1 with 0 calls")


def test_second_apply_waits_for_the_lock_then_has_nothing_to_do(tmp_path, fleet_name, docker_client):
    m = Manifests(tmp_path, fleet_name, None)
    m.write(BOTS)
    reset_fleet(docker_client, fleet_name)

    runs = race(tmp_path, m, 0.3, second_extra=("--lock-timeout", "60"))
    context = "\n\n".join(r.describe() for r in runs)
    assert [r.returncode for r in runs] == [0, 0], context
    mutators = [r for r in runs if r.calls]
    assert len(mutators) == 1 and len(mutators[0].calls) == 6, context
    idle = next(r for r in runs if not r.calls)
    assert "No changes." in idle.stdout, context
    assert_fleet_converged(docker_client, fleet_name, m, context)
