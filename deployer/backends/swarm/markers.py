"""Markers on a swarm: Docker configs whose labels carry state (the fleet lock, its heartbeats, the
last-applied record, history entries). Config names are unique cluster-wide and kept by the
managers' raft store, so a create is atomic for every runner whichever manager it talks to, and
a marker outlives any one node. A config's CreatedAt and the Date header of the list answer are
both the manager's clock, so lock ages are measured on one clock."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import docker

from deployer.backends.base import Marker
from deployer.backends.docker.client import engine_clock, raw
from deployer.backends.swarm import translate
from deployer.errors import NotFound


class SwarmMarkers:
    """The MarkerStore half of SwarmEngine (mixed in: it shares the client and the call count)."""

    api: docker.APIClient
    _call: Callable[[str, str, Callable[[], Any]], Any]

    def create_marker(self, name: str, labels: dict[str, str]) -> str:
        """Create a config named `name` (shortened to swarm's 64 characters when longer, the full
        name kept in a label); NameTaken when it exists."""
        body = {"Name": translate.marker_config_name(name), "Labels": translate.marker_labels(name, labels),
                "Data": _b64(translate.MARKER_DATA)}
        res = self._call("marker_create", f"create marker {name}",
                         lambda: raw(self.api, "POST", "/configs/create", json=body))
        return str(res.json()["ID"])

    def remove_marker(self, marker_id: str, name: str = "") -> None:
        self._call("marker_remove", f"remove marker {name or marker_id[:12]}", lambda: self.api.remove_config(marker_id))

    def find_marker(self, name: str) -> tuple[str, dict[str, str], str] | None:
        """(id, labels, created) of the marker with exactly this name, or None (one list call
        filtered by name; a config's name filter matches prefixes, so the name is compared)."""
        wanted = translate.marker_config_name(name)
        rows = self._call("list", f"look up marker {name}",
                          lambda: self.api.configs(filters={"name": wanted}))
        for row in rows or []:
            if (row.get("Spec") or {}).get("Name") == wanted:
                m = translate.marker_from_config(row)
                return m.id, m.labels, str(row.get("CreatedAt", ""))
        return None

    def list_markers(self, label: str, value: str) -> tuple[float, list[Marker]]:
        """Every marker config with label=value (one list call) and the manager's clock at the
        answer (its Date header, minus the round trip: never later than the list)."""
        params = {"filters": json.dumps({"label": [f"{label}={value}"]})}
        sent = time.monotonic()
        res = self._call("list", f"list {label} markers",
                         lambda: raw(self.api, "GET", "/configs", params=params))
        return engine_clock(res, sent), [translate.marker_from_config(r) for r in res.json() or []]


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


__all__ = ["SwarmMarkers", "NotFound"]
