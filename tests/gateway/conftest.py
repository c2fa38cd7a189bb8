"""Fixtures for tests that run the real OpenClaw gateway image on the real engine.

The real-engine fixtures of tests.support.engine_fixtures are reused (``docker_client``,
``fleet_name``, ``secrets_dir``, ``wait_until``).

Every test collected below this directory gets the ``engine`` marker.

Fixtures added here:
    openclaw_image   session  "deployer/openclaw:2026.9.6" (fails with a hint when missing)
    gateway_run_id   function a unique id; containers labelled deployer.test=<id> are
                              force-removed after the test, even when it failed
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine_fixtures import (  # noqa: F401 - fixtures, registered by being imported here
    docker_client,
    fleet_name,
    mark_under,
    secrets_dir,
    wait_until,
)
from tests.support.gatewaykit import HINT, OPENCLAW_IMAGE, TEST_LABEL

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that lives under tests/gateway with ``engine``."""
    mark_under(items, HERE, pytest.mark.engine)


@pytest.fixture(scope="session")
def openclaw_image(docker_client: Any) -> str:  # noqa: F811 - the fixture, by name
    import docker.errors

    try:
        docker_client.images.get(OPENCLAW_IMAGE)
        return OPENCLAW_IMAGE
    except docker.errors.ImageNotFound:
        pass
    pytest.fail(f"image {OPENCLAW_IMAGE} is missing. {HINT}", pytrace=False)


@pytest.fixture
def gateway_run_id(docker_client: Any):  # noqa: F811 - the fixture, by name
    run_id = f"gw-{secrets.token_hex(4)}"
    yield run_id
    leftovers = []
    for row in docker_client.api.containers(all=True, filters={"label": f"{TEST_LABEL}={run_id}"}):
        try:
            docker_client.api.remove_container(row["Id"], force=True, v=True)
        except Exception as exc:  # noqa: BLE001 - report, do not mask the test's result
            leftovers.append(f"{row['Id'][:12]}: {exc}")
    if leftovers:
        pytest.fail(f"cleanup of gateway test {run_id} incomplete: {leftovers}", pytrace=False)
