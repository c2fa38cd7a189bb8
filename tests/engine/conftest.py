"""Fixtures for tests that talk to a real Docker engine (tests.support.engine_fixtures:
docker_client, stand_in_image, stand_in_image_v2, fleet_name, secrets_dir, wait_until).

Every test collected below this directory gets the ``engine`` marker, so
``pytest -m "not engine"`` deselects them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.engine_fixtures import (  # noqa: F401 - fixtures, registered by being imported here
    docker_client,
    fleet_name,
    mark_under,
    secrets_dir,
    stand_in_image,
    stand_in_image_v2,
    wait_until,
)

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that lives under tests/engine with ``engine``."""
    mark_under(items, HERE, pytest.mark.engine)
