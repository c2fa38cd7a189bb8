"""An in-memory engine with the calls the applier and the lock make, for unit tests and for
the 1,000-bot failure-budget measurement (bench/rollout_budget.py).

Containers whose image is in `bad_images` (or whose command is in `bad_commands`) exit at once
after start, like a gateway with a broken image or config. `latency` is slept in every call,
so parallel actions overlap the way they do on a real engine. Markers (lock, beats, history)
live in the same name space as containers: a second create of a name raises NameTaken.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from deployer.backends.base import EngineError, Marker, NameTaken
from deployer.backends.base import UnitStatus as ContainerStatus
from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.model import BotSpec, ObservedContainer


@dataclass
class FakeContainer:
    id: str
    name: str
    image: str
    labels: dict[str, str]
    command: tuple[str, ...] | None = None
    status: str = "created"
    created: float = field(default_factory=time.time)


class FakeEngine:
    traits = DOCKER_TRAITS  # it plays a single host: renames aside, updates in place

    def __init__(self, *, latency: float = 0.0, bad_images: frozenset[str] = frozenset(),
                 bad_commands: frozenset[tuple[str, ...]] = frozenset()):
        self.latency = latency
        self.bad_images = bad_images
        self.bad_commands = bad_commands
        self.containers: dict[str, FakeContainer] = {}
        self.calls: Counter[str] = Counter()
        self.call_observers: list = []
        self.started_creates: list[str] = []  # container names, in order of create
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.clock = time.time  # the engine's clock (tests may move it)

    def _tick(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1
        if self.latency:
            time.sleep(self.latency)
        for observe in self.call_observers:
            observe(name, name)

    def _by_name(self, name: str) -> FakeContainer | None:
        return next((c for c in self.containers.values() if c.name == name), None)

    def _new(self, name: str, image: str, labels: dict[str, str], command: tuple[str, ...] | None) -> str:
        with self._lock:
            if self._by_name(name) is not None:
                raise NameTaken(f"create {name}: name already taken by another container")
            cid = f"{next(self._ids):064x}"
            self.containers[cid] = FakeContainer(cid, name, image, dict(labels), command, created=self.clock())
            return cid

    def _get(self, cid: str, what: str) -> FakeContainer:
        c = self.containers.get(cid)
        if c is None:
            raise EngineError(f"{what}: not found (no such container: {cid[:12]})")
        return c

    # -- bot containers --------------------------------------------------------------------------
    def image_id(self, ref: str) -> str | None:
        self._tick("inspect_image")
        return "sha256:" + ref.encode().hex()[:64].ljust(64, "0")

    def pull(self, ref: str) -> None:
        self._tick("pull")

    def create(self, bot: BotSpec, *, fleet: str, spec: dict[str, Any], spec_hash: str, secrets_dir: str | None,
               extra_labels: dict[str, str] | None = None) -> str:
        self._tick("create")
        labels = {"botmaker.managed": "true", "botmaker.fleet": fleet, "botmaker.bot-id": bot.name,
                  "botmaker.spec-hash": spec_hash, **(extra_labels or {})}
        cid = self._new(bot.container_name, bot.image, labels, bot.command)
        with self._lock:
            self.started_creates.append(bot.container_name)
        return cid

    def start(self, container_id: str, name: str = "") -> None:
        self._tick("start")
        c = self._get(container_id, f"start {name}")
        bad = c.image in self.bad_images or (c.command is not None and tuple(c.command) in self.bad_commands)
        c.status = "exited" if bad else "running"

    def stop(self, container_id: str, name: str = "", timeout: int = 10) -> None:
        self._tick("stop")
        self._get(container_id, f"stop {name}").status = "exited"

    def rename(self, container_id: str, new_name: str) -> None:
        self._tick("rename")
        with self._lock:
            if self._by_name(new_name) is not None:
                raise NameTaken(f"rename to {new_name}: name already taken")
            self._get(container_id, "rename").name = new_name

    def remove(self, container_id: str, name: str = "") -> None:
        self._tick("remove")
        with self._lock:
            self.containers.pop(container_id, None)

    def update(self, container_id: str, bot: BotSpec, name: str = "") -> None:
        self._tick("update")

    def inspect(self, container_id: str) -> ContainerStatus:
        self._tick("inspect")
        c = self._get(container_id, "inspect")
        return ContainerStatus(c.id, c.name, c.status, c.status == "running", 3 if c.status == "exited" else 0, 0,
                               None, "", c.image, "", c.labels, 0, 0, "no", 0, {})

    def wait_ready(self, container_id: str, *, timeout: float, settle: float, healthcheck: bool) -> ContainerStatus:
        return self.inspect(container_id)

    def logs_tail(self, container_id: str, lines: int = 20) -> str:
        return "gateway: bad config, exiting"

    def list_containers(self, *, labels: list[str] | None = None, name: str | None = None) -> list[ObservedContainer]:
        self._tick("list")
        wanted = [tuple(lbl.split("=", 1)) for lbl in labels or []]
        return [ObservedContainer(c.id, c.name, c.image, "", c.status, dict(c.labels))
                for c in list(self.containers.values()) if all(c.labels.get(k) == v for k, v in wanted)]

    # -- markers ---------------------------------------------------------------------------------
    def create_marker(self, name: str, labels: dict[str, str]) -> str:
        self._tick("marker_create")
        return self._new(name, "botmaker/marker:1", labels, None)

    def remove_marker(self, marker_id: str, name: str = "") -> None:
        self._tick("marker_remove")
        with self._lock:
            if self.containers.pop(marker_id, None) is None:
                raise EngineError(f"remove {name or marker_id[:12]}: not found")

    def find_marker(self, name: str) -> tuple[str, dict[str, str], str] | None:
        self._tick("inspect")
        c = self._by_name(name)
        return None if c is None else (c.id, dict(c.labels), "")

    def list_markers(self, label: str, value: str) -> tuple[float, list[Marker]]:
        self._tick("list")
        return self.clock(), [Marker(c.id, c.name, dict(c.labels), float(int(c.created)))
                              for c in list(self.containers.values()) if c.labels.get(label) == value]
