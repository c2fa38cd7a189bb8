"""The single-host Docker backend: the only module that imports the docker SDK.

A narrow interface (list, inspect, image lookup, pull, create, start, stop, update, rename,
remove, wait, logs) that a Swarm backend could implement too. Every docker error is mapped to
an EngineError carrying one clear line. The client is built lazily, so commands that do not
need the engine never contact (or import) it.
"""

from __future__ import annotations

import email.utils
import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import docker
import docker.errors
from docker.types import Healthcheck as DockerHealthcheck
from docker.types import Mount

from .endpoint import Endpoint, resolve
from .hashing import canonical_json, secrets_source
from .model import (
    LABEL_BOT,
    LABEL_FLEET,
    LABEL_MANAGED,
    LABEL_SPEC,
    LABEL_SPEC_HASH,
    SECRETS_MOUNT,
    BotSpec,
    ObservedContainer,
)
from .problems import DeployerError

# Calls that change bot containers. Marker containers (the lock and the last-applied record)
# are counted apart, as marker_create / marker_remove.
MUTATING = frozenset({"pull", "create", "start", "stop", "update", "rename", "remove"})


class EngineError(DeployerError):
    """One engine call failed; the message is one line fit for an operator."""


class NameTaken(EngineError):
    """A create failed because the name is held (409): the atomic primitive behind the lock."""


MARKER_IMAGE = "botmaker/marker:1"  # an empty image, imported offline, for never-started marker containers


@dataclass(frozen=True)
class Marker:
    """A never-started marker container as a list call shows it; created is the engine's clock
    (whole seconds)."""

    id: str
    name: str
    labels: dict[str, str]
    created: float


@dataclass(frozen=True)
class ContainerStatus:
    id: str
    name: str
    status: str  # created, running, restarting, exited, dead, paused
    running: bool
    exit_code: int
    restart_count: int
    health: str | None  # starting, healthy, unhealthy, or None without a healthcheck
    started_at: str
    image: str
    image_id: str
    labels: dict[str, str]
    memory_bytes: int
    nano_cpus: int
    restart_policy: str
    restart_max_retries: int
    live: dict[str, Any]


@dataclass(frozen=True)
class HelperResult:
    exit_code: int
    stdout: str
    stderr: str


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _explain(exc: Exception, what: str, where: str | None = None) -> EngineError:
    where = where or docker_host()
    transport = _transport_failure(exc, where)
    if transport is not None:
        return EngineError(f"{what}: {transport}")
    if isinstance(exc, docker.errors.APIError):
        detail = str(exc.explanation or exc).strip().splitlines()[0] if (exc.explanation or str(exc)) else ""
        status = exc.status_code
        low = detail.lower()
        if "port is already allocated" in low or "address already in use" in low:
            return EngineError(f"{what}: host port already in use ({detail})")
        if "bind source path does not exist" in low or "invalid mount config" in low:
            return EngineError(f"{what}: bad bind source ({detail})")
        if status == 409 and "is already in use" in low:
            return NameTaken(f"{what}: name already taken by another container ({detail})")
        if status == 404:
            return EngineError(f"{what}: not found ({detail})")
        return EngineError(f"{what}: {detail or exc}")
    if isinstance(exc, docker.errors.DockerException):
        return EngineError(f"{what}: cannot reach the Docker engine at {where} ({_first_line(exc)})")
    if isinstance(exc, (ConnectionError, OSError)):
        return EngineError(f"{what}: cannot reach the Docker engine at {where} ({_first_line(exc)})")
    return EngineError(f"{what}: {_first_line(exc)}")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _transport_failure(exc: BaseException, where: str = "") -> str | None:
    """The one line for an ssh or TLS failure buried in requests/urllib3 wrappers, else None."""
    import ssl

    from .sshconn import SSHFailure

    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, SSHFailure):
            return str(e)
        if isinstance(e, ssl.SSLError):
            return _explain_tls(e, where)
        todo.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
        todo.extend(x for x in (e.__cause__, e.__context__, getattr(e, "reason", None)) if isinstance(x, BaseException))
    return None


