"""`python3 -m bench.children.counted_cli [--settle SECONDS] <deployer args>`: the deployer CLI in
this process, as `python3 -m deployer <args>` runs it, with the engine calls it makes counted.

Every backend the CLI builds comes from its one factory, deployer.backends.open_backend; this
program wraps that factory and adds a call observer (Backend.call_observers) to what it builds.
At exit the counts by kind go to stderr as the last line (`BENCH_CALLS {...}`).

With --settle, every wait for a started unit (the contract's wait_ready) is told that settle
time instead of the applier's (ApplyOptions.settle, 1.0 s): what the settle wait costs, measured
without changing the deployer.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from typing import Any

import deployer.backends
from bench.children import emit
from deployer.backends.base import Backend, UnitStatus


class CallCounter:
    """A call observer: counts the calls it is told of, by kind (from the applier's threads too)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, kind: str, what: str) -> None:
        with self._lock:
            self.counts[kind] += 1


def with_settle(backend: Backend, told: float) -> None:
    """Every wait_ready of this backend is told `told` seconds of settle time, whatever the caller asked."""
    wait_ready = backend.wait_ready

    def settled(container_id: str, *, timeout: float, settle: float, healthcheck: bool) -> UnitStatus:
        return wait_ready(container_id, timeout=timeout, settle=told, healthcheck=healthcheck)

    setattr(backend, "wait_ready", settled)  # noqa: B010 - an instance attribute over the method, on purpose


def observe_backends(counter: CallCounter, settle: float | None) -> None:
    """Wrap the CLI's backend factory: what it builds is counted (and told the settle time)."""
    open_backend = deployer.backends.open_backend

    def counted_backend(*args: Any, **kwargs: Any) -> Backend:
        backend = open_backend(*args, **kwargs)
        backend.call_observers.append(counter)
        if settle is not None:
            with_settle(backend, settle)
        return backend

    deployer.backends.open_backend = counted_backend


def main(argv: list[str]) -> int:
    settle = None
    if argv[:1] == ["--settle"]:
        settle, argv = float(argv[1]), argv[2:]
    counter = CallCounter()
    observe_backends(counter, settle)
    from deployer.cli import main as cli_main  # the console script's entry point (deployer.cli:main)

    code = 0
    try:
        cli_main(args=argv, prog_name="deployer")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    emit("CALLS", dict(counter.counts))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
