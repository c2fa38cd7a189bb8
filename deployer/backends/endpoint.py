"""Which Docker engine to talk to, resolved the way the docker CLI resolves it.

A pure function of the environment and the docker CLI's config files (no docker SDK, no
network): ``resolve(env, host=..., context=...) -> Endpoint``. Precedence, as in the docker CLI
(cli/command/cli.go resolveContextName):

  1. ``--host`` (conflicts with ``--context``: giving both is an error, as in the docker CLI)
  2. ``--context NAME``
  3. ``DOCKER_HOST`` (the "default" context; DOCKER_TLS_VERIFY / DOCKER_CERT_PATH apply)
  4. ``DOCKER_CONTEXT``
  5. ``currentContext`` in ``$DOCKER_CONFIG/config.json`` (default ``~/.docker``)
  6. the local socket ``unix:///var/run/docker.sock``

A named context is read from the context store: ``contexts/meta/<sha256(name)>/meta.json``
(its ``Endpoints.docker.Host`` and ``SkipTLSVerify``) and ``contexts/tls/<sha256(name)>/docker/``
(``ca.pem``, ``cert.pem``, ``key.pem``). The context "default" means 3/6.

Whether the engine reads files from *this* machine (so secret files can be checked with local
``lstat``) is decided here too (``Endpoint.files_local``): a unix socket or a TCP address on the
loopback is this machine; ``ssh://`` and other TCP hosts are not. ``DEPLOYER_SECRETS_CHECK=local``
or ``=engine`` overrides that guess (a unix socket forwarded from another host, a VM).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from deployer.errors import EndpointError

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_CONTEXT = "default"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
SECRETS_CHECK_ENV = "DEPLOYER_SECRETS_CHECK"


@dataclass(frozen=True)
class TLSFiles:
    ca: str | None  # CA bundle that signs the engine's certificate (None: do not verify)
    cert: str | None
    key: str | None
    verify: bool


@dataclass(frozen=True)
class Endpoint:
    host: str  # unix:///path, tcp://host:port, ssh://[user@]host[:port], npipe://...
    tls: TLSFiles | None = None
    context: str | None = None  # the docker context it came from; None for the default context
    source: str = "default"  # what chose it: --host, --context, DOCKER_HOST, DOCKER_CONTEXT, currentContext, default
    files_local: bool = True  # the engine reads host paths of this machine (secrets checked locally)

    @property
    def scheme(self) -> str:
        return self.host.split("://", 1)[0] if "://" in self.host else "tcp"

    def describe(self) -> str:
        """For headers and errors: 'ssh://deploy@host (context prod)'."""
        where = self.host
        if self.scheme == "tcp" and self.tls is not None:
            where += " (TLS" + (", verified" if self.tls.verify else ", NOT verified") + ")"
        return where + (f" (context {self.context})" if self.context else "")


def config_dir(env: Mapping[str, str]) -> Path:
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".docker"


def context_id(name: str) -> str:
    """The context store's directory name for a context: sha256 of its name (docker/cli store)."""
    return hashlib.sha256(name.encode()).hexdigest()


def resolve(env: Mapping[str, str], *, host: str | None = None, context: str | None = None) -> Endpoint:
    """The endpoint the docker CLI would use with these flags and this environment."""
    cfg = config_dir(env)
    if host and context:
        raise EndpointError("conflicting options: give either --host or --context, not both")
    if host:
        endpoint = _default_context(env, cfg, host, "--host")
    elif context and context != DEFAULT_CONTEXT:
        endpoint = _named_context(cfg, context, "--context")
    elif context == DEFAULT_CONTEXT:
        endpoint = _default_context(env, cfg, env.get("DOCKER_HOST") or DEFAULT_HOST, "--context")
    elif env.get("DOCKER_HOST"):
        endpoint = _default_context(env, cfg, env["DOCKER_HOST"], "DOCKER_HOST")
    elif env.get("DOCKER_CONTEXT"):
        name = env["DOCKER_CONTEXT"]
        endpoint = (_default_context(env, cfg, DEFAULT_HOST, "DOCKER_CONTEXT") if name == DEFAULT_CONTEXT
                    else _named_context(cfg, name, "DOCKER_CONTEXT"))
    else:
        current = _current_context(cfg)
        if current and current != DEFAULT_CONTEXT:
            endpoint = _named_context(cfg, current, f"currentContext in {cfg / 'config.json'}")
        else:
            endpoint = _default_context(env, cfg, DEFAULT_HOST, "default")
    return _with_files_local(endpoint, env)


def _with_files_local(endpoint: Endpoint, env: Mapping[str, str]) -> Endpoint:
    override = (env.get(SECRETS_CHECK_ENV) or "auto").strip().lower()
    if override not in ("auto", "local", "engine"):
        raise EndpointError(f"{SECRETS_CHECK_ENV} must be auto, local or engine (got {override!r})")
    local = override == "local" or (override == "auto" and is_this_machine(endpoint.host))
    return Endpoint(endpoint.host, endpoint.tls, endpoint.context, endpoint.source, local)


