"""`python3 -m bench.children.floor_list FLEET`: the old floor of a plan (items 2c and 5): import the
docker SDK, connect, make one label-filtered list call of the fleet's containers; prints their
number."""

from __future__ import annotations

import sys

import docker


def main(fleet: str) -> None:
    client = docker.from_env()
    rows = client.containers.list(all=True, sparse=True, filters={"label": ["botmaker.fleet=" + fleet]})
    print(len(rows))


if __name__ == "__main__":
    main(sys.argv[1])
