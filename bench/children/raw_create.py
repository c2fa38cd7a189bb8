"""`python3 -m bench.children.raw_create CONFIG.json PARALLELISM`: the floor of item 3, the bench's
containers created and started with the bare docker SDK, PARALLELISM at a time. CONFIG is what
bench.run's raw_create_config writes: per container its name, image, user, env, labels, host
port, bind mounts and memory limit."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
from docker.types import Mount


def create(api: docker.APIClient, c: dict[str, Any]) -> str:
    """Create one configured container (not started); its id. bench.run's raw replace uses it too."""
    host = api.create_host_config(
        mounts=[Mount(target=target, source=source, type="bind", read_only=ro) for source, target, ro in c["mounts"]],
        port_bindings={"18789/tcp": [("127.0.0.1", c["port"])]},
        mem_limit=c["memory"], memswap_limit=c["memory"], nano_cpus=500_000_000,
        restart_policy={"Name": "unless-stopped"}, network_mode="bridge")
    created = api.create_container(image=c["image"], name=c["name"], environment=c["env"], user=c["user"],
                                   labels=c["labels"], ports=[(18789, "tcp")], host_config=host)
    return str(created["Id"])


def main(config_file: str, parallelism: int) -> None:
    with open(config_file) as fh:
        config: list[dict[str, Any]] = json.load(fh)
    api = docker.from_env(max_pool_size=16).api

    def create_and_start(c: dict[str, Any]) -> None:
        api.start(create(api, c))

    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        list(pool.map(create_and_start, config))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