def _explain_tls(e: Exception, where: str) -> str:
    reason = (getattr(e, "reason", None) or "").upper()
    text = str(e)
    who = f"TLS to {where}" if where else "TLS"
    if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in text:
        detail = getattr(e, "verify_message", None) or "certificate verify failed"
        return (f"{who}: the engine's certificate is not trusted by our CA (ca.pem) ({detail}); "
                "check DOCKER_CERT_PATH / the context's TLS files")
    if any(k in reason for k in ("BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_REQUIRED", "CERTIFICATE_UNKNOWN",
                                 "HANDSHAKE_FAILURE", "ACCESS_DENIED")):
        return (f"{who}: the engine refused our client certificate ({reason.lower() or _first_line(e)}); "
                "is cert.pem signed by the CA the engine trusts (--tlscacert)?")
    if "UNEXPECTED_EOF" in reason or "EOF occurred in violation of protocol" in text:
        return (f"{who}: the engine ended the handshake, so it refused our client certificate (or wants one); "
                "is cert.pem signed by the CA the engine trusts (--tlscacert)?")
    if "WRONG_VERSION_NUMBER" in reason or "record layer failure" in text.lower():
        return f"{who}: the engine does not speak TLS on that port (is it plain tcp, or the wrong port?)"
    return f"{who}: {_first_line(e)}"


def _make_client(endpoint: Endpoint, *, timeout: int, max_pool_size: int) -> docker.APIClient:
    """An API client for the endpoint: ssh through the system ssh client, tcp with TLS files as
    the docker CLI reads them, unix sockets as they are."""
    if endpoint.scheme == "ssh":
        return _SSHAPIClient(endpoint.host, timeout=timeout, max_pool_size=max_pool_size)
    tls: Any = False
    if endpoint.tls is not None:
        from docker.tls import TLSConfig

        t = endpoint.tls
        tls = TLSConfig(client_cert=(t.cert, t.key) if t.cert and t.key else None, ca_cert=t.ca,
                        verify=bool(t.verify and t.ca))
        return _TLSAPIClient(base_url=endpoint.host, tls=tls, timeout=timeout, max_pool_size=max_pool_size)
    return docker.APIClient(base_url=endpoint.host, tls=tls, timeout=timeout, max_pool_size=max_pool_size)


class _TLSAPIClient(docker.APIClient):
    """Verifies against the CA the docker CLI would use (DOCKER_CERT_PATH or the context's ca.pem):
    requests would otherwise let REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment replace it."""

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify
        return settings


class _SSHAPIClient(docker.APIClient):
    """docker.APIClient over sshconn.SSHAdapter (the SDK's ssh:// needs paramiko even to shell out)."""

    def __init__(self, url: str, *, timeout: int, max_pool_size: int):
        from .sshconn import SSHAdapter

        # A placeholder address and a pinned version, so the base class connects nowhere; the
        # adapter is mounted as the SDK mounts its own, then the server's version is asked.
        super().__init__(base_url="tcp://127.0.0.1:9", version=docker.constants.MINIMUM_DOCKER_API_VERSION,
                         timeout=timeout, max_pool_size=max_pool_size)
        self._custom_adapter = SSHAdapter(url, timeout=timeout, max_pool_size=max_pool_size)
        self.mount("http+docker://ssh", self._custom_adapter)
        self._unmount("http://", "https://")
        self.base_url = "http+docker://ssh"
        self._version = self._retrieve_server_version()