def is_this_machine(host: str) -> bool:
    """A unix socket or npipe is on this machine, so is a TCP address on the loopback; ssh:// is
    treated as another machine even for localhost (checking there is correct, only slower)."""
    scheme = host.split("://", 1)[0] if "://" in host else "tcp"
    if scheme in ("unix", "npipe"):
        return True
    if scheme in ("tcp", "http", "https"):
        return (urlsplit(host if "://" in host else "tcp://" + host).hostname or "") in LOOPBACK
    return False


def _check_host(host: str, source: str) -> str:
    host = host.strip()
    scheme = host.split("://", 1)[0] if "://" in host else ""
    if scheme not in ("unix", "tcp", "ssh", "npipe", "http", "https"):
        raise EndpointError(f"{source}: unsupported engine address {host!r}; use unix:///path, tcp://host:port "
                            "or ssh://user@host[:port]")
    if scheme == "ssh":
        parts = urlsplit(host)
        if not parts.hostname:
            raise EndpointError(f"{source}: {host!r} names no host; use ssh://user@host[:port]")
        if parts.path not in ("", "/") or parts.query:
            raise EndpointError(f"{source}: {host!r} has a path; use ssh://user@host[:port] (no path)")
        try:
            _ = parts.port  # urllib parses the port lazily: this raises on a bad one
        except ValueError:
            raise EndpointError(f"{source}: {host!r} has a bad port") from None
    return host


def _default_context(env: Mapping[str, str], cfg: Path, host: str, source: str) -> Endpoint:
    """DOCKER_HOST (or --host) with DOCKER_TLS_VERIFY / DOCKER_TLS / DOCKER_CERT_PATH, as the CLI reads
    them: any non-empty DOCKER_TLS_VERIFY means verify; certificates default to the config dir."""
    host = _check_host(host, source)
    verify = bool(env.get("DOCKER_TLS_VERIFY"))
    tls_on = verify or bool(env.get("DOCKER_TLS"))
    tls = None
    if tls_on and host.startswith(("tcp://", "https://")):
        cert_dir = Path(env.get("DOCKER_CERT_PATH") or cfg)
        where = "DOCKER_CERT_PATH" if env.get("DOCKER_CERT_PATH") else f"the docker config dir {cfg}"
        files = {n: cert_dir / f"{n}.pem" for n in ("ca", "cert", "key")}
        if verify and not files["ca"].is_file():
            raise EndpointError(f"DOCKER_TLS_VERIFY is set but {files['ca']} is missing (certificates come from {where})")
        has_client = files["cert"].is_file() and files["key"].is_file()
        if files["cert"].is_file() != files["key"].is_file():
            missing = files["key"] if files["cert"].is_file() else files["cert"]
            raise EndpointError(f"TLS client certificate incomplete: {missing} is missing (from {where})")
        tls = TLSFiles(
            ca=str(files["ca"]) if verify else None,
            cert=str(files["cert"]) if has_client else None,
            key=str(files["key"]) if has_client else None,
            verify=verify,
        )
    return Endpoint(host, tls, None, source)


def _current_context(cfg: Path) -> str | None:
    path = cfg / "config.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EndpointError(f"cannot read the docker CLI config {path}: {exc}") from None
    current = data.get("currentContext") if isinstance(data, dict) else None
    return current if isinstance(current, str) and current else None


def _named_context(cfg: Path, name: str, source: str) -> Endpoint:
    meta = cfg / "contexts" / "meta" / context_id(name) / "meta.json"
    try:
        data = json.loads(meta.read_text())
    except FileNotFoundError:
        raise EndpointError(f"docker context {name!r} (from {source}) not found: no {meta}; "
                            "list them with: docker context ls") from None
    except (OSError, ValueError) as exc:
        raise EndpointError(f"docker context {name!r}: cannot read {meta}: {exc}") from None
    docker_ep = ((data.get("Endpoints") or {}).get("docker") or {}) if isinstance(data, dict) else {}
    host = docker_ep.get("Host")
    if not isinstance(host, str) or not host:
        raise EndpointError(f"docker context {name!r}: {meta} has no docker endpoint Host")
    host = _check_host(host, f"docker context {name!r}")
    tls_dir = cfg / "contexts" / "tls" / context_id(name) / "docker"
    files = {n: tls_dir / f"{n}.pem" for n in ("ca", "cert", "key")}
    skip = bool(docker_ep.get("SkipTLSVerify"))
    tls = None
    if any(f.is_file() for f in files.values()) or (skip and host.startswith("tcp://")):
        if not skip and host.startswith("tcp://") and not files["ca"].is_file():
            raise EndpointError(f"docker context {name!r}: TLS material in {tls_dir} has no ca.pem")
        has_client = files["cert"].is_file() and files["key"].is_file()
        tls = TLSFiles(
            ca=str(files["ca"]) if files["ca"].is_file() and not skip else None,
            cert=str(files["cert"]) if has_client else None,
            key=str(files["key"]) if has_client else None,
            verify=not skip,
        )
    return Endpoint(host, tls if host.startswith(("tcp://", "https://")) else None, name, source)
