"""Fixtures for tests that run the real OpenClaw gateway image on the real engine.

The real-engine fixtures of tests/engine are reused (``docker_client``, ``fleet_name``,
``secrets_dir``, ``wait_until``), loaded from tests/engine/conftest.py under their own module
name, and tests/engine is put on sys.path so ``engine_harness`` imports as it does there.

Every test collected below this directory gets the ``engine`` marker.

Fixtures added here:
    openclaw_image   session  "deployer/openclaw:2026.9.6" (fails with a hint when missing)
    gateway_run_id   function a unique id; containers labelled deployer.test=<id> are
                              force-removed after the test, even when it failed
"""

from __future__ import annotations

import importlib.util
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ENGINE_DIR = HERE.parent / "engine"
for _d in (ENGINE_DIR, HERE):
    if str(_d) not in sys.path:
        sys.path.insert(0, str(_d))

from gatewaykit import HINT, OPENCLAW_IMAGE, TEST_LABEL  # noqa: E402


def _load_engine_conftest():
    name = "_deployer_engine_conftest_for_gateway"
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
fleet_name = _engine.fleet_name
secrets_dir = _engine.secrets_dir
wait_until = _engine.wait_until


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that lives under tests/gateway with ``engine``."""
    for item in items:
        try:
            path = Path(str(item.path)).resolve()
        except Exception:  # pragma: no cover - exotic items without a path
            continue
        if HERE in path.parents:
            item.add_marker(pytest.mark.engine)


@pytest.fixture(scope="session")
def openclaw_image(docker_client: Any) -> str:
    import docker.errors

    try:
        docker_client.images.get(OPENCLAW_IMAGE)
        return OPENCLAW_IMAGE
    except docker.errors.ImageNotFound:
        pass
    pytest.fail(f"image {OPENCLAW_IMAGE} is missing. {HINT}", pytrace=False)


@pytest.fixture
def gateway_run_id(docker_client: Any):
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
