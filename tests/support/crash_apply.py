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

It sees the calls through the backend contract: every backend the CLI builds comes from
deployer.backends.open_backend, and this wrapper adds a call observer to each (Backend.call_observers,
told after every call); nothing inside the backend is patched.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

import deployer.backends as backends
from deployer.backends.base import MUTATING
from deployer.cli import main

CRASH_AFTER = int(os.environ.get("CRASH_AFTER") or 0)
CRASH_LOG = os.environ.get("CRASH_LOG")

_open_backend = backends.open_backend
_count_lock = threading.Lock()
_count = 0
_log_fd = os.open(CRASH_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if CRASH_LOG else None


def _observe(name: str, what: str) -> None:
    """A call observer of the backend (told after every call, failed or not)."""
    global _count
    if name not in MUTATING:
        return
    with _count_lock:
        _count += 1
        n = _count
        if _log_fd is not None:
            os.write(_log_fd, f"{n} {name} {what}\n".encode())
        if CRASH_AFTER and n == CRASH_AFTER:
            os.kill(os.getpid(), signal.SIGKILL)


def _observed_backend(*args: Any, **kwargs: Any) -> Any:
    """The one backend factory the CLI uses, with the observer attached to what it builds."""
    engine = _open_backend(*args, **kwargs)
    engine.call_observers.append(_observe)
    return engine


backends.open_backend = _observed_backend

if __name__ == "__main__":
    sys.exit(main(args=sys.argv[1:], prog_name="deployer"))
