"""The programs bench.run starts in fresh processes, each run as `python3 -m bench.children.<name>`
from the repository root. They drive the deployer through its public seams (the CLI, the backend
factory deployer.backends.open_backend and the call observers of what it builds, the pure
functions that shape a unit) and report back on their last stderr line, tagged (`emit`/`read`).

    counted_cli     the CLI, counting its engine calls; optionally every settle wait told 0 s
    cli_phases      the CLI with the wall time of its phases (plan or apply)
    floor_list      floor: import the docker SDK, connect, one label-filtered list call
    floor_plan      floor: parse the manifests with libyaml, list, read every secret file
    raw_create      floor: create and start the bench's containers with the bare docker SDK
    maxrss          peak RSS of one command run under it
    record_fleet    the list response of a fleet whose every bot has its container
    replay_engine   an engine on a unix socket that answers from a recorded list response
"""

from __future__ import annotations

import json
import sys
from typing import Any


def emit(tag: str, data: Any) -> None:
    """One tagged JSON line on stderr, read back by `read` in the parent."""
    sys.stderr.write(f"BENCH_{tag} {json.dumps(data)}\n")
    sys.stderr.flush()


def read(stderr: str, tag: str) -> Any:
    """The data of the last line `emit(tag, ...)` wrote in a child's stderr, or None."""
    prefix = f"BENCH_{tag} "
    for line in reversed(stderr.splitlines()):
        if line.startswith(prefix):
            return json.loads(line[len(prefix):])
    return None
