"""Fixtures for the reliability suite: the real-engine fixtures of tests/engine, reused.

tests/engine/conftest.py is loaded here under its own module name and its fixtures are
re-exported (``docker_client``, ``stand_in_image``, ``fleet_name``, ``secrets_dir``, ...), and
tests/engine is put on sys.path so ``engine_harness`` and ``fleetkit`` import as they do there.

Every test in this directory that uses the shared engine (test_crash, test_races,
test_engine_faults) is marked ``engine``, like the tests under tests/engine; the slow ones
carry ``slow`` themselves.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ENGINE_DIR = HERE.parent / "engine"
if str(ENGINE_DIR) not in sys.path:
    sys.path.insert(0, str(ENGINE_DIR))
if str(HERE) not in sys.path:  # reliakit (helpers of this suite)
    sys.path.insert(0, str(HERE))


def _load_engine_conftest():
    name = "_deployer_engine_conftest_for_reliability"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ENGINE_DIR / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_engine = _load_engine_conftest()
docker_client = _engine.docker_client
stand_in_image = _engine.stand_in_image
stand_in_image_v2 = _engine.stand_in_image_v2
fleet_name = _engine.fleet_name
secrets_dir = _engine.secrets_dir
wait_until = _engine.wait_until


_ENGINE_MODULES = {"test_crash.py", "test_races.py", "test_engine_faults.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            path = Path(str(item.path)).resolve()
        except Exception:  # pragma: no cover
            continue
        if path.parent == HERE and path.name in _ENGINE_MODULES:
            item.add_marker(pytest.mark.engine)
