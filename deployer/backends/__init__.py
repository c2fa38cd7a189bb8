"""Backends: where a fleet's bots run. `base` is the docker-free contract every backend meets;
`docker` is the single-host engine, `swarm` a Docker Swarm (one service per bot). The factory imports a backend only when it is asked for, so
commands that never touch an engine (validate, --help) never import the docker SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deployer.errors import UnknownBackend

if TYPE_CHECKING:
    from deployer.backends.base import Backend
    from deployer.backends.endpoint import Endpoint

BACKEND_KINDS = ("docker", "swarm")


def open_backend(kind: str = "docker", *, endpoint: Endpoint | None = None, max_pool_size: int = 16,
                 timeout: int = 120) -> Backend:
    """The one place a backend is chosen and built (lazily: it connects on its first call)."""
    if kind == "docker":
        from deployer.backends.docker.engine import DockerEngine

        return DockerEngine(endpoint=endpoint, max_pool_size=max_pool_size, timeout=timeout)
    if kind == "swarm":
        from deployer.backends.swarm.engine import SwarmEngine

        return SwarmEngine(endpoint=endpoint, max_pool_size=max_pool_size, timeout=timeout)
    raise UnknownBackend(f"unknown backend {kind!r} (known: {', '.join(BACKEND_KINDS)})")
