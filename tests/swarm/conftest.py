"""Fixtures for tests on the 3-node test swarm (tests/swarm/swarmlab.py).

The swarm is started once per session, the first time a test asks for it, and shared: starting
it costs about 4 s and ~400 MB; stopping it about 8 s. When this machine cannot run it (not
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

import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # make swarmlab importable in any import mode
    sys.path.insert(0, str(_HERE))

from swarmlab import TEST_LABEL, SwarmLab, SwarmLabError, Unavailable  # noqa: E402


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
        for collection in (client.secrets, client.configs, client.networks):
            for obj in collection.list(filters=flt):
                try:
                    obj.remove()
                except Exception:  # noqa: BLE001 - still in use by a task being shut down
                    pass
    finally:
        client.close()