class DockerEngine:
    """The single-host backend. Thread-safe for the calls the applier makes in parallel."""

    def __init__(self, *, max_pool_size: int = 16, timeout: int = 120, endpoint: Endpoint | None = None):
        self._client: docker.APIClient | None = None
        self._lock = threading.Lock()
        self._max_pool_size = max_pool_size
        self._timeout = timeout
        self.endpoint = endpoint or resolve(os.environ)
        self.calls: Counter[str] = Counter()

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def api(self) -> docker.APIClient:
        with self._lock:
            if self._client is None:
                try:
                    self._client = _make_client(self.endpoint, timeout=self._timeout,
                                                max_pool_size=self._max_pool_size)
                except Exception as exc:  # noqa: BLE001 - every failure here means "unreachable"
                    transport = _transport_failure(exc, self.endpoint.host)
                    if transport is not None:
                        raise EngineError(f"cannot reach the Docker engine at {self.endpoint.describe()}: "
                                          f"{transport}") from None
                    raise EngineError(
                        f"cannot reach the Docker engine at {self.endpoint.describe()} ({_first_line(exc)}); "
                        "is dockerd running and DOCKER_HOST (or the docker context) right?"
                    ) from None
            return self._client

    def _call(self, name: str, what: str, fn: Callable[[], Any]) -> Any:
        with self._lock:
            self.calls[name] += 1
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - mapped to one line
            raise _explain(exc, what, self.endpoint.describe()) from None

    @property
    def mutating_calls(self) -> int:
        return sum(n for k, n in self.calls.items() if k in MUTATING)

    # -- reading -------------------------------------------------------------------------------
    def list_containers(self, *, labels: list[str] | None = None, name: str | None = None) -> list[ObservedContainer]:
        """One list call (no per-container inspect), all states."""
        filters: dict[str, Any] = {}
        if labels:
            filters["label"] = labels
        if name:
            filters["name"] = name
        rows = self._call("list", "list containers", lambda: self.api.containers(all=True, filters=filters))
        return [
            ObservedContainer(
                id=r["Id"],
                name=(r.get("Names") or ["/?"])[0].lstrip("/"),
                image=r.get("Image", ""),
                image_id=r.get("ImageID", ""),
                state=r.get("State", ""),
                labels=r.get("Labels") or {},
            )
            for r in rows
        ]

    def inspect(self, container_id: str) -> ContainerStatus:
        data = self._call("inspect", f"inspect container {container_id[:12]}", lambda: self.api.inspect_container(container_id))
        state = data.get("State") or {}
        host = data.get("HostConfig") or {}
        config = data.get("Config") or {}
        restart = host.get("RestartPolicy") or {}
        return ContainerStatus(
            id=data["Id"],
            name=data.get("Name", "").lstrip("/"),
            status=state.get("Status", ""),
            running=bool(state.get("Running")),
            exit_code=int(state.get("ExitCode") or 0),
            restart_count=int(data.get("RestartCount") or 0),
            health=(state.get("Health") or {}).get("Status"),
            started_at=state.get("StartedAt", ""),
            image=config.get("Image", ""),
            image_id=data.get("Image", ""),
            labels=config.get("Labels") or {},
            memory_bytes=int(host.get("Memory") or 0),
            nano_cpus=int(host.get("NanoCpus") or 0),
            restart_policy=restart.get("Name") or "no",
            restart_max_retries=int(restart.get("MaximumRetryCount") or 0),
            live=live_spec(data),
        )

    def image_info(self, ref: str) -> tuple[str | None, str | None]:
        """(local image ID, the image's configured User), or (None, None) when the engine lacks it."""
        try:
            data = self._call("inspect_image", f"inspect image {ref}", lambda: self.api.inspect_image(ref))
        except EngineError as exc:
            if "not found" in str(exc):
                return None, None
            raise
        return data.get("Id"), (data.get("Config") or {}).get("User") or None

    def image_id(self, ref: str) -> str | None:
        return self.image_info(ref)[0]

    def logs_tail(self, container_id: str, lines: int = 20) -> str:
        try:
            raw = self._call("logs", "read logs", lambda: self.api.logs(container_id, tail=lines))
        except EngineError:
            return ""
        return raw.decode("utf-8", "replace").strip()

    def logs_since(self, container_id: str, since: float) -> list[tuple[str, str]]:
        """(RFC 3339 timestamp, line) of the log lines written at or after `since` (unix time)."""
        raw = self._call("logs", "read logs", lambda: self.api.logs(
            container_id, stdout=True, stderr=True, timestamps=True, since=int(since)))
        out = []
        for line in raw.decode("utf-8", "replace").splitlines():
            stamp, _, text = line.partition(" ")
            out.append((stamp, text))
        return out

    def run_once(self, image: str, *, name: str, command: list[str], entrypoint: list[str] | None,
                 user: str, env: dict[str, str], binds: list[tuple[str, str, bool]], tmpfs: dict[str, str],
                 labels: dict[str, str], timeout: float) -> tuple[int, str]:
        """Run a throwaway container to completion with no network and a read-only root:
        (exit code, its output). It is removed whatever happens."""
        host_config = self.api.create_host_config(
            mounts=[Mount(target=t, source=s, type="bind", read_only=ro) for s, t, ro in binds],
            tmpfs=tmpfs, read_only=True, network_mode="none", auto_remove=False,
        )
        created = self._call("oneshot_create", f"create {name}", lambda: self.api.create_container(
            image=image, command=command, entrypoint=entrypoint, name=name, user=user,
            environment=[f"{k}={v}" for k, v in sorted(env.items())], labels=labels,
            host_config=host_config, network_disabled=True,
            healthcheck={"Test": ["NONE"]}))  # no probe of a gateway that is never started
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

    def find_marker(self, name: str) -> tuple[str, dict[str, str], str] | None:
        """(id, labels, created) of a marker container by exact name, or None."""
        try:
            data = self._call("inspect", f"inspect {name}", lambda: self.api.inspect_container(name))
        except EngineError as exc:
            if "not found" in str(exc):
                return None
            raise
        if data.get("Name", "").lstrip("/") != name:
            return None
        return data["Id"], (data.get("Config") or {}).get("Labels") or {}, data.get("Created", "")

    def list_markers(self, label: str, value: str) -> tuple[float, list[Marker]]:
        """Every container carrying label=value (one list call), and the engine's own clock at
        the time of the answer (the response's Date header), so marker ages are measured on one
        clock, whatever the clocks of the machines running deployer say."""

        def call() -> Any:
            res = self.api._get(self.api._url("/containers/json"),
                                params={"all": 1, "filters": json.dumps({"label": [f"{label}={value}"]})})
            self.api._raise_for_status(res)
            return res

        sent = time.monotonic()
        res = self._call("list", f"list {label} markers", call)
        try:
            # the Date header is written after the list was taken: minus the round trip, it is no
            # later than the moment of the list, so a marker's age is never overestimated
            now = email.utils.parsedate_to_datetime(res.headers["Date"]).timestamp() - (time.monotonic() - sent)
        except (KeyError, TypeError, ValueError):
            now = time.time() - (time.monotonic() - sent)
        return now, [
            Marker(r["Id"], (r.get("Names") or ["/?"])[0].lstrip("/"), r.get("Labels") or {}, float(r.get("Created") or 0))
            for r in res.json()
        ]

    # -- changing ------------------------------------------------------------------------------
    def create_marker(self, name: str, labels: dict[str, str]) -> str:
        """Create (never start) an empty container whose name and labels carry state: the fleet
        lock and the last-applied record. Names are unique, so a second create gets NameTaken."""
        self._ensure_marker_image()
        result = self._call(
            "marker_create", f"create {name}",
            lambda: self.api.create_container(MARKER_IMAGE, command=["marker"], name=name, labels=labels,
                                              network_disabled=True),
        )
        return result["Id"]

    def remove_marker(self, marker_id: str, name: str = "") -> None:
        self._call("marker_remove", f"remove {name or marker_id[:12]}",
                   lambda: self.api.remove_container(marker_id, force=True))

    def _ensure_marker_image(self) -> None:
        if self.image_id(MARKER_IMAGE) is not None:
            return
        import io
        import tarfile

        buf = io.BytesIO()
        tarfile.open(fileobj=buf, mode="w").close()
        repo, tag = MARKER_IMAGE.split(":")
        self._call("import", "import the marker image",
                   lambda: self.api.import_image_from_data(buf.getvalue(), repository=repo, tag=tag,
                                                           changes=["LABEL botmaker.marker-image=1"]))

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

        name = f"botmaker-helper-{uuid.uuid4().hex[:12]}"
        host_config = self.api.create_host_config(
            mounts=[Mount(target=t, source=src, type="bind", read_only=ro) for src, t, ro in binds],
            network_mode="none", cap_drop=["ALL"], cap_add=list(cap_add) or None, read_only=True,
            security_opt=["no-new-privileges"],
        )
        created = self._call("helper", f"{what}: create helper container of {image}", lambda: self.api.create_container(
            image, entrypoint=argv[:1], command=argv[1:], name=name, user="0", environment=env or None,
            labels={"botmaker.helper": "true", **(labels or {})}, host_config=host_config, network_disabled=True,
        ))
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

    def pull(self, ref: str) -> None:
        repo, tag = _split_ref(ref)
        self._call("pull", f"pull {ref}", lambda: self.api.pull(repo, tag=tag))

    def create(self, bot: BotSpec, *, fleet: str, spec: dict[str, Any], spec_hash: str,
               secrets_dir: str | None, extra_labels: dict[str, str] | None = None) -> str:
        labels = dict(bot.labels)
        # for docker ps readers; an OpenClaw bot's model and channels live in its config (they
        # change by hot reload, and these labels could not follow)
        if bot.provider and not bot.is_openclaw:
            labels.update({f"botmaker.{k}": v for k, v in bot.provider if k in ("name", "model")})
            labels["botmaker.provider"] = labels.pop("botmaker.name", "")
        if bot.channels and not bot.is_openclaw:
            labels["botmaker.channels"] = ",".join(bot.channels)
        labels.update(extra_labels or {})
        labels.update({
            LABEL_MANAGED: "true",
            LABEL_BOT: bot.name,
            LABEL_FLEET: fleet,
            LABEL_SPEC_HASH: spec_hash,
            LABEL_SPEC: canonical_json(spec),
        })
        mounts = [
            Mount(target=v.target, source=v.source, type="bind" if v.is_bind else "volume", read_only=v.read_only)
            for v in bot.volumes
        ]
        source = secrets_source(bot, secrets_dir)
        if source:
            mounts.append(Mount(target=SECRETS_MOUNT, source=source, type="bind", read_only=True))
        port_bindings: dict[str, list[tuple[str, int]]] = {}
        for p in bot.ports:
            port_bindings.setdefault(f"{p.container_port}/{p.protocol}", []).append((p.host_ip, p.host_port))
        host_config = self.api.create_host_config(
            mounts=mounts,
            port_bindings=port_bindings or None,
            mem_limit=bot.memory_bytes,
            memswap_limit=bot.memory_bytes,  # a hard cap: no swap beyond the memory limit
            nano_cpus=bot.nano_cpus,
            restart_policy=_restart_policy(bot),
            network_mode=bot.network,
        )
        healthcheck = None
        if bot.healthcheck is not None:
            hc = bot.healthcheck
            healthcheck = DockerHealthcheck(
                test=list(hc.test), interval=hc.interval_ns or None, timeout=hc.timeout_ns or None,
                retries=hc.retries or None, start_period=hc.start_period_ns or None,
            )
        result = self._call(
            "create", f"create {bot.container_name}",
            lambda: self.api.create_container(
                image=bot.image,
                command=list(bot.command) if bot.command is not None else None,
                name=bot.container_name,
                hostname=bot.hostname,
                environment=[f"{k}={v}" for k, v in bot.env],
                user=bot.user or "",
                labels=labels,
                ports=[(p.container_port, p.protocol) for p in bot.ports] or None,
                host_config=host_config,
                healthcheck=healthcheck,
            ),
        )
        return result["Id"]

    def start(self, container_id: str, name: str = "") -> None:
        self._call("start", f"start {name or container_id[:12]}", lambda: self.api.start(container_id))

    def stop(self, container_id: str, name: str = "", timeout: int = 10) -> None:
        self._call("stop", f"stop {name or container_id[:12]}", lambda: self.api.stop(container_id, timeout=timeout))

    def remove(self, container_id: str, name: str = "") -> None:
        """Remove a container (force: it is stopped already or unwanted). Volumes are kept."""
        self._call("remove", f"remove {name or container_id[:12]}",
                   lambda: self.api.remove_container(container_id, force=True, v=False))

    def rename(self, container_id: str, new_name: str) -> None:
        self._call("rename", f"rename {container_id[:12]} to {new_name}", lambda: self.api.rename(container_id, new_name))

    def update(self, container_id: str, bot: BotSpec, name: str = "") -> None:
        """Change memory, cpus and restart policy in place (no restart). APIClient.update_container
        has no nano_cpus argument, so the body is sent as the Engine API defines it."""
        body: dict[str, Any] = {"RestartPolicy": _restart_policy(bot)}
        if bot.memory_bytes is not None:
            body["Memory"] = body["MemorySwap"] = bot.memory_bytes  # a hard cap, as at create
        if bot.nano_cpus is not None:
            body["NanoCpus"] = bot.nano_cpus

        def post() -> None:
            res = self.api._post_json(self.api._url("/containers/{0}/update", container_id), data=body)
            self.api._raise_for_status(res)

        self._call("update", f"update {name or container_id[:12]}", post)

    def wait_ready(self, container_id: str, *, timeout: float, settle: float, healthcheck: bool) -> ContainerStatus:
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


