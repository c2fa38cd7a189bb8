"""A per-fleet lock held on the engine itself, so runners on different machines exclude each other.

The lock is a never-started marker container named botmaker-lock.<fleet>: container names are
unique, so creating it is atomic and a second runner gets 409. Its labels say who holds it
(host, pid, user, CI job URL), since when, and until when; an expired lock can be taken over,
and `deployer unlock FLEET --force` removes one by hand.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from .engine import DockerEngine, NameTaken
from .problems import DeployerError

LOCK_PREFIX = "botmaker-lock."
L_LOCK = "botmaker.lock"
L_HOST, L_PID, L_USER = "botmaker.lock.host", "botmaker.lock.pid", "botmaker.lock.user"
L_JOB, L_STARTED, L_EXPIRES = "botmaker.lock.ci-job", "botmaker.lock.started", "botmaker.lock.expires"


class LockHeld(DeployerError):
    pass


def lock_name(fleet: str) -> str:
    return LOCK_PREFIX + fleet


def ci_job_url() -> str:
    env = os.environ
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return env.get("CI_JOB_URL") or env.get("BUILD_URL") or ""


def whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return str(os.getuid())


def _iso(label: str | None) -> str:
    """Epoch seconds (as a label stores them) as UTC ISO time; '?' when unreadable."""
    try:
        return datetime.fromtimestamp(float(label or ""), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return "?"


def describe_holder(labels: dict[str, str]) -> str:
    who = f"{labels.get(L_USER, '?')}@{labels.get(L_HOST, '?')} pid {labels.get(L_PID, '?')}"
    job = labels.get(L_JOB)
    return f"{who}{f' ({job})' if job else ''}, since {_iso(labels.get(L_STARTED))}, expires {_iso(labels.get(L_EXPIRES))}"


@dataclass
class FleetLock:
    engine: DockerEngine
    fleet: str
    ttl: float = 1800.0  # an apply that outlives this can be taken over: keep it above your slowest apply
    timeout: float = 0.0
    poll: float = 1.0
    marker_id: str | None = None
    took_over: str | None = None  # description of an expired holder we replaced

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            now = time.time()
            labels = {
                L_LOCK: self.fleet, L_HOST: socket.gethostname(), L_PID: str(os.getpid()), L_USER: whoami(),
                L_JOB: ci_job_url(), L_STARTED: f"{now:.0f}", L_EXPIRES: f"{now + self.ttl:.0f}",
            }
            try:
                self.marker_id = self.engine.create_marker(lock_name(self.fleet), labels)
                return
            except NameTaken:
                pass
            held = self.engine.find_marker(lock_name(self.fleet))
            if held is None:
                continue  # released between our create and our look: try again at once
            holder_id, holder_labels, _ = held
            try:
                expired = float(holder_labels.get(L_EXPIRES, "0")) < time.time()
            except ValueError:
                expired = True
            if expired:
                # Removing by ID: if another runner took over first, this removes nothing of theirs.
                self.took_over = describe_holder(holder_labels)
                try:
                    self.engine.remove_marker(holder_id, lock_name(self.fleet))
                except DeployerError:
                    pass
                continue
            if time.monotonic() >= deadline:
                waited = f" after waiting {self.timeout:.0f}s" if self.timeout else ""
                raise LockHeld(
                    f"fleet {self.fleet} is locked by {describe_holder(holder_labels)}{waited}; wait for it "
                    f"(--lock-timeout), or if that run is dead: deployer unlock {self.fleet} --force"
                )
            time.sleep(min(self.poll, max(0.05, deadline - time.monotonic())))

    def release(self) -> None:
        if self.marker_id is None:
            return
        try:
            self.engine.remove_marker(self.marker_id, lock_name(self.fleet))
        finally:
            self.marker_id = None

    def __enter__(self) -> "FleetLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def force_unlock(engine: DockerEngine, fleet: str) -> str | None:
    """Remove the fleet's lock whoever holds it; returns the holder it removed, or None."""
    held = engine.find_marker(lock_name(fleet))
    if held is None:
        return None
    engine.remove_marker(held[0], lock_name(fleet))
    return describe_holder(held[1])
