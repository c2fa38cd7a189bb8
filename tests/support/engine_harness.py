"""Helpers shared by the real-engine tests (tests/engine, tests/reliability, tests/gateway) and
the bench: the stand-in images, unique fleet names, polling, and finding and removing a test
fleet's containers. Import as ``from tests.support.engine_harness import ...``.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any, Callable

import pytest

from deployer.core.vocabulary import (
    CONTAINER_PREFIX,
    LABEL_FLEET,
    LABEL_HISTORY,
    LABEL_LOCK,
    LABEL_RECORD,
    OPENCLAW_UID,
)

STAND_IN_REPO = "deployer-test/openclaw"
STAND_IN_IMAGE = f"{STAND_IN_REPO}:1"
STAND_IN_IMAGE_V2 = f"{STAND_IN_REPO}:2"
BOT_PORT = 18789
BOT_UID = OPENCLAW_UID  # the stand-in runs as the gateway's user
FLEET_LABEL = LABEL_FLEET
FLEET_NAME_MAX = 40
HINT = "Run the suite with `bash scripts/test.sh` (or run `bash scripts/engine-up.sh` first)."


def poll(
    predicate: Callable[[], Any],
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
) -> Any:
    """Call ``predicate`` until it returns something truthy; return that value.

    Exceptions raised by the predicate count as "not yet". Fails the test
    after ``timeout`` seconds, reporting the last value / exception.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - "not ready yet"
            last = exc
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last result: {last!r}")
        time.sleep(interval)


def _slug(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", text.lower())).strip("-")


def make_fleet_name(test_name: str) -> str:
    """``t-<slug>-<6 hex>``: a DNS label of at most 40 chars."""
    suffix = secrets.token_hex(3)
    room = FLEET_NAME_MAX - len("t-") - len("-") - len(suffix)
    slug = _slug(test_name)[:room].strip("-") or "x"
    return f"t-{slug}-{suffix}"


MARKER_LABELS = (LABEL_LOCK, LABEL_RECORD, LABEL_HISTORY)  # lock (+ heartbeats), record, history


def fleet_containers(client: Any, fleet: str) -> dict[str, str]:
    """id -> name of everything this test fleet owns, from filtered list calls only: inspecting
    every container on a shared engine races with other runs removing theirs."""
    found: dict[str, str] = {}
    filters = [{"label": f"{FLEET_LABEL}={fleet}"}, {"name": f"{CONTAINER_PREFIX}{fleet}"}]
    filters += [{"label": f"{label}={fleet}"} for label in MARKER_LABELS]
    for f in filters:
        for row in client.api.containers(all=True, filters=f):
            name = (row.get("Names") or ["/"])[0].lstrip("/")
            if "name" in f and not name.startswith(f"{CONTAINER_PREFIX}{fleet}"):
                continue  # the name filter matches substrings
            found[row["Id"]] = name
    return found


def remove_fleet(client: Any, fleet: str) -> list[str]:
    """Force-remove everything belonging to ``fleet``; returns what failed."""
    import docker.errors

    problems: list[str] = []
    for cid, name in fleet_containers(client, fleet).items():
        try:
            client.api.remove_container(cid, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            problems.append(f"container {name}: {exc}")
    label = {"label": f"{FLEET_LABEL}={fleet}"}
    for net in client.networks.list(filters=label):
        try:
            net.remove()
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            problems.append(f"network {net.name}: {exc}")
    for vol in client.volumes.list(filters=label):
        try:
            vol.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            problems.append(f"volume {vol.name}: {exc}")
    return problems
