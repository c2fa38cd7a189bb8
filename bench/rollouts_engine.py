#!/usr/bin/env python3
"""Issue 14's figures on the real engine (stand-in image), printed, nothing asserted:

    python3 -m bench.rollouts_engine [--only lock,takeover,rollback] [--slow-bots 15] [--bots 100]

  lock      an apply of --slow-bots replaces, one at a time (--parallelism 1), each waiting ~6 s for
            a healthcheck, with --lock-ttl 5: how long it held its lock (the lock marker's ID
            sampled every 0.2 s must never change), how many heartbeats, and a plain apply tried
            every 10 s (must exit 1 naming the holder)
  takeover  three times: a holder SIGKILLed mid-apply (--lock-ttl 5), a waiter already waiting
            with --lock-timeout: seconds from the kill to the waiter's lock marker
  rollback  --bots bots applied with V=1, then V=2; wall time of `deployer rollback --to <first>
            --yes` (fresh process, --parallelism 4), next to the V=2 apply at the same parallelism

Fleets are named bench14-*; everything is removed afterwards (by label and exact name).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import yaml

from bench.timing import REPO, run_timed
from deployer.backends import open_backend
from deployer.core.vocabulary import LABEL_LOCK as LABEL_LOCK
from deployer.runtime.lock import FleetLock
from tests.support.engine_harness import FLEET_LABEL, MARKER_LABELS, STAND_IN_IMAGE

IMAGE = STAND_IN_IMAGE
HC = {"test": ["CMD", "/bin/true"], "interval": "6s", "timeout": "2s", "retries": 3}


def write(dir_: Path, fleet: str, bots: dict[str, dict]) -> str:
    if dir_.exists():
        for f in dir_.iterdir():
            f.unlink()
    dir_.mkdir(parents=True, exist_ok=True)
    (dir_ / "fleet.yaml").write_text(yaml.safe_dump({"apiVersion": "botmaker/v1", "kind": "Fleet",
                                                     "metadata": {"name": fleet}}))
    docs = [{"apiVersion": "botmaker/v1", "kind": "Bot", "metadata": {"name": f"{fleet}-{k}"},
             "spec": {"image": IMAGE, "restart": "no", "runtime": "container", **v}} for k, v in bots.items()]
    (dir_ / "bots.yaml").write_text(yaml.safe_dump_all(docs))
    return str(dir_)


def deployer(*args: str, check: bool = True) -> tuple[int, str, float]:
    """Exit code, output and seconds of one `deployer <args>`; with check, it must succeed."""
    took, p = run_timed([sys.executable, "-m", "deployer", *args], ok_codes=None, timeout=None,
                        env={**os.environ, "NO_COLOR": "1"})
    if check and p.returncode != 0:
        raise SystemExit(f"deployer {' '.join(args)} -> {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p.returncode, p.stdout + p.stderr, took


def start(*args: str) -> subprocess.Popen:
    """A deployer process whose output goes to a temporary file (a pipe nobody reads would fill up
    and block it); read it with output(proc) once it has ended."""
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([sys.executable, "-m", "deployer", *args], cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "NO_COLOR": "1"})
    proc.log = log  # type: ignore[attr-defined]
    return proc


def output(proc: subprocess.Popen) -> str:
    proc.log.seek(0)  # type: ignore[attr-defined]
    return proc.log.read()  # type: ignore[attr-defined]


def cleanup(client: docker.DockerClient, fleet: str) -> None:
    for label in (FLEET_LABEL, *MARKER_LABELS):
        for row in client.api.containers(all=True, filters={"label": f"{label}={fleet}"}):
            try:
                client.api.remove_container(row["Id"], force=True)
            except docker.errors.NotFound:
                pass


def lock_markers(client: docker.DockerClient, fleet: str) -> dict[str, str]:
    rows = client.api.containers(all=True, filters={"label": f"{LABEL_LOCK}={fleet}"})
    return {r["Names"][0].lstrip("/"): r["Id"] for r in rows}


def bench_lock(client: docker.DockerClient, tmp: Path, n: int) -> None:
    fleet = f"bench14-lock-{secrets.token_hex(3)}"
    try:
        path = write(tmp / "lock", fleet, {f"b{i}": {} for i in range(n)})
        deployer("apply", "--yes", "--parallelism", "8", path)
        write(tmp / "lock", fleet, {f"b{i}": {"healthcheck": HC} for i in range(n)})
        t0 = time.monotonic()
        proc = start("apply", "--yes", "--parallelism", "1", "--wait-timeout", "60", "--lock-ttl", "5", path)
        first = None
        beats: set[str] = set()
        refused, changed, next_try = 0, 0, t0 + 10
        while proc.poll() is None:
            m = lock_markers(client, fleet)
            lid = m.get(f"botmaker-lock.{fleet}")
            first = first or lid
            if lid and lid != first:
                changed += 1
            beats |= {k for k in m if ".beat." in k}
            if time.monotonic() > next_try:
                code, out, _ = deployer("apply", "--yes", path, check=False)
                refused += code == 1 and "is locked by" in out
                next_try = time.monotonic() + 10
            time.sleep(0.2)
        held = time.monotonic() - t0
        out = output(proc)
        ok = "Apply finished: " + f"{n} succeeded, 0 failed." in out
        print(f"lock: apply of {n} slow replaces held its lock {held:.1f}s = {held / 5:.0f} TTLs (--lock-ttl 5), "
              f"{len(beats)} heartbeats, lock ID changed {changed}x, {refused} plain applies refused, "
              f"exit {proc.returncode}, all succeeded: {ok}", flush=True)
    finally:
        cleanup(client, fleet)


def acquire_then_stamp(lock: FleetLock, stamps: list[float]) -> None:
    """Wait for the lock, then note when it was had."""
    lock.acquire()
    stamps.append(time.monotonic())


def bench_takeover(client: docker.DockerClient, tmp: Path, rounds: int = 3) -> None:
    """The holder is a real `deployer apply` process; the waiter is a FleetLock in this process,
    already polling when the holder is killed, so the figure is the lock protocol's alone (not
    the startup of a second Python process on a loaded machine)."""
    import threading

    for r in range(rounds):
        fleet = f"bench14-take-{secrets.token_hex(3)}"
        try:
            path = write(tmp / f"take{r}", fleet, {"a": {}})
            deployer("apply", "--yes", path)
            write(tmp / f"take{r}", fleet, {"a": {"healthcheck": HC}})
            holder = start("apply", "--yes", "--wait-timeout", "60", "--lock-ttl", "5", path)
            while not any(".beat." in k for k in lock_markers(client, fleet)):
                time.sleep(0.05)
            engine = open_backend("docker")
            waiter = FleetLock(engine, fleet, ttl=5, timeout=120, poll=0.2)
            got: list[float] = []
            thread = threading.Thread(target=acquire_then_stamp, args=(waiter, got))
            thread.start()
            while engine.calls["list"] == 0:
                time.sleep(0.01)
            time.sleep(0.5 + r * 0.5)  # killed at different points of its beat interval
            holder.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            holder.wait()
            thread.join(120)
            took = got[0] - killed
            print(f"takeover {r + 1}: SIGKILLed holder's lock taken {took:.1f}s after the kill (TTL 5s, beat "
                  f"every 1.25s, waiter polling every 0.2s); took over: {bool(waiter.took_over)}", flush=True)
            waiter.release()
        finally:
            cleanup(client, fleet)


def bench_rollback(client: docker.DockerClient, tmp: Path, n: int) -> None:
    fleet = f"bench14-rb-{secrets.token_hex(3)}"
    try:
        path = write(tmp / "rb", fleet, {f"b{i:03d}": {"env": {"V": "1"}} for i in range(n)})
        _, _, t1 = deployer("apply", "--yes", "--parallelism", "8", "--revision", "bench-v1", path)
        write(tmp / "rb", fleet, {f"b{i:03d}": {"env": {"V": "2"}} for i in range(n)})
        _, _, t2 = deployer("apply", "--yes", "--parallelism", "4", "--revision", "bench-v2", path)
        _, hist, _ = deployer("history", fleet, "--format", "json")
        first = min(e["entry"] for e in json.loads(hist)["entries"])
        code, out, t3 = deployer("rollback", fleet, "--to", str(first), "--yes", "--parallelism", "4")
        v1 = sum(1 for row in client.api.containers(all=True, filters={"label": f"{FLEET_LABEL}={fleet}"})
                 if "V=1" in (client.api.inspect_container(row["Id"])["Config"]["Env"] or []))
        _, _, t4 = deployer("apply", "--yes", "--parallelism", "4", "--revision", "bench-v2", path)
        print(f"rollback: {n} bots, `deployer rollback --to {first} --yes --parallelism 4` took {t3:.1f}s "
              f"(exit {code}; {v1}/{n} bots back on V=1); the same {n} replaces by apply at --parallelism 4: "
              f"{t2:.1f}s before it and {t4:.1f}s after it (rolling forward); first create at --parallelism 8 "
              f"{t1:.1f}s; load average now {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        cleanup(client, fleet)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="lock,takeover,rollback")
    ap.add_argument("--slow-bots", type=int, default=15)
    ap.add_argument("--bots", type=int, default=100)
    args = ap.parse_args()
    client = docker.from_env(timeout=120)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        only = args.only.split(",")
        if "lock" in only:
            bench_lock(client, Path(tmp), args.slow_bots)
        if "takeover" in only:
            bench_takeover(client, Path(tmp))
        if "rollback" in only:
            bench_rollback(client, Path(tmp), args.bots)


if __name__ == "__main__":
    main()
