"""`python3 -m bench.children.maxrss <command...>`: run the command and print, as JSON, its exit code
and peak resident memory (ru_maxrss of RUSAGE_CHILDREN, kB), read in this fresh wrapper process
so that no other child of the bench is counted."""

from __future__ import annotations

import json
import resource
import subprocess
import sys


def main(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"rc": proc.returncode, "maxrss_kb": peak_kb}))


if __name__ == "__main__":
    main(sys.argv[1:])