def _restart_policy(bot: BotSpec) -> dict[str, Any]:
    policy: dict[str, Any] = {"Name": bot.restart_policy if bot.restart_policy != "no" else ""}
    if bot.restart_policy == "on-failure":
        policy["MaximumRetryCount"] = bot.restart_max_retries
    return policy


def live_spec(data: dict[str, Any]) -> dict[str, Any]:
    """An inspect, normalised to the shape of hashing.container_spec, for drift comparison.

    Keys the daemon fills from the image (env, labels, command) cannot be told apart from
    the container's own; the planner compares only what the manifest sets for those.
    """
    config = data.get("Config") or {}
    host = data.get("HostConfig") or {}
    env = dict(item.split("=", 1) if "=" in item else (item, "") for item in (config.get("Env") or []))
    ports = []
    for key, bindings in (host.get("PortBindings") or {}).items():
        container_port, _, proto = key.partition("/")
        for b in bindings or []:
            ports.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}:{container_port}/{proto or 'tcp'}")
    volumes, secrets_mount = [], None
    for m in data.get("Mounts") or []:
        source = m.get("Source", "") if m.get("Type") == "bind" else m.get("Name", "")
        entry = f"{source}:{m.get('Destination')}:{'rw' if m.get('RW') else 'ro'}"
        if m.get("Destination") == SECRETS_MOUNT:
            secrets_mount = entry
        else:
            volumes.append(entry)
    hc = config.get("Healthcheck")
    restart = host.get("RestartPolicy") or {}
    policy = restart.get("Name") or "no"
    return {
        "image": config.get("Image"),
        "hostname": config.get("Hostname"),
        "command": config.get("Cmd"),
        "env": env,
        "user": config.get("User") or None,
        "ports": sorted(ports),
        "volumes": sorted(volumes),
        "secrets_mount": secrets_mount,
        "network": host.get("NetworkMode"),
        "healthcheck": None if not hc else {
            "test": hc.get("Test"), "interval": hc.get("Interval", 0), "timeout": hc.get("Timeout", 0),
            "retries": hc.get("Retries", 0), "startPeriod": hc.get("StartPeriod", 0),
        },
        "labels": config.get("Labels") or {},
        "memory": host.get("Memory") or None,
        "cpus": (host.get("NanoCpus") or 0) / 1e9 or None,
        "restart": f"on-failure:{restart.get('MaximumRetryCount') or 0}" if policy == "on-failure" else policy,
    }


def _split_ref(ref: str) -> tuple[str, str | None]:
    if "@" in ref:
        return ref, None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag
    return ref, "latest"
