"""Figures for real OpenClaw gateways deployed by deployer (issue 11's closing note).

    python3 -m bench.gateway [--bots 5]

Measures on the real engine with deployer/openclaw:2026.9.6 (built by scripts/openclaw-image.sh):
apply → healthy for 1 bot and for N bots at once, the preflight per bot (plan of a new bot,
minus the same plan with --no-preflight), a model change by hot reload vs a gateway-port change
by replace, and each gateway's memory (docker stats usage and cgroup max_usage). Everything it
creates is in its own fleet and removed at the end. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bench.timing import CommandFailed, run_timed
from deployer.core.vocabulary import HISTORY_PREFIX, LOCK_PREFIX, RECORD_PREFIX
from tests.support.engine_harness import FLEET_LABEL
from tests.support.gatewaykit import OPENCLAW_IMAGE

IMAGE = OPENCLAW_IMAGE


def cli(*args: str, stdin: str | None = None) -> tuple[float, str]:
    """Seconds and output of one `deployer <args>` that must succeed."""
    try:
        took, proc = run_timed([sys.executable, "-m", "deployer", *args], stdin=stdin, timeout=None,
                               what=f"deployer {' '.join(args)}")
    except CommandFailed as exc:
        raise SystemExit(str(exc)) from None
    return took, proc.stdout + proc.stderr


class Fleet:
    def __init__(self, root: Path, name: str, base_port: int):
        self.root, self.name, self.base_port = root, name, base_port
        self.dir = root / "manifests"

    def write(self, count: int, model: str = "claude-sonnet-4-5", gateway_port: int = 18789) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        docs = [{"apiVersion": "botmaker/v1", "kind": "Fleet", "metadata": {"name": self.name},
                 "spec": {"secretsDir": str(self.root / "secrets"), "stateDir": str(self.root / "state"),
                          "configDir": str(self.root / "config"),
                          "defaults": {"image": IMAGE, "restart": "no", "resources": {"memory": "1g"}}}}]
        for i in range(count):
            spec = {"provider": {"name": "anthropic", "model": model},
                    "secrets": ["OPENCLAW_GATEWAY_TOKEN", "ANTHROPIC_API_KEY"],
                    "ports": [{"containerPort": gateway_port, "hostPort": self.base_port + i}]}
            if gateway_port != 18789:
                spec["gateway"] = {"port": gateway_port}
            docs.append({"apiVersion": "botmaker/v1", "kind": "Bot", "metadata": {"name": self.bot(i)}, "spec": spec})
        (self.dir / "fleet.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
        return str(self.dir)

    def bot(self, i: int) -> str:
        return f"{self.name}-b{i}"

    def secrets(self, count: int) -> None:
        for i in range(count):
            for name in ("OPENCLAW_GATEWAY_TOKEN", "ANTHROPIC_API_KEY"):
                cli("secret", "set", self.bot(i), name, "-f", str(self.dir), stdin=os.urandom(12).hex())


def memory(container: str) -> tuple[float, float]:
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{json .}}", container],
                         capture_output=True, text=True).stdout
    usage = json.loads(out)["MemUsage"].split("/")[0].strip() if out.strip() else "0MiB"
    cid = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", container], capture_output=True, text=True).stdout.strip()
    peak = 0.0
    for path in (f"/sys/fs/cgroup/memory/docker/{cid}/memory.max_usage_in_bytes",
                 f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.peak"):
        if os.path.exists(path):
            peak = int(Path(path).read_text()) / 2**20
    return _mib(usage), peak


def _mib(text: str) -> float:
    for unit, factor in (("GiB", 1024), ("MiB", 1), ("KiB", 1 / 1024)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return 0.0


def cleanup(name: str) -> None:
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={FLEET_LABEL}={name}"],
                         capture_output=True, text=True).stdout.split()
    for marker in (RECORD_PREFIX + name, f"{HISTORY_PREFIX}{name}.", LOCK_PREFIX + name):
        ids += [line.split()[0] for line in subprocess.run(
            ["docker", "ps", "-a", "--filter", f"name={marker}", "--format", "{{.ID}} {{.Names}}"],
            capture_output=True, text=True).stdout.splitlines() if line.split()[1].startswith(marker)]
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bots", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gwbench-"))
    name = f"gwbench-{os.getpid()}"
    try:
        one = Fleet(root / "one", name + "-1", 38100)
        path = one.write(1)
        one.secrets(1)
        with_preflight, _ = cli("plan", path)
        without, _ = cli("plan", "--no-preflight", path)
        print(f"preflight, 1 new bot: {with_preflight - without:.1f} s (plan {with_preflight:.1f} s vs "
              f"{without:.1f} s with --no-preflight)")
        took, _ = cli("apply", "--yes", "--stop-timeout", "5", path)
        print(f"apply -> healthy, 1 bot: {took:.1f} s (includes its preflight)")
        usage, peak = memory(f"botmaker-{one.bot(0)}")
        print(f"gateway memory: docker stats {usage:.0f} MiB, cgroup peak {peak:.0f} MiB")
        path = one.write(1, model="claude-opus-4-1")
        took, out = cli("apply", "--yes", path)
        assert "reload" in out, out
        print(f"model change by hot reload: {took:.1f} s (apply, incl. preflight)")
        path = one.write(1, model="claude-opus-4-1", gateway_port=18790)
        took, out = cli("apply", "--yes", "--stop-timeout", "5", path)
        assert "replaced" in out, out
        print(f"gateway-port change by replace: {took:.1f} s (apply, incl. preflight)")
        cleanup(one.name)

        many = Fleet(root / "many", name + "-n", 38200)
        path = many.write(args.bots)
        many.secrets(args.bots)
        took, _ = cli("apply", "--yes", "--parallelism", str(args.bots), path)
        print(f"apply -> healthy, {args.bots} bots at parallelism {args.bots}: {took:.1f} s (incl. preflight)")
        peaks = [memory(f"botmaker-{many.bot(i)}") for i in range(args.bots)]
        print("gateway memory, each: " + ", ".join(f"{u:.0f}/{p:.0f} MiB" for u, p in peaks) + " (stats/peak)")
        cleanup(many.name)
    finally:
        cleanup(name + "-1")
        cleanup(name + "-n")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
