"""Run `deployer <args>` in this process, counting the engine calls that change bot containers
and optionally dying by SIGKILL right after the k-th of them returned.

    CRASH_AFTER=k CRASH_LOG=/tmp/calls.log python3 crash_apply.py apply --yes --prune DIR

Environment:
    CRASH_AFTER  k >= 1: SIGKILL this process right after the k-th mutating call returns (so the
                 engine has done it); 0 or unset: never (only count)
    CRASH_LOG    file that gets one line "<n> <call name> <what>" per mutating call, written
                 (unbuffered) before the kill, so the test sees exactly what was done

A mutating call is one whose name is in deployer.backends.base.MUTATING (pull, create, start, stop,
update, rename, remove); the lock and record markers are counted apart by the engine and are
not mutating calls. A call that raises counts too (it may have reached the engine).
"""

from __future__ import annotations

import os
import signal
import sys
import threading

import deployer.backends.docker.engine as engine_module
from deployer.cli import main

CRASH_AFTER = int(os.environ.get("CRASH_AFTER") or 0)
CRASH_LOG = os.environ.get("CRASH_LOG")

_original_call = engine_module.DockerEngine._call
_count_lock = threading.Lock()
_count = 0
_log_fd = os.open(CRASH_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if CRASH_LOG else None


def _counting_call(self, name, what, fn):
    global _count
    try:
        return _original_call(self, name, what, fn)
    finally:
        if name in engine_module.MUTATING:
            with _count_lock:
                _count += 1
                n = _count
                if _log_fd is not None:
                    os.write(_log_fd, f"{n} {name} {what}\n".encode())
                if CRASH_AFTER and n == CRASH_AFTER:
                    os.kill(os.getpid(), signal.SIGKILL)


engine_module.DockerEngine._call = _counting_call

if __name__ == "__main__":
    sys.exit(main(args=sys.argv[1:], prog_name="deployer"))
