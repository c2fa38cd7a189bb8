"""Helpers of the reliability suite: run the deployer in a subprocess (optionally through the
crash wrapper), read the wrapper's call log, and put a test fleet back to nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from tests.support.engine_harness import CONTAINER_PREFIX, FLEET_LABEL
from tests.support.fleetkit import remove_markers

HERE = Path(__file__).resolve().parent
WRAPPER = HERE / "crash_apply.py"
REPO = HERE.parent.parent


@dataclass
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    calls: list[str]  # the wrapper's log: "<n> <name> <what>" per mutating call

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return (f"deployer {' '.join(self.args)} -> rc {self.returncode} in {self.seconds:.1f}s\n"
                f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}\n--- mutating calls\n"
                + "\n".join(self.calls))


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CRASH_AFTER", None)
    env.pop("CRASH_LOG", None)
    env["NO_COLOR"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def start_deployer(*args: str, log: Path | None = None, crash_after: int = 0,
                   env: Mapping[str, str] | None = None, plain: bool = False) -> subprocess.Popen:
    """`deployer <args>` in its own process: through the counting/crashing wrapper, or with
    plain=True exactly as an operator runs it (`python3 -m deployer`, nothing patched)."""
    extra = dict(env or {})
    if plain:
        assert log is None and not crash_after, "a plain run has no call log and never crashes"
        command = [sys.executable, "-m", "deployer", *args]
    else:
        extra["CRASH_AFTER"] = str(crash_after)
        if log is not None:
            extra["CRASH_LOG"] = str(log)
        command = [sys.executable, str(WRAPPER), *args]
    return subprocess.Popen(
        command, cwd=str(REPO), env=_env(extra),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(proc: subprocess.Popen, args: tuple[str, ...], log: Path | None, started: float,
           timeout: float = 120) -> Run:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"deployer {' '.join(args)} did not finish within {timeout}s\n{out}\n{err}")
    return Run(args, proc.returncode, out, err, time.monotonic() - started, read_log(log))


def run_deployer(*args: str, log: Path | None = None, crash_after: int = 0,
                 env: Mapping[str, str] | None = None, timeout: float = 120, plain: bool = False) -> Run:
    started = time.monotonic()
    proc = start_deployer(*args, log=log, crash_after=crash_after, env=env, plain=plain)
    return finish(proc, args, log, started, timeout)


def read_log(log: Path | None) -> list[str]:
    if log is None or not log.exists():
        return []
    return [line for line in log.read_text().splitlines() if line.strip()]


def fleet_containers(client: Any, fleet: str) -> list[Any]:
    """Every container of the fleet (label botmaker.fleet=<fleet>, or name botmaker-<fleet>...),
    inspected, sorted by name.

    Unlike engine_harness.fleet_containers this never inspects other people's containers (it
    lists with filters, then inspects only ours), so a container removed meanwhile by a test
    running next to us on the shared engine cannot make it fail with 404.
    """
    import docker.errors

    ids: dict[str, None] = {}
    for row in client.api.containers(all=True, filters={"label": f"{FLEET_LABEL}={fleet}"}):
        ids[row["Id"]] = None
    prefix = f"{CONTAINER_PREFIX}{fleet}"
    for row in client.api.containers(all=True, filters={"name": prefix}):
        if any(n.lstrip("/").startswith(prefix) for n in row.get("Names") or []):
            ids[row["Id"]] = None
    found = []
    for cid in ids:
        try:
            found.append(client.containers.get(cid))
        except docker.errors.NotFound:
            continue  # removed since the list (by the deployer under test)
    return sorted(found, key=lambda c: c.name)


def fleet_container_names(client: Any, fleet: str) -> list[str]:
    return [c.name for c in fleet_containers(client, fleet)]


def reset_fleet(client: Any, fleet: str) -> None:
    """Remove every container of the test fleet (bots, asides) and its lock/record markers."""
    import docker.errors

    remove_markers(client, fleet)
    for c in fleet_containers(client, fleet):
        try:
            c.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
    left = fleet_container_names(client, fleet)
    assert not left, f"could not remove {left}"
