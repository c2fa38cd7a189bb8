"""`python3 measured_cli.py <deployer args>`: run the deployer CLI in this process and, at exit,
write this process's peak resident memory (VmHWM of /proc/self/status, in kB) to $MEASURE_OUT.

VmHWM belongs to the process's own address space since its exec, unlike a parent's view of a
child's ru_maxrss, which on Linux also counts the parent's memory at fork time.
"""

from __future__ import annotations

import atexit
import os
import sys


def _report_peak() -> None:
    out = os.environ.get("MEASURE_OUT")
    if not out:
        return
    with open("/proc/self/status") as status:
        peak = next((line.split()[1] for line in status if line.startswith("VmHWM:")), "0")
    with open(out, "w") as f:
        f.write(peak)


atexit.register(_report_peak)

if __name__ == "__main__":
    from deployer.cli import main

    main(args=sys.argv[1:], prog_name="deployer")
