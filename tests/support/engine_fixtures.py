"""The real-engine fixtures, shared by the engine, reliability and gateway suites: each of their
conftest.py files imports the ones it uses from here (a fixture imported into a conftest is
registered there).

The engine and the stand-in bot images are provided by ``scripts/engine-up.sh`` (run by
``scripts/test.sh``). When they are missing the tests FAIL with a hint, they are never skipped
silently.

    docker_client       session  docker.DockerClient connected to the engine
    stand_in_image      session  "deployer-test/openclaw:1"
    stand_in_image_v2   session  "deployer-test/openclaw:2" (different image ID)
    fleet_name          function unique fleet name; the fleet's containers (label
                                 botmaker.fleet=<name>, or name starting with botmaker-<name>) are
                                 force-removed after the test, and so are its labelled networks
                                 and volumes
    secrets_dir         function tmp dir (mode 0700) for per-bot secret dirs
    wait_until          function poll(predicate, timeout=..., interval=..., what=...)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine_harness import (
    HINT,
    STAND_IN_IMAGE,
    STAND_IN_IMAGE_V2,
    fleet_containers,
    make_fleet_name,
    poll,
    remove_fleet,
)


def mark_under(items: list[pytest.Item], directory: Path, marker: pytest.MarkDecorator,
               names: set[str] | None = None) -> None:
    """Add `marker` to every collected test below `directory` (only in files named in `names`,
    when given)."""
    for item in items:
        try:
            path = Path(str(item.path)).resolve()
        except Exception:  # pragma: no cover - exotic items without a path
            continue
        if directory not in path.parents and path != directory:
            continue
        if names is not None and (path.parent != directory or path.name not in names):
            continue
        item.add_marker(marker)


@pytest.fixture(scope="session")
def docker_client():
    try:
        import docker
    except ImportError as exc:
        pytest.fail(f"the `docker` Python package is not installed ({exc}). {HINT}", pytrace=False)
    error = None
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - DockerException, requests errors, ...
        error = f"{type(exc).__name__}: {exc}"
    if error is not None:  # fail outside the except block: no chained traceback
        pytest.fail(f"cannot reach the Docker engine ({error}). {HINT}", pytrace=False)
    yield client
    client.close()


def _require_image(client: Any, ref: str) -> str:
    import docker.errors

    try:
        client.images.get(ref)
        return ref
    except docker.errors.ImageNotFound:
        pass
    pytest.fail(f"stand-in image {ref} is missing. {HINT}", pytrace=False)


@pytest.fixture(scope="session")
def stand_in_image(docker_client) -> str:
    return _require_image(docker_client, STAND_IN_IMAGE)


@pytest.fixture(scope="session")
def stand_in_image_v2(docker_client) -> str:
    return _require_image(docker_client, STAND_IN_IMAGE_V2)


@pytest.fixture
def fleet_name(request: pytest.FixtureRequest, docker_client):
    name = make_fleet_name(request.node.name)
    yield name
    problems = remove_fleet(docker_client, name)
    leftovers = fleet_containers(docker_client, name)
    if problems or leftovers:
        pytest.fail(
            f"cleanup of fleet {name} incomplete: {problems} leftover containers: "
            f"{sorted(leftovers.values())}",
            pytrace=False,
        )


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    d = tmp_path / "secrets"
    d.mkdir(mode=0o700)
    os.chmod(d, 0o700)  # mkdir's mode is filtered by the umask
    return d


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    return poll
