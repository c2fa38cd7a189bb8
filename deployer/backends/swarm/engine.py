"""SwarmEngine: the backend contract (deployer.backends.base) on a Docker Swarm, through one manager.

Each bot is one replicated service `botmaker-<bot>` with one replica (0 when stopped). Every call
goes through `_call`, which counts it by kind and maps failures to one `EngineError` line (the
single-host backend's error map, plus swarm's own 409 "already exists"). Request bodies come
from translate.py. Every update starts from the spec the manager has stored, read just before
(never a cached version index: that is "update out of sequence"; never the SDK's update, which
re-sends the spec with defaults filled in and so restarts the task).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import docker
import docker.errors

from deployer.backends.base import HelperResult, UnitStatus, count_mutating
from deployer.backends.docker.client import CountedCalls, connect, raw
from deployer.backends.endpoint import Endpoint, resolve
from deployer.backends.swarm import translate
from deployer.backends.swarm.markers import SwarmMarkers
from deployer.backends.swarm.secrets import SwarmSecrets
from deployer.backends.swarm.traits import SWARM_TRAITS
from deployer.core.model import BotSpec, ObservedContainer, container_uid
from deployer.core.traits import Traits
from deployer.core.vocabulary import LABEL_BOT, LABEL_FLEET, OPENCLAW_UID
from deployer.errors import EngineError, NotFound, RolledBack

__all__ = ["SwarmEngine"]


class SwarmEngine(CountedCalls, SwarmMarkers, SwarmSecrets):
    """The swarm backend. Thread-safe for the calls the applier makes in parallel."""

    traits: Traits = SWARM_TRAITS

    def __init__(self, *, max_pool_size: int = 16, timeout: int = 120, endpoint: Endpoint | None = None,
                 update_timeout: float = 600.0):
        self._client: docker.APIClient | None = None
        self._lock = threading.Lock()
        self._max_pool_size = max_pool_size
        self._timeout = timeout
        # The secrets of a swarm bot are read here, on the runner, and sent as Docker secrets:
        # they are checked on this machine whatever the manager's address (files_local).
        self.endpoint = dataclasses.replace(endpoint or resolve(os.environ), files_local=True)
        self.calls: Counter[str] = Counter()
        self.call_observers: list[Callable[[str, str], None]] = []  # told (kind, what) after every call
        self.update_timeout = update_timeout
        self.monitor_ns = int(float(os.environ.get("DEPLOYER_SWARM_UPDATE_MONITOR", "5")) * 1e9)
        self._nodes: dict[str, str] | None = None
        self._image_users: dict[str, str | None] = {}

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def api(self) -> docker.APIClient:
        with self._lock:
            if self._client is None:
                client, info = connect(self.endpoint, timeout=self._timeout, max_pool_size=self._max_pool_size,
                                       engine="the swarm manager", ask_info=True,
                                       hint="is dockerd running and DOCKER_HOST (or --host) right?")
                self.calls["info"] += 1
                assert info is not None
                swarm = info.get("Swarm") or {}
                if swarm.get("LocalNodeState") != "active":
                    raise EngineError(
                        f"{self.endpoint.describe()} is not part of a swarm (swarm: {swarm.get('LocalNodeState') or '?'}); "
                        "the fleet says spec.backend: swarm, so point DOCKER_HOST or --host at a swarm manager")
                if not swarm.get("ControlAvailable"):
                    raise EngineError(
                        f"{self.endpoint.describe()} is a swarm worker, not a manager: services can only be read and "
                        "changed through a manager; point DOCKER_HOST or --host at one (docker node ls shows them)")
                self._client = client
            return self._client

    def _call(self, name: str, what: str, fn: Callable[[], Any]) -> Any:
        api = self.api  # connect (and check it is a manager) outside the count of this call
        del api
        return self._counted(name, what, fn)

    @property
    def mutating_calls(self) -> int:
        return count_mutating(self.calls)

    def _post(self, kind: str, what: str, path: str, body: dict[str, Any], params: dict[str, Any] | None = None) -> Any:
        return self._call(kind, what, lambda: raw(self.api, "POST", path, json=body, params=params))

    def _service(self, unit_id: str) -> dict[str, Any]:
        return dict(self._call("inspect", f"inspect service {unit_id[:12]}",
                               lambda: self.api.inspect_service(unit_id, insert_defaults=False)))

    def _tasks(self, unit_id: str) -> list[dict[str, Any]]:
        return list(self._call("inspect", f"list tasks of {unit_id[:12]}",
                               lambda: self.api.tasks(filters={"service": unit_id})) or [])

    def node_names(self) -> dict[str, str]:
        """Node ID -> hostname (one list call, kept for the engine's life)."""
        if self._nodes is None:
            rows = self._call("list", "list nodes", lambda: self.api.nodes()) or []
            self._nodes = {n["ID"]: (n.get("Description") or {}).get("Hostname") or n["ID"][:12] for n in rows}
        return self._nodes

    def _update_spec(self, unit_id: str, what: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> bool:
        """Read the stored spec, let `change` return the new one (None: nothing to do), send it
        with the version just read; once more if a concurrent change got in between."""
        for attempt in (1, 2):
            svc = self._service(unit_id)
            new = change(svc["Spec"])
            if new is None:
                return False
            try:
                self._post("update", what, f"/services/{unit_id}/update", new,
                           params={"version": svc["Version"]["Index"]})
                return True
            except EngineError as exc:
                if attempt == 2 or "out of sequence" not in str(exc):
                    raise
        return False  # pragma: no cover

    # -- reading -------------------------------------------------------------------------------
    def list_containers(self, *, labels: list[str] | None = None, name: str | None = None) -> list[ObservedContainer]:
        """The services (one list call). `name` is a prefix, as for containers."""
        filters: dict[str, Any] = {}
        if labels:
            filters["label"] = labels
        if name:
            filters["name"] = name
        rows = self._call("list", "list services", lambda: self.api.services(filters=filters)) or []
        out = [translate.observed_from_service(r) for r in rows]
        return [o for o in out if not name or o.name.startswith(name)]

    def inspect(self, container_id: str) -> UnitStatus:
        svc = self._service(container_id)
        return translate.status_from_service(svc, self._tasks(container_id), self.node_names())

    def image_info(self, ref: str) -> tuple[str | None, str | None]:
        """(image ID, configured user) as the manager has the image, or (None, None). The nodes
        keep their own images; a missing one shows when its task is rejected (wait_ready)."""
        try:
            data = self._call("inspect_image", f"inspect image {ref}", lambda: self.api.inspect_image(ref))
        except NotFound:
            self._image_users[ref] = None
            return None, None
        user = (data.get("Config") or {}).get("User") or None
        self._image_users[ref] = user
        return data.get("Id"), user

    def image_id(self, ref: str) -> str | None:
        return self.image_info(ref)[0]

    def logs_tail(self, container_id: str, lines: int = 20) -> str:
        try:
            raw = self._call("logs", "read service logs", lambda: self.api.service_logs(
                container_id, stdout=True, stderr=True, tail=lines))
        except EngineError:
            return ""
        data = raw if isinstance(raw, bytes) else b"".join(raw)
        return data.decode("utf-8", "replace").strip()

    def logs_since(self, container_id: str, since: float) -> list[tuple[str, str]]:
        raw = self._call("logs", "read service logs", lambda: self.api.service_logs(
            container_id, stdout=True, stderr=True, timestamps=True, since=int(since)))
        data = raw if isinstance(raw, bytes) else b"".join(raw)
        out = []
        for line in data.decode("utf-8", "replace").splitlines():
            stamp, _, text = line.partition(" ")
            out.append((stamp, text))
        return out

    # -- no host next to the units ---------------------------------------------------------------
    def run_once(self, image: str, **_: Any) -> tuple[int, str]:
        raise EngineError("the swarm backend runs no one-shot containers (the OpenClaw preflight needs runtime "
                          "openclaw, which the swarm backend refuses)")

    def run_helper(self, image: str, argv: list[str], **_: Any) -> HelperResult:
        raise EngineError("the swarm backend runs no helper containers: a swarm bot's secrets are read on this "
                          "machine and sent as Docker secrets")

    # -- changing ------------------------------------------------------------------------------
    def pull(self, ref: str) -> None:
        """Nothing to do on the manager: each node pulls (or uses its own copy) when it starts a
        task. An image no eligible node has is reported by wait_ready / replace_unit."""

    def _uid(self, bot: BotSpec) -> int:
        if bot.image not in self._image_users:
            self.image_info(bot.image)
        return container_uid(bot, self._image_users) or OPENCLAW_UID

    def _spec(self, bot: BotSpec, fleet: str, spec: dict[str, Any], spec_hash: str, secrets_dir: str | None,
              extra_labels: dict[str, str] | None) -> dict[str, Any]:
        refs = self.secret_refs(bot, fleet=fleet, secrets_dir=secrets_dir, extra_labels=extra_labels,
                                uid=self._uid(bot))
        return translate.service_spec(bot, fleet=fleet, spec=spec, spec_hash=spec_hash, extra_labels=extra_labels,
                                      secrets=refs, monitor_ns=self.monitor_ns)

    def create(self, bot: BotSpec, *, fleet: str, spec: dict[str, Any], spec_hash: str,
               secrets_dir: str | None, extra_labels: dict[str, str] | None = None) -> str:
        body = self._spec(bot, fleet, spec, spec_hash, secrets_dir, extra_labels)
        res = self._post("create", f"create service {bot.container_name}", "/services/create", body)
        return str(res.json()["ID"])

    def start(self, container_id: str, name: str = "") -> None:
        """One replica (a no-op, and no update, when the service asks for one already)."""
        self._update_spec(container_id, f"start {name or container_id[:12]}",
                          lambda s: None if translate.replicas(s) == 1 else translate.with_replicas(s, 1))

    def stop(self, container_id: str, name: str = "", timeout: int = 10) -> None:
        """No replica; returns once no task of the service runs (swarm stops it with its grace)."""
        changed = self._update_spec(container_id, f"stop {name or container_id[:12]}",
                                    lambda s: None if translate.replicas(s) == 0 else translate.with_replicas(s, 0))
        if not changed:
            return
        deadline = time.monotonic() + timeout + 30
        while time.monotonic() < deadline:
            tasks = self._tasks(container_id)
            if not any(t.get("DesiredState") == "running" or (t.get("Status") or {}).get("State") in ("running", "starting")
                       for t in tasks):
                return
            time.sleep(0.3)
        raise EngineError(f"stop {name or container_id[:12]}: its task still runs after {timeout + 30}s")

    def remove(self, container_id: str, name: str = "") -> None:
        """Remove the service, then the bot's secret versions no service references any more."""
        try:
            labels = (self._service(container_id).get("Spec") or {}).get("Labels") or {}
        except NotFound:
            return
        self._call("remove", f"remove service {name or container_id[:12]}", lambda: self.api.remove_service(container_id))
        if labels.get(LABEL_FLEET) and labels.get(LABEL_BOT):
            self.collect_secrets(labels[LABEL_FLEET], labels[LABEL_BOT])

    def unpause(self, container_id: str, name: str = "") -> None:
        # swarm has no pause: a service's state is its replica count, never "paused", so the
        # planner never asks for this (a task container paused by hand on a node is not seen)
        raise EngineError("a swarm service cannot be paused, so it is never unpaused")

    def rename(self, container_id: str, new_name: str) -> None:
        raise EngineError("a swarm service is never renamed: the swarm backend has no aside copy")

    def update(self, container_id: str, bot: BotSpec, name: str = "") -> None:
        raise EngineError("a swarm service has no field that changes without a new task (SWARM_TRAITS)")

    def replace_unit(self, unit_id: str, bot: BotSpec, *, fleet: str, spec: dict[str, Any], spec_hash: str,
                     secrets_dir: str | None, extra_labels: dict[str, str] | None = None) -> str:
        """One service update to the bot's new spec (stop-first, rollback on failure), waited for
        until swarm reports it completed; RolledBack when swarm rolled it back. Old secret
        versions are collected afterwards (kept while the previous spec references them)."""
        before = self._service(unit_id)
        new = self._spec(bot, fleet, spec, spec_hash, secrets_dir, extra_labels)
        new["Name"] = before["Spec"].get("Name", new["Name"])  # a service keeps its name
        translate.avoid_placement_only_update(before["Spec"], new)

        self._update_spec(unit_id, f"update service {bot.container_name}", lambda stored: new)
        after = self._service(unit_id)
        # a new task template rolls out (waited for); a stopped bot's (0 replicas) starts no task
        if (translate.replicas(after["Spec"]) or 0) > 0 and \
                after["Spec"].get("TaskTemplate") != before["Spec"].get("TaskTemplate"):
            self._wait_update(unit_id, translate.update_started(before), bot)
        self.collect_secrets(fleet, bot.name)
        return unit_id

    def _wait_update(self, unit_id: str, started_before: str, bot: BotSpec) -> None:
        deadline = time.monotonic() + self.update_timeout
        delay = 0.2
        while True:
            svc = self._service(unit_id)
            state, message = translate.update_state(svc)
            fresh = translate.update_started(svc) != started_before
            if fresh and state == "completed":
                return
            if fresh and state in ("rollback_completed", "rollback_paused", "paused"):
                why = self._task_failure(svc) or message
                self.collect_secrets(svc["Spec"]["Labels"].get(LABEL_FLEET, ""), bot.name)
                if state == "rollback_completed":
                    back = self._wait_settled(unit_id, 60.0)
                    raise RolledBack(f"the new task failed ({why}); swarm rolled service {bot.container_name} back to "
                                     "its previous spec, " + ("which runs again" if back else
                                                              "whose task has not come back yet (docker service ps)"))
                raise EngineError(f"the update of service {bot.container_name} failed and swarm left it {state} "
                                  f"({why}); run apply again, or look at: docker service ps {bot.container_name}")
            if not fresh and _settled(svc, self._tasks(unit_id)):
                # swarm started no rollout: the task template changed only where swarm keeps the task
                # (a placement the node still meets), so the running task is the wanted one already
                return
            if time.monotonic() >= deadline:
                raise EngineError(f"the update of service {bot.container_name} did not finish within "
                                  f"{self.update_timeout:.0f}s (state {state or 'none'}: {message})")
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def _wait_settled(self, unit_id: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _settled(self._service(unit_id), self._tasks(unit_id)):
                return True
            time.sleep(0.3)
        return False

    def _task_failure(self, svc: dict[str, Any]) -> str:
        """Why the newest failed task of the service failed, from its status (never its logs)."""
        failed = [t for t in self._tasks(svc["ID"]) if (t.get("Status") or {}).get("State") in ("failed", "rejected")]
        if not failed:
            return ""
        t = max(failed, key=lambda t: t.get("CreatedAt", ""))
        st = t.get("Status") or {}
        code = (st.get("ContainerStatus") or {}).get("ExitCode")
        text = st.get("Err") or st.get("Message") or st.get("State", "")
        return f"{text}" + (f", exit code {code}" if code else "")

    def wait_ready(self, container_id: str, *, timeout: float, settle: float, healthcheck: bool) -> UnitStatus:
        """Poll the service's tasks until the task of its current spec runs (a swarm task with a
        healthcheck counts as running only once healthy) and has stayed up for `settle`, or it
        failed. A task rejected for a missing image ends the wait at once: swarm would retry it on
        the same node forever, so the service is scaled to 0 and the error says what to do."""
        deadline = time.monotonic() + timeout
        running_since: float | None = None
        delay = 0.1
        while True:
            svc = self._service(container_id)
            tasks = self._tasks(container_id)
            mine = translate.wanted_tasks(svc, tasks)
            rejected = translate.no_such_image(mine)
            if rejected is not None:
                node = self.node_names().get(rejected.get("NodeID", ""), "?")
                image = ((svc.get("Spec") or {}).get("TaskTemplate") or {}).get("ContainerSpec", {}).get("Image", "?")
                name = (svc.get("Spec") or {}).get("Name", container_id[:12])
                self._update_spec(container_id, f"stop {name}", lambda s: translate.with_replicas(s, 0))
                raise EngineError(
                    f"service {name}: node {node} has no image {image} ({rejected['Status'].get('Err')}); swarm does "
                    "not move a task to a node that has it, and there is no registry to pull from: load the image on "
                    "every node the bot may run on (docker load), or constrain the bot to those nodes "
                    "(spec.placement.constraints), or push it to a registry the nodes can reach. The service was "
                    "scaled to 0 so it does not retry forever; the next apply starts it again")
            st = translate.status_from_service(svc, tasks, self.node_names())
            if st.status in ("failed", "rejected", "orphaned", "complete", "shutdown") or st.restart_count > 0:
                return dataclasses.replace(st, status="exited")
            if st.status == "stopped":
                return st
            if st.running:
                running_since = running_since or time.monotonic()
                if time.monotonic() - running_since >= settle:
                    return st
            if time.monotonic() >= deadline:
                return st
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)


def _settled(svc: dict[str, Any], tasks: list[dict[str, Any]]) -> bool:
    """The service's one task runs the current container spec and no other task is on its way."""
    mine = translate.wanted_tasks(svc, tasks)
    live = [t for t in tasks if t.get("DesiredState") == "running"]
    return bool(mine) and len(live) == 1 and live[0] is mine[0] and (mine[0].get("Status") or {}).get("State") == "running"
