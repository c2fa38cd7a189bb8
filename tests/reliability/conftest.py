"""Fixtures for the reliability suite: the real-engine fixtures of tests.support.engine_fixtures
(``docker_client``, ``stand_in_image``, ``fleet_name``, ``secrets_dir``, ...).

Every test in this directory that uses the shared engine (test_crash, test_races,
test_engine_faults) is marked ``engine``, like the tests under tests/engine; the slow ones
carry ``slow`` themselves.
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
_ENGINE_MODULES = {"test_crash.py", "test_races.py", "test_engine_faults.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mark_under(items, HERE, pytest.mark.engine, names=_ENGINE_MODULES)
