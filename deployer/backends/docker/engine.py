"""DockerEngine: the backend contract (deployer.backends.base) on one Docker host.

Every call goes through `_call`, which counts it by kind and maps any failure to one
`EngineError` line (client.explain). The client is built lazily, so commands that never need
the engine never contact it. Request bodies come from translate.py; no private SDK call is made.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import docker

from deployer.backends.base import MUTATING, HelperResult, UnitStatus, count_mutating
from deployer.backends.docker import translate
from deployer.backends.docker.client import CountedCalls, connect, proxy_environment, raw
from deployer.backends.docker.markers import DockerMarkers
from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.backends.endpoint import Endpoint, resolve
from deployer.core.encodings import split_image_ref
from deployer.core.model import BotSpec, ObservedContainer
from deployer.core.traits import Traits
from deployer.core.vocabulary import HELPER_PREFIX
from deployer.errors import EngineError, NotFound

__all__ = ["DockerEngine", "MUTATING"]


class DockerEngine(CountedCalls, DockerMarkers):
    """The single-host backend. Thread-safe for the calls the applier makes in parallel."""

    traits: Traits = DOCKER_TRAITS

    def __init__(self, *, max_pool_size: int = 16, timeout: int = 120, endpoint: Endpoint | None = None):
        self._client: docker.APIClient | None = None
        self._lock = threading.Lock()
        self._max_pool_size = max_pool_size
        self._timeout = timeout
        self.endpoint = endpoint or resolve(os.environ)
        self.calls: Counter[str] = Counter()
        # told (kind, what) after every call, whether it failed or not: how the crash tests kill
        # an apply after its n-th mutating call and the bench counts calls, without patching us
        self.call_observers: list[Callable[[str, str], None]] = []
        self._proxy_env: Callable[[list[str]], list[str]] | None = None

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def api(self) -> docker.APIClient:
        with self._lock:
            if self._client is None:
                self._client, _ = connect(self.endpoint, timeout=self._timeout, max_pool_size=self._max_pool_size)
            return self._client

    def _call(self, name: str, what: str, fn: Callable[[], Any]) -> Any:
        return self._counted(name, what, fn)

    def _with_proxy_env(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._proxy_env is None:
            self._proxy_env = proxy_environment(self.endpoint)
        env = self._proxy_env(list(body.get("Env") or []))
        return {**body, "Env": env} if env else body

    @property
    def mutating_calls(self) -> int:
        return count_mutating(self.calls)

    # -- reading -------------------------------------------------------------------------------
    def list_containers(self, *, labels: list[str] | None = None, name: str | None = None) -> list[ObservedContainer]:
        """One list call (no per-container inspect), all states."""
        filters: dict[str, Any] = {}
        if labels:
            filters["label"] = labels
        if name:
            filters["name"] = name
        rows = self._call("list", "list containers", lambda: self.api.containers(all=True, filters=filters))
        return [translate.observed_from_row(r) for r in rows]

    def inspect(self, container_id: str) -> UnitStatus:
        data = self._call("inspect", f"inspect container {container_id[:12]}",
                          lambda: self.api.inspect_container(container_id))
        return translate.status_from_inspect(data)

    def image_info(self, ref: str) -> tuple[str | None, str | None]:
        """(local image ID, the image's configured User), or (None, None) when the engine lacks it."""
        try:
            data = self._call("inspect_image", f"inspect image {ref}", lambda: self.api.inspect_image(ref))
        except NotFound:
            return None, None
        return data.get("Id"), (data.get("Config") or {}).get("User") or None

    def image_id(self, ref: str) -> str | None:
        return self.image_info(ref)[0]

    def logs_tail(self, container_id: str, lines: int = 20) -> str:
        try:
            raw = self._call("logs", "read logs", lambda: self.api.logs(container_id, tail=lines))
        except EngineError:
            return ""
        return str(raw.decode("utf-8", "replace").strip())

    def logs_since(self, container_id: str, since: float) -> list[tuple[str, str]]:
        """(RFC 3339 timestamp, line) of the log lines written at or after `since` (unix time)."""
        raw = self._call("logs", "read logs", lambda: self.api.logs(
            container_id, stdout=True, stderr=True, timestamps=True, since=int(since)))
        out = []
        for line in raw.decode("utf-8", "replace").splitlines():
            stamp, _, text = line.partition(" ")
            out.append((stamp, text))
        return out

    # -- short-lived containers next to the bots -------------------------------------------------
    def run_once(self, image: str, *, name: str, command: list[str], entrypoint: list[str] | None,
                 user: str, env: dict[str, str], binds: list[tuple[str, str, bool]], tmpfs: dict[str, str],
                 labels: dict[str, str], timeout: float) -> tuple[int, str]:
        """Run a throwaway container to completion with no network and a read-only root:
        (exit code, its output). It is removed whatever happens."""
        body = self._with_proxy_env(translate.oneshot_body(
            image, command=command, entrypoint=entrypoint, user=user, env=env, binds=binds, tmpfs=tmpfs,
            labels=labels))
        created = self._call("oneshot_create", f"create {name}",
                             lambda: self.api.create_container_from_config(body, name=name))
        cid = created["Id"]
        try:
            self._call("oneshot_start", f"start {name}", lambda: self.api.start(cid))
            try:
                result = self._call("oneshot_wait", f"wait for {name}", lambda: self.api.wait(cid, timeout=timeout))
            except EngineError as exc:
                raise EngineError(f"{name} did not finish within {timeout:.0f}s ({exc})") from None
            raw = self._call("logs", f"read logs of {name}", lambda: self.api.logs(cid, stdout=True, stderr=True))
            return int(result.get("StatusCode", -1)), raw.decode("utf-8", "replace")
        finally:
            try:
                self._call("oneshot_remove", f"remove {name}", lambda: self.api.remove_container(cid, force=True))
            except EngineError:
                pass

    def run_helper(self, image: str, argv: list[str], *, binds: list[tuple[str, str, bool]],
                   env: dict[str, str] | None = None, cap_add: tuple[str, ...] = ("DAC_OVERRIDE",),
                   labels: dict[str, str] | None = None, timeout: float = 60,
                   what: str = "helper") -> HelperResult:
        """Run a short-lived command on the engine host: a container of `image` running `argv` as
        root, with no network, a read-only root fs, every capability dropped but `cap_add`, and
        the host dirs `binds` ((host path, container path, read_only)) mounted; wait for it, return
        its exit code and output, and always remove it. For reading (and later writing) files on
        a remote engine host, where this machine's os calls cannot reach."""
        import uuid

        name = f"{HELPER_PREFIX}{uuid.uuid4().hex[:12]}"
        body = self._with_proxy_env(translate.helper_body(image, argv, binds=binds, env=env, cap_add=cap_add,
                                                          labels=labels))
        created = self._call("helper", f"{what}: create helper container of {image}",
                             lambda: self.api.create_container_from_config(body, name=name))
        cid = created["Id"]
        try:
            self._call("helper", f"{what}: start helper", lambda: self.api.start(cid))
            status = self._call("helper", f"{what}: wait for helper", lambda: self.api.wait(cid, timeout=timeout))
            out = self._call("helper", f"{what}: read helper output",
                             lambda: self.api.logs(cid, stdout=True, stderr=False))
            err = self._call("helper", f"{what}: read helper output",
                             lambda: self.api.logs(cid, stdout=False, stderr=True))
        finally:
            try:
                self._call("helper", f"{what}: remove helper", lambda: self.api.remove_container(cid, force=True))
            except EngineError:
                pass
        return HelperResult(int((status or {}).get("StatusCode", -1)), out.decode("utf-8", "replace"),
                            err.decode("utf-8", "replace"))

    # -- changing ------------------------------------------------------------------------------
    def pull(self, ref: str) -> None:
        repo, tag = split_image_ref(ref)
        self._call("pull", f"pull {ref}", lambda: self.api.pull(repo, tag=tag))

    def create(self, bot: BotSpec, *, fleet: str, spec: dict[str, Any], spec_hash: str,
               secrets_dir: str | None, extra_labels: dict[str, str] | None = None) -> str:
        body = self._with_proxy_env(translate.create_body(
            bot, fleet=fleet, spec=spec, spec_hash=spec_hash, secrets_dir=secrets_dir, extra_labels=extra_labels))
        result = self._call("create", f"create {bot.container_name}",
                            lambda: self.api.create_container_from_config(body, name=bot.container_name))
        return str(result["Id"])

    def start(self, container_id: str, name: str = "") -> None:
        self._call("start", f"start {name or container_id[:12]}", lambda: self.api.start(container_id))

    def stop(self, container_id: str, name: str = "", timeout: int = 10) -> None:
        self._call("stop", f"stop {name or container_id[:12]}", lambda: self.api.stop(container_id, timeout=timeout))

    def unpause(self, container_id: str, name: str = "") -> None:
        self._call("unpause", f"unpause {name or container_id[:12]}", lambda: self.api.unpause(container_id))

    def remove(self, container_id: str, name: str = "") -> None:
        """Remove a container (force: it is stopped already or unwanted). Volumes are kept."""
        self._call("remove", f"remove {name or container_id[:12]}",
                   lambda: self.api.remove_container(container_id, force=True, v=False))

    def rename(self, container_id: str, new_name: str) -> None:
        self._call("rename", f"rename {container_id[:12]} to {new_name}", lambda: self.api.rename(container_id, new_name))

    def update(self, container_id: str, bot: BotSpec, name: str = "") -> None:
        """Change memory, cpus and restart policy in place (no restart). APIClient.update_container
        has no nano_cpus argument, so the body is sent as the Engine API defines it, through the
        client's public requests interface."""
        body = translate.update_body(bot)
        path = f"/containers/{container_id}/update"
        self._call("update", f"update {name or container_id[:12]}", lambda: raw(self.api, "POST", path, json=body))

    def wait_ready(self, container_id: str, *, timeout: float, settle: float, healthcheck: bool) -> UnitStatus:
        """Poll until the container runs (and is healthy when it has a healthcheck). Call it right
        after start.

        Without a healthcheck it must then stay up for `settle` seconds: a gateway that exits at
        once (bad config, unreadable secret) must not be reported as started. A started container
        runs (start returns once it does), and until the settle time is up only an exit can change
        that, which still shows in an inspect after it (exited, restarting or RestartCount > 0):
        so the first look is at the end of the settle time, one inspect per started bot instead
        of a poll every 50-500 ms (6 inspects) through it.
        """
        started = time.monotonic()
        deadline = started + timeout
        running_since: float | None = None
        if not healthcheck and settle > 0:
            time.sleep(min(settle, timeout))
            running_since = started  # confirmed (or not) by the first inspect below
        delay = 0.05
        while True:
            st = self.inspect(container_id)
            if st.status in ("exited", "dead") or st.restart_count > 0 or st.status == "restarting":
                return st
            if running_since == started and not st.running:
                running_since = None  # not running yet after all: the settle time counts from when it is
            if st.running:
                if healthcheck:
                    if st.health in ("healthy", "unhealthy"):
                        return st
                else:
                    running_since = running_since or time.monotonic()
                    if time.monotonic() - running_since >= settle:
                        return st
            if time.monotonic() >= deadline:
                return st
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
