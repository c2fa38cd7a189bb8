"""Markers on a single host: never-started containers of an empty image whose name and labels
carry state (the fleet lock, its heartbeats, the last-applied record, history entries).
Container names are unique, so a create is atomic: a second one gets NameTaken (409)."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Callable
from typing import Any

import docker

from deployer.backends.base import Marker
from deployer.backends.docker.client import engine_clock, raw
from deployer.backends.docker.translate import marker_from_row
from deployer.core.vocabulary import LABEL_MARKER_IMAGE, MARKER_IMAGE
from deployer.errors import EngineError, NotFound


class DockerMarkers:
    """The MarkerStore half of DockerEngine (mixed in: it shares the client and the call count)."""

    api: docker.APIClient
    _call: Callable[[str, str, Callable[[], Any]], Any]

    def create_marker(self, name: str, labels: dict[str, str]) -> str:
        """Create (never start) an empty container whose name and labels carry state: the fleet
        lock and the last-applied record. Names are unique, so a second create gets NameTaken."""
        self._ensure_marker_image()
        body = {"Image": MARKER_IMAGE, "Cmd": ["marker"], "Labels": labels, "NetworkDisabled": True}
        result = self._call("marker_create", f"create {name}",
                            lambda: self.api.create_container_from_config(body, name=name))
        return str(result["Id"])

    def remove_marker(self, marker_id: str, name: str = "") -> None:
        self._call("marker_remove", f"remove {name or marker_id[:12]}",
                   lambda: self.api.remove_container(marker_id, force=True))

    def find_marker(self, name: str) -> tuple[str, dict[str, str], str] | None:
        """(id, labels, created) of a marker container by exact name, or None."""
        try:
            data = self._call("inspect", f"inspect {name}", lambda: self.api.inspect_container(name))
        except NotFound:
            return None
        if data.get("Name", "").lstrip("/") != name:
            return None
        return data["Id"], (data.get("Config") or {}).get("Labels") or {}, data.get("Created", "")

    def list_markers(self, label: str, value: str) -> tuple[float, list[Marker]]:
        """Every container carrying label=value (one list call), and the engine's own clock at
        the time of the answer (the response's Date header), so marker ages are measured on one
        clock, whatever the clocks of the machines running deployer say."""
        params = {"all": 1, "filters": json.dumps({"label": [f"{label}={value}"]})}
        sent = time.monotonic()
        res = self._call("list", f"list {label} markers",
                         lambda: raw(self.api, "GET", "/containers/json", params=params))
        return engine_clock(res, sent), [marker_from_row(r) for r in res.json()]

    def _ensure_marker_image(self) -> None:
        try:
            self._call("inspect_image", f"inspect image {MARKER_IMAGE}", lambda: self.api.inspect_image(MARKER_IMAGE))
            return
        except NotFound:
            pass
        buf = io.BytesIO()
        tarfile.open(fileobj=buf, mode="w").close()
        repo, tag = MARKER_IMAGE.split(":")
        self._call("import", "import the marker image",
                   lambda: self.api.import_image_from_data(buf.getvalue(), repository=repo, tag=tag,
                                                           changes=[f"LABEL {LABEL_MARKER_IMAGE}=1"]))


__all__ = ["DockerMarkers", "EngineError"]
