"""Fixtures for tests on the 3-node test swarm (tests/support/swarmlab.py).

The swarm is started once per session, the first time a test asks for it, and shared: starting
it costs 3–6 s and ~400 MB RSS; stopping it 3–8 s (bench/swarmlab_figures.py). When this machine cannot run it (not
root, tools missing, no netns, images missing on the host engine) the tests FAIL with the reason;
they are never skipped.

Fixtures:
    swarm_lab        session   the SwarmLab, started (as it is; use `swarm` in tests)
    swarm            function  the same SwarmLab, with every node running and Ready first
                               (a test that killed a node and failed before restarting it does
                               not break the next one)
    swarm_manager    function  docker.DockerClient on the manager (closed after the test)
    swarm_label      function  a unique label value; services, secrets, configs and networks
                               labelled swarmlab.test=<value> are removed from the swarm after
                               the test

Every test collected below this directory gets the ``swarm`` marker, so
``pytest -m "not swarm"`` deselects them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support.swarmlab import TEST_LABEL, SwarmLab, SwarmLabError, Unavailable

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            path = Path(str(item.path)).resolve()
        except Exception:  # pragma: no cover - exotic items without a path
            continue
        if _HERE in path.parents:
            item.add_marker(pytest.mark.swarm)


@pytest.fixture(scope="session")
def swarm_lab() -> Iterator[SwarmLab]:
    lab = SwarmLab()
    error = None
    try:
        lab.start()
    except (Unavailable, SwarmLabError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    if error is not None:  # fail outside the except block: no chained traceback
        pytest.fail(f"cannot start the 3-node test swarm: {error}", pytrace=False)
    yield lab
    problems = lab.stop()
    if problems:
        pytest.fail("the test swarm's teardown left: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def swarm(swarm_lab: SwarmLab) -> SwarmLab:
    swarm_lab.heal()
    return swarm_lab


@pytest.fixture
def swarm_manager(swarm: SwarmLab) -> Iterator[Any]:
    client = swarm.manager.client()
    yield client
    client.close()


@pytest.fixture
def swarm_label(swarm: SwarmLab) -> Iterator[str]:
    value = uuid.uuid4().hex[:10]
    yield value
    remove_labelled(swarm, value)


def remove_labelled(lab: SwarmLab, value: str) -> None:
    """Remove the swarm objects labelled swarmlab.test=<value> (services first: they hold the rest)."""
    if not lab.manager.alive:
        lab.heal()
    client = lab.manager.client()
    try:
        flt = {"label": f"{TEST_LABEL}={value}"}
        for service in client.services.list(filters=flt):
            service.remove()
        # secrets, configs and networks stay in use until the removed services' tasks are gone
        deadline = time.monotonic() + 20
        for collection in (client.secrets, client.configs, client.networks):
            for obj in collection.list(filters=flt):
                while True:
                    try:
                        obj.remove()
                        break
                    except docker.errors.APIError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.3)
    finally:
        client.close()

