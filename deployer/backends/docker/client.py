"""The docker SDK client for an endpoint (unix socket, tcp with TLS, ssh through the system ssh
client) and the one place docker errors become `EngineError`s of the contract, one line each."""

from __future__ import annotations

import email.utils
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import docker
import docker.errors
import requests
import requests.adapters

from deployer.backends.endpoint import Endpoint
from deployer.errors import EngineError, NameTaken, NotFound, Unreachable


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def explain(exc: Exception, what: str, where: str | None = None) -> EngineError:
    where = where or docker_host()
    transport = transport_failure(exc, where)
    if transport is not None:
        return Unreachable(f"{what}: {transport}")
    if isinstance(exc, docker.errors.APIError):
        detail = str(exc.explanation or exc).strip().splitlines()[0] if (exc.explanation or str(exc)) else ""
        status = exc.status_code
        low = detail.lower()
        if "port is already allocated" in low or "address already in use" in low:
            return EngineError(f"{what}: host port already in use ({detail})")
        if "bind source path does not exist" in low or "invalid mount config" in low:
            return EngineError(f"{what}: bad bind source ({detail})")
        if status == 409 and ("is already in use" in low or "already exists" in low):  # containers; configs
            return NameTaken(f"{what}: name already taken by another container ({detail})")
        if status == 404:
            return NotFound(f"{what}: not found ({detail})")
        return EngineError(f"{what}: {detail or exc}")
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return explain(as_api_error(exc), what, where)
    if isinstance(exc, docker.errors.DockerException):
        return Unreachable(f"{what}: cannot reach the Docker engine at {where} ({first_line(exc)})")
    if isinstance(exc, (ConnectionError, OSError)):
        return Unreachable(f"{what}: cannot reach the Docker engine at {where} ({first_line(exc)})")
    return EngineError(f"{what}: {first_line(exc)}")


def as_api_error(exc: requests.HTTPError) -> docker.errors.APIError:
    """An HTTPError of a raw call as the SDK's APIError, explained by the engine's own message
    (the body's "message", else its text): whatever the body is (JSON, HTML, empty)."""
    res = exc.response
    explanation = ""
    if res is not None:
        try:
            body = res.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            explanation = str(body.get("message") or "")
        else:
            explanation = (res.text or "").strip()
    return docker.errors.APIError(str(exc), response=res, explanation=explanation or None)


def first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def transport_failure(exc: BaseException, where: str = "") -> str | None:
    """The one line for an ssh or TLS failure buried in requests/urllib3 wrappers, else None."""
    import ssl

    from deployer.backends.sshconn import SSHFailure

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
        return (f"{who}: the engine refused our client certificate ({reason.lower() or first_line(e)}); "
                "is cert.pem signed by the CA the engine trusts (--tlscacert)?")
    if "UNEXPECTED_EOF" in reason or "EOF occurred in violation of protocol" in text:
        return (f"{who}: the engine ended the handshake, so it refused our client certificate (or wants one); "
                "is cert.pem signed by the CA the engine trusts (--tlscacert)?")
    if "WRONG_VERSION_NUMBER" in reason or "record layer failure" in text.lower():
        return f"{who}: the engine does not speak TLS on that port (is it plain tcp, or the wrong port?)"
    return f"{who}: {first_line(e)}"


def make_client(endpoint: Endpoint, *, timeout: int, max_pool_size: int) -> docker.APIClient:
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
        from deployer.backends.sshconn import SSHAdapter

        adapter = SSHAdapter(url, timeout=timeout, max_pool_size=max_pool_size)
        # The base class is given a placeholder address it never dials and the server's API
        # version, asked first over the same adapter (its connection is pooled and reused).
        super().__init__(base_url="tcp://127.0.0.1:9", version=_server_api_version(adapter, timeout),
                         timeout=timeout, max_pool_size=max_pool_size)
        self.mount("http+docker://ssh", adapter)
        self.base_url = "http+docker://ssh"


def _server_api_version(adapter: requests.adapters.HTTPAdapter, timeout: int) -> str:
    session = requests.Session()
    session.mount("http+docker://ssh", adapter)
    res = session.get("http+docker://ssh/version", timeout=timeout)
    res.raise_for_status()
    return str(res.json()["ApiVersion"])


def proxy_environment(endpoint: Endpoint) -> Callable[[list[str]], list[str]]:
    """What the SDK's create_container did to every container's Env: the docker CLI's proxies
    (config.json `proxies`, for this daemon's host or `default`) prepended, so a bot behind a
    proxy keeps its egress; variables the bot sets itself come later and win."""
    from docker.utils.config import load_general_config
    from docker.utils.proxy import ProxyConfig

    proxies = load_general_config().get("proxies") or {}
    chosen = proxies.get(endpoint.host) or proxies.get("default") or {}
    return ProxyConfig.from_dict(chosen).inject_proxy_environment


class CountedCalls:
    """Every engine call of a backend: counted by kind, mapped to one EngineError line by
    explain(), and told to the call observers (whether it failed or not)."""

    calls: Counter[str]
    call_observers: list[Callable[[str, str], None]]
    endpoint: Endpoint
    _lock: threading.Lock

    def _counted(self, name: str, what: str, fn: Callable[[], Any]) -> Any:
        with self._lock:
            self.calls[name] += 1
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - mapped to one line
            raise explain(exc, what, self.endpoint.describe()) from None
        finally:
            for observe in self.call_observers:
                observe(name, what)


def connect(endpoint: Endpoint, *, timeout: int, max_pool_size: int, engine: str = "the Docker engine",
            hint: str = "is dockerd running and DOCKER_HOST (or the docker context) right?",
            ask_info: bool = False) -> tuple[docker.APIClient, dict[str, Any] | None]:
    """The client for an endpoint (and, with ask_info, the engine's /info, which a swarm backend
    reads to check it talks to a manager), or Unreachable in one line: every failure here means
    the engine could not be reached."""
    try:
        client = make_client(endpoint, timeout=timeout, max_pool_size=max_pool_size)
        return client, (client.info() if ask_info else None)
    except Exception as exc:  # noqa: BLE001 - every failure here means "unreachable"
        transport = transport_failure(exc, endpoint.host)
        if transport is not None:
            raise Unreachable(f"cannot reach {engine} at {endpoint.describe()}: {transport}") from None
        raise Unreachable(f"cannot reach {engine} at {endpoint.describe()} ({first_line(exc)}); {hint}") from None


def engine_clock(res: requests.Response, sent: float) -> float:
    """The engine's clock at the moment of a list, from its answer's Date header (written after the
    list was taken: minus the round trip it is no later than that moment, so a marker's age is
    never overestimated); this machine's clock when the header is missing."""
    try:
        return email.utils.parsedate_to_datetime(res.headers["Date"]).timestamp() - (time.monotonic() - sent)
    except (KeyError, TypeError, ValueError):
        return time.time() - (time.monotonic() - sent)


def raw(api: docker.APIClient, method: str, path: str, **kwargs: Any) -> requests.Response:
    """One Engine API request the SDK does not wrap as we need it (update with NanoCpus, a list
    whose Date header we read, swarm's spec-preserving posts): sent with requests' public
    interface on the client's base_url and api_version, with the client's timeout (a stalled
    engine must not hang the lock), raising HTTPError for explain() to map."""
    res = api.request(method, f"{api.base_url}/v{api.api_version}{path}", timeout=api.timeout, **kwargs)
    res.raise_for_status()
    return res
