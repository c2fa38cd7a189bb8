"""`python3 -m bench.children.cli_phases plan|apply <deployer args>`: one run of the deployer CLI in
this process, with the wall time of its phases. Reported on stderr's last line as
`BENCH_PHASES {"phases": {label: seconds}, "not_seen": [labels]}`.

A phase is the time spent in one of the deployer's public stage functions (load_fleet, gather,
prepare, plan, ...), wrapped here where the CLI looks them up. The deployer offers no tracing
hook, so a phase whose function the CLI no longer calls is reported as not seen rather than as
0 s: the wrapping cannot go stale in silence.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from bench.children import emit
from bench.timing import timed

P = ParamSpec("P")
T = TypeVar("T")
IMPORTS = "imports (click, deployer, docker SDK, jsonschema-rs)"


class PhaseClock:
    """Wall seconds per phase label, summed over every call of the wrapped functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.expected: list[str] = []

    def wrap(self, label: str, fn: Callable[P, T]) -> Callable[P, T]:
        self.expected.append(label)

        def clocked(*args: P.args, **kwargs: P.kwargs) -> T:
            took, result = timed(fn, *args, **kwargs)
            self.seconds[label] = self.seconds.get(label, 0.0) + took
            return result

        return clocked

    def report(self) -> None:
        emit("PHASES", {"phases": self.seconds, "not_seen": [p for p in self.expected if p not in self.seconds]})


def clock_plan(clock: PhaseClock) -> None:
    """A no-op plan: load and validate, observe, secrets, the planner, the report."""
    import jsonschema_rs  # noqa: F401 - imported up front, with the rest, so the phases below exclude it

    import deployer.backends.docker.engine  # noqa: F401 - likewise
    from deployer.cli import render
    from deployer.flows import prepare
    from deployer.runtime import observe

    prepare.load_fleet = clock.wrap("load + validate (fast path)", prepare.load_fleet)
    observe.gather = clock.wrap("observe (connect, one list call, image inspect)", observe.gather)
    prepare.check_fleet_secrets = clock.wrap("secrets checks + fingerprints", prepare.check_fleet_secrets)
    prepare.plan = clock.wrap("planner", prepare.plan)
    render.render_plan = clock.wrap("render", render.render_plan)


def clock_apply(clock: PhaseClock) -> None:
    """An apply: what comes before the first change, the applier's run, and what comes after it."""
    import jsonschema_rs  # noqa: F401 - imported up front, with the rest, so the phases below exclude it

    import deployer.backends.docker.engine  # noqa: F401 - likewise
    from deployer.flows import prepare
    from deployer.runtime import stamps
    from deployer.runtime.applier import Applier
    from deployer.runtime.lock import FleetLock

    prepare.load_fleet = clock.wrap("load + validate", prepare.load_fleet)
    prepare.prepare = clock.wrap("observe + secrets + plan", prepare.prepare)
    FleetLock.acquire = clock.wrap("lock", FleetLock.acquire)  # type: ignore[method-assign]
    Applier.apply = clock.wrap("applier (create, start, wait: settle included)", Applier.apply)  # type: ignore[method-assign]
    stamps.write_record = clock.wrap("last-applied record", stamps.write_record)
    FleetLock.release = clock.wrap("unlock", FleetLock.release)  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    clock = PhaseClock()
    {"plan": clock_plan, "apply": clock_apply}[argv[0]](clock)
    from deployer.cli import main as cli_main  # the console script's entry point (deployer.cli:main)

    clock.seconds[IMPORTS] = time.perf_counter() - started
    code = 0
    try:
        cli_main(args=argv, prog_name="deployer")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    clock.seconds["total in process"] = time.perf_counter() - started
    clock.report()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
