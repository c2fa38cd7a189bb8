"""`python3 -m bench.children.floor_plan MANIFESTS SECRETS_ROOT FLEET`: the floor of item 2, a
plan's job done with bare tools: parse the same manifest files with libyaml's loader, import the
docker SDK, make the one label-filtered list call, read every secret file. Prints the number of
containers and of documents; its phases go to stderr (`BENCH_PHASES`)."""

from __future__ import annotations

import itertools
import os
import sys
import time

from bench.children import emit


def main(manifests: str, secrets_root: str, fleet: str) -> None:
    marks = [time.perf_counter()]
    import yaml

    docs = 0
    for name in sorted(os.listdir(manifests)):
        if name.endswith((".yaml", ".yml")):
            with open(os.path.join(manifests, name), "rb") as fh:
                docs += sum(1 for _ in yaml.load_all(fh, Loader=yaml.CSafeLoader))
    marks.append(time.perf_counter())
    import docker

    marks.append(time.perf_counter())
    client = docker.from_env()
    rows = client.containers.list(all=True, sparse=True, filters={"label": ["botmaker.fleet=" + fleet]})
    marks.append(time.perf_counter())
    read = 0
    for bot in sorted(os.listdir(secrets_root)):
        bot_dir = os.path.join(secrets_root, bot)
        if os.path.isdir(bot_dir):
            for name in os.listdir(bot_dir):
                with open(os.path.join(bot_dir, name), "rb") as fh:
                    read += len(fh.read())
    marks.append(time.perf_counter())
    print(len(rows), docs)
    labels = ["yaml import + parse", "import docker", "connect + list", "read secrets"]
    spans = [later - earlier for earlier, later in itertools.pairwise(marks)]
    emit("PHASES", {"phases": dict(zip(labels, spans, strict=True)), "not_seen": []})


if __name__ == "__main__":
    main(*sys.argv[1:4])
