"""The bench's one clock: `timed()` gives the wall time of a call, `run_timed()` that of a command in
a fresh process (checked, with the tail of its output in the error when it fails)."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ParamSpec, TypeVar

REPO = Path(__file__).resolve().parent.parent

P = ParamSpec("P")
T = TypeVar("T")


def timed(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> tuple[float, T]:
    """(wall seconds, result) of fn(*args, **kwargs), on time.perf_counter."""
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


class CommandFailed(RuntimeError):
    """A timed command exited with a code it was not allowed, or ran past its timeout."""


def run_timed(cmd: Sequence[str], *, ok_codes: tuple[int, ...] | None = (0,), env: dict[str, str] | None = None,
              what: str = "", timeout: float | None = 600, stdin: str | None = None,
              cwd: Path = REPO) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run cmd to its end (output captured as text, from the repository root) and time it.
    ok_codes=None accepts every exit code (the caller judges); timeout=None waits as long as it takes."""
    name = what or shlex.join(cmd)
    try:
        took, proc = timed(lambda: subprocess.run(list(cmd), check=False, capture_output=True, text=True, cwd=cwd,
                                                  env=env, timeout=timeout, input=stdin))
    except subprocess.TimeoutExpired:
        raise CommandFailed(f"{name} did not finish within {timeout:.0f} s (killed)") from None
    if ok_codes is not None and proc.returncode not in ok_codes:
        tail = "\n".join((proc.stdout + "\n" + proc.stderr).strip().splitlines()[-15:])
        raise CommandFailed(f"{name} exited {proc.returncode}:\n{tail}")
    return took, proc
