#!/usr/bin/env python3
"""Extra wall time of a no-op `deployer plan` over ssh:// vs the local socket, same run.

    python3 -m bench.remote_noop [--bots N] [--reps K]

Starts the test kit's private sshd on 127.0.0.1 (tests/support/remotekit.py; killed by pid at the
end), deploys an N-bot fleet (half with one secret) once, then times K fresh-process no-op
plans each way, interleaved: `python -m deployer plan DIR` with DOCKER_HOST=unix:///var/run/docker.sock
and with DOCKER_HOST=ssh://root@127.0.0.1:PORT (which also runs the secrets helper container on
the "remote" host), and over ssh with DEPLOYER_SECRETS_CHECK=local to split the transport's cost
from the helper's. Prints medians and the ratio. Asserts nothing; the machine is shared, so
read the ratio, not the absolute numbers. Cleans up its fleet by label.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.timing import REPO, run_timed
from deployer.core.vocabulary import LOCK_PREFIX, RECORD_PREFIX
from tests.support.engine_harness import FLEET_LABEL, STAND_IN_IMAGE
from tests.support.fleetkit import Manifests, write_secret
from tests.support.remotekit import PrivateSSHD


def noop_plan(argv: list[str], env: dict[str, str]) -> float:
    """Seconds of one `deployer plan` that must find nothing to do."""
    took, res = run_timed(argv, env=env, ok_codes=None)
    if res.returncode != 0 or "No changes." not in res.stdout:
        raise SystemExit(f"not a no-op plan ({res.returncode}): {res.stdout[-400:]} {res.stderr[-400:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bots", type=int, default=10)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dpl-bench-remote-", dir="/tmp"))
    fleet = f"bench-remote-{os.getpid()}"
    secrets = work / "secrets"
    secrets.mkdir(mode=0o700)
    m = Manifests(work, fleet, secrets)
    bots: dict[str, dict[str, Any]] = {}
    for i in range(args.bots):
        spec: dict[str, Any] = {"image": STAND_IN_IMAGE, "restart": "no", "runtime": "container"}
        if i % 2 == 0:
            write_secret(secrets, m.name(f"b{i}"), "ANTHROPIC_API_KEY", f"value-{i}\n")
            spec["secrets"] = ["ANTHROPIC_API_KEY"]
        bots[f"b{i}"] = spec
    m.write(bots)
    sshd = PrivateSSHD(work / "sshd")
    sshd.start()
    local = dict(os.environ, DOCKER_HOST="unix:///var/run/docker.sock")
    remote = sshd.client_env()
    remote["DOCKER_HOST"] = sshd.docker_host
    py = [sys.executable, "-m", "deployer"]
    try:
        res = subprocess.run(py + ["apply", "--yes", "--wait-timeout", "30", m.path], env=local, cwd=REPO,
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(res.stdout + res.stderr)
        noop_plan(py + ["plan", m.path], local)
        noop_plan(py + ["plan", m.path], remote)  # warm both once
        # ssh with the secrets checked by local os calls (same machine): the transport alone
        transport_only = dict(remote, DEPLOYER_SECRETS_CHECK="local")
        lt, rt, tt = [], [], []
        for _ in range(args.reps):
            lt.append(noop_plan(py + ["plan", m.path], local))
            rt.append(noop_plan(py + ["plan", m.path], remote))
            tt.append(noop_plan(py + ["plan", m.path], transport_only))
        ml, mr, mt = statistics.median(lt), statistics.median(rt), statistics.median(tt)
        print(f"command: python3 -m bench.remote_noop --bots {args.bots} --reps {args.reps} (shared 2-core machine)")
        print(f"no-op plan, {args.bots} bots, {args.bots - args.bots // 2} with secrets, median of {args.reps}:")
        print(f"  local socket : {ml:6.3f} s  (runs: {' '.join(f'{x:.2f}' for x in lt)})")
        print(f"  ssh://       : {mr:6.3f} s  (runs: {' '.join(f'{x:.2f}' for x in rt)})")
        print(f"  ssh://, secrets checked locally (transport alone): {mt:6.3f} s")
        print(f"  extra        : {mr - ml:6.3f} s   ratio ssh/local {mr / ml:.2f}x "
              f"(ssh transport {mt - ml:.3f} s, helper container {mr - mt:.3f} s)")
    finally:
        subprocess.run(["docker", "rm", "-f", *subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label={FLEET_LABEL}={fleet}"], capture_output=True,
            text=True).stdout.split()], capture_output=True)
        for marker in (RECORD_PREFIX + fleet, LOCK_PREFIX + fleet):
            subprocess.run(["docker", "rm", "-f", marker], capture_output=True)
        sshd.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
