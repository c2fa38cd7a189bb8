"""DockerEngine.wait_ready's polling, on scripted inspect results (no engine): how many
inspects a started container costs, and that an exit during the settle time is still caught."""

from __future__ import annotations

import dataclasses
import time

from deployer.backends.base import UnitStatus as ContainerStatus
from deployer.backends.docker.engine import DockerEngine

RUNNING = ContainerStatus(
    id="c1", name="botmaker-a", status="running", running=True, exit_code=0, restart_count=0, health=None,
    started_at="", image="i", image_id="sha", labels={}, memory_bytes=0, nano_cpus=0, restart_policy="no",
    restart_max_retries=0, live={},
)
EXITED = dataclasses.replace(RUNNING, status="exited", running=False, exit_code=3)
RESTARTED = dataclasses.replace(RUNNING, restart_count=1)


def scripted(engine: DockerEngine, script) -> list[float]:
    """Make engine.inspect return script(t), t the seconds since the container was started (now);
    return the times of the calls, as seconds since then."""
    started = time.monotonic()
    times: list[float] = []

    def inspect(container_id: str) -> ContainerStatus:
        times.append(time.monotonic() - started)
        return script(times[-1])
    engine.inspect = inspect  # type: ignore[method-assign]
    return times


def test_a_container_that_stays_up_costs_one_inspect_at_the_end_of_the_settle_time():
    engine = DockerEngine()
    times = scripted(engine, lambda t: RUNNING)
    st = engine.wait_ready("c1", timeout=10, settle=0.3, healthcheck=False)
    assert st.running and len(times) == 1 and times[0] >= 0.3


def test_without_settle_time_one_inspect_at_once():
    engine = DockerEngine()
    times = scripted(engine, lambda t: RUNNING)
    assert engine.wait_ready("c1", timeout=10, settle=0, healthcheck=False).running
    assert len(times) == 1 and times[0] < 0.2


def test_an_exit_during_the_settle_time_is_reported():
    engine = DockerEngine()
    scripted(engine, lambda t: RUNNING if t < 0.1 else EXITED)
    st = engine.wait_ready("c1", timeout=10, settle=0.3, healthcheck=False)
    assert st.status == "exited" and st.exit_code == 3


def test_a_restart_during_the_settle_time_is_reported():
    engine = DockerEngine()
    scripted(engine, lambda t: RUNNING if t < 0.1 else RESTARTED)
    assert engine.wait_ready("c1", timeout=10, settle=0.3, healthcheck=False).restart_count == 1


def test_the_deadline_still_bounds_the_wait():
    engine = DockerEngine()
    times = scripted(engine, lambda t: RUNNING)
    st = engine.wait_ready("c1", timeout=0.2, settle=5, healthcheck=False)
    assert st.running and times[-1] < 1.0


def test_a_container_not_yet_running_gets_its_whole_settle_time_once_it_runs():
    engine = DockerEngine()
    created = dataclasses.replace(RUNNING, status="created", running=False)
    times = scripted(engine, lambda t: created if t < 0.35 else RUNNING)
    assert engine.wait_ready("c1", timeout=10, settle=0.3, healthcheck=False).running
    assert times[-1] >= 0.35 + 0.3 - 0.05  # running seen at >= 0.35 s, then 0.3 s more


def test_with_a_healthcheck_it_polls_until_healthy():
    engine = DockerEngine()
    starting = dataclasses.replace(RUNNING, health="starting")
    healthy = dataclasses.replace(RUNNING, health="healthy")
    times = scripted(engine, lambda t: starting if t < 0.2 else healthy)
    assert engine.wait_ready("c1", timeout=10, settle=1, healthcheck=True).health == "healthy"
    assert times[0] < 0.1 and len(times) >= 3
