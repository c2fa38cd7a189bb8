#!/usr/bin/env python3
"""Performance benchmark of the deployer against the real Docker engine.

    python3 -m bench.run                  # full run: 1,000-bot fleet; about 5-6 minutes on 2 cores
    python3 -m bench.run --with-compose   # also item 6: installs Debian's docker-compose (1.29) with
                                          # apt-get if it is missing; adds about 2-3 minutes
    python3 -m bench.run --quick          # smoke run with small N and fewer repetitions (~2 minutes)
    python3 -m bench.run --only 1,3       # only some items (for working on one of them)

Not part of pytest, and it asserts nothing: it prints the machine, the exact command, and a table
of median wall times over k repetitions (k=5 for fast items, 3 for slow ones), each next to a
FLOOR measured in the same run on the same engine, the ratio ours/floor, the target and
pass/MISS. People judge. Progress goes to stderr, the table to stdout. The results of a full run
are kept, with an interpretation, in docs/benchmarks.md.

Items (N for a full run; --quick uses N/5 or so):
  1. validate 1,000 bots (a Fleet doc + 1,000 Bot docs in 50 files; env, a distinct host port, a
     distinct bind-mount path, secrets, provider and channel each), in-process with what
     `deployer validate` calls (fastpath.load_and_validate: for a valid set, the plain loader and
     the compiled validator) vs yaml.load_all(CSafeLoader) of the same files. Target <= 1.5x. 1b: the same at N/4 bots;
     linear work gives 4x (target <= 4.4x).
  2. `python3 -m deployer plan DIR` of the unchanged 1,000-bot fleet (fresh process, wall time)
     vs a fresh process doing the same job with bare tools: parse the same files with
     yaml.load_all(CSafeLoader), import the docker SDK, connect, make one label-filtered
     containers.list(all=True, sparse=True) and read every secret file. Target <= 1.5x.
     2c: the same plan vs the earlier floor (SDK import + connect + the list call only), kept so
     the figures stay comparable. 2b: the engine calls (DockerEngine.calls) of that no-op plan
     for N=100 vs N=1000: target equal (O(1)).
  3. `deployer apply --yes --parallelism 4` of 100 new running bots without healthcheck (fresh
     process) vs a fresh process doing raw docker SDK create+start of the same 100 containers
     (same image, names, env, labels incl. a spec-sized JSON label, port, mounts, limits) with
     a ThreadPoolExecutor(4); cleaned between runs. Target <= 1.10x. 3b: the same CLI with
     every wait for a started bot told a settle time of 0 s instead of ApplyOptions.settle
     (1.0 s by default), in the child process only (bench.children.counted_cli --settle 0), to
     show what the settle wait costs; the deployer code is not changed.
  4. `deployer apply --yes` of the 1,000-bot fleet with one bot's env changed vs the no-op
     `deployer plan` right after it (interleaved pairs, fresh processes). Target: the
     difference is about one replace (<= a raw SDK replace of one container + 0.5 s noise
     allowance), not a scan; 4b: engine calls of both (a scan would add ~N calls).
  5. peak RSS (ru_maxrss of RUSAGE_CHILDREN, read in a fresh wrapper process) of
     `python3 -m deployer plan DIR` on 1,000 bots, next to the same for the item-2 floor.
     Target <= 150 MB.
  6. when docker-compose is on PATH (or --with-compose installs it): a 300-service compose file
     of the same image, `docker-compose up -d` once, then the no-op `docker-compose up -d`
     timed vs the no-op `deployer plan` of a 300-bot fleet. Target: ours >= 10x faster.
     Skipped with a printed note when docker-compose is missing.
  7. the CPU side of a no-op plan of 10,000 bots: `deployer plan --detailed-exitcode DIR` (the
     real CLI in a fresh process: validate + secrets + observe + plan + render) against a
     recorded engine (bench.children.replay_engine, on a unix socket the CLI reaches through
     DOCKER_HOST): the list response of the fleet with every bot created, its labels made by
     the deployer's own pure functions as apply makes them (bench.children.record_fleet: the
     docker backend's create body, canonical spec, hash and secret fingerprints; other row
     fields from a real row of the engine) and the engine's real version and image inspect.
     Wall time vs the same at 1,000 bots: target <= 11x (10x is linear); 7b: its peak RSS,
     target <= 300 MB.
  8. `deployer --help` (the console script next to the interpreter, else python3 -m deployer)
     vs `python3 -c 'import click'`, fresh processes, k=15: target <= 1.5x.

The programs started in fresh processes are modules of bench/children/ (`python3 -m
bench.children.<name>`, listed in its __init__). Engine calls are counted inside the CLI's own
process: bench.children.counted_cli runs the CLI as `python3 -m deployer` does and only wraps its
backend factory (deployer.backends.open_backend) to add a call observer to each backend it
builds; the counts by kind are printed at exit. Item 3 times its deployer runs through that
wrapper too. Every timing goes through bench.timing (timed, run_timed).

Engine load and cleanup: every container the run creates carries the label bench.run=<hex>
and belongs to fleet(s) bench-<hex>[-a|-c]; only containers with that label (and the
lock / last-applied marker containers `apply` names botmaker-*.<our fleet>) are ever removed,
8 in parallel, after each item and again on exit (also on Ctrl-C / SIGTERM); other
containers are never touched. The 1,000-bot fleet is created once with `deployer apply --yes
--parallelism 8` in state stopped (created, never started: no 1,000 httpd processes) and
reused by items 2, 4 and 5, then removed before item 6; at most about 1,000 of our containers
exist at any time. Needs the engine and the stand-in image deployer-test/openclaw:1
(bash scripts/engine-up.sh), and root (secret files are chowned to uid 1000).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets as pysecrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import yaml

if not __package__:
    raise SystemExit("run the bench from the repository root as a module: python3 -m bench.run [options]")

from bench.children import read as read_report
from bench.children.raw_create import create as raw_create
from bench.timing import REPO, run_timed, timed
from deployer.core.vocabulary import LABEL_BOT, LABEL_FLEET, LABEL_MANAGED, LABEL_SPEC, LABEL_SPEC_HASH
from deployer.core.vocabulary import LABEL_HISTORY as L_HISTORY
from deployer.core.vocabulary import LABEL_LOCK as LABEL_LOCK
from deployer.core.vocabulary import LABEL_RECORD as L_RECORD
from tests.support.engine_harness import BOT_UID, STAND_IN_IMAGE

IMAGE = STAND_IN_IMAGE
PY = sys.executable
RUN_LABEL = "bench.run"

PROVIDERS = [
    ("anthropic", "claude-sonnet-4-5", ["ANTHROPIC_API_KEY"]),
    ("openai", "gpt-4.1", ["OPENAI_API_KEY"]),
    ("gemini", "gemini-2.5-pro", ["GEMINI_API_KEY"]),
    ("openrouter", "anthropic/claude-sonnet-4.5", ["OPENROUTER_API_KEY"]),
]
CHANNELS = [
    ("telegram", ["TELEGRAM_BOT_TOKEN"]),
    ("discord", ["DISCORD_BOT_TOKEN"]),
    ("slack", ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]),
    ("matrix", ["MATRIX_ACCESS_TOKEN"]),
]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


# --- results ------------------------------------------------------------------------------------

@dataclass
class Row:
    item: str
    ours: str
    floor: str
    ratio: str
    target: str
    result: str  # pass / MISS / info / skip


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: str) -> None:
        self.rows.append(Row(*args))
        r = self.rows[-1]
        log(f"RESULT {r.item}: ours {r.ours} | floor {r.floor} | {r.ratio} | target {r.target} | {r.result}")

    def note(self, text: str) -> None:
        self.notes.append(text)
        log(f"NOTE {text}")


def verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


# --- manifests ----------------------------------------------------------------------------------

@dataclass
class FleetFiles:
    fleet: str
    dir: Path
    n: int
    bot_names: list[str]
    state_root: Path
    secrets_root: Path
    port_base: int
    state: str
    files: int
    revs: dict[int, str] = field(default_factory=dict)

    def write(self) -> None:
        write_manifests(self)


def bot_name(fleet: str, i: int) -> str:
    return f"{fleet}-{i:04d}"


def bot_doc(ff: FleetFiles, i: int, run: str) -> str:
    name = ff.bot_names[i]
    provider, model, psecrets = PROVIDERS[i % len(PROVIDERS)]
    channel, csecrets = CHANNELS[(i // len(PROVIDERS)) % len(CHANNELS)]
    secret_lines = "".join(f"    - {s}\n" for s in psecrets + csecrets)
    return (
        "---\n"
        "apiVersion: botmaker/v1\n"
        "kind: Bot\n"
        "metadata:\n"
        f"  name: {name}\n"
        "  labels:\n"
        f"    team: team-{i % 37:02d}\n"
        f"    {RUN_LABEL}: \"{run}\"\n"
        "spec:\n"
        f"  state: {ff.state}\n"
        "  provider:\n"
        f"    name: {provider}\n"
        f"    model: {model}\n"
        "  channels:\n"
        f"    - type: {channel}\n"
        "  # files in <secretsDir>/<bot>/, mounted read-only at /run/secrets\n"
        "  secrets:\n"
        f"{secret_lines}"
        "  env:\n"
        "    TZ: Europe/Berlin\n"
        "    LOG_LEVEL: info\n"
        f"    BOT_DISPLAY_NAME: \"Bench bot number {i}\"\n"
        "    OPENCLAW_GATEWAY_PORT: \"18789\"\n"
        f"    BENCH_REV: \"{ff.revs.get(i, '0')}\"\n"
        "  ports:\n"
        "    - containerPort: 18789\n"
        f"      hostPort: {ff.port_base + i}\n"
        "      hostIP: 127.0.0.1\n"
        "  volumes:\n"
        f"    - source: {ff.state_root}/{name}\n"
        "      target: /home/node/.openclaw\n"
        "  resources:\n"
        f"    memory: {64 + (i % 4) * 32}m\n"
    )


def fleet_doc(ff: FleetFiles) -> str:
    return textwrap.dedent(f"""\
        # Benchmark fleet, generated by bench/run.py
        apiVersion: botmaker/v1
        kind: Fleet
        metadata:
          name: {ff.fleet}
        spec:
          secretsDir: {ff.secrets_root}
          defaults:
            runtime: container  # the stand-in is no gateway: plain containers
            image: {IMAGE}
            pullPolicy: IfNotPresent
            restart: unless-stopped
            user: "{BOT_UID}"
            resources:
              memory: 128m
              cpus: 0.5
            env:
              NODE_OPTIONS: "--max-old-space-size=96"
        """)


def write_manifests(ff: FleetFiles) -> None:
    run = ff.fleet.split("-")[1]
    ff.dir.mkdir(parents=True, exist_ok=True)
    (ff.dir / "fleet.yaml").write_text(fleet_doc(ff))
    per = max(1, -(-ff.n // ff.files))
    for f in range(ff.files):
        idx = range(f * per, min(ff.n, (f + 1) * per))
        if not idx:
            continue
        text = f"# bots {idx[0]}..{idx[-1]} of fleet {ff.fleet}\n" + "".join(bot_doc(ff, i, run) for i in idx)
        (ff.dir / f"bots-{f:03d}.yaml").write_text(text)


def make_fleet(root: Path, fleet: str, n: int, *, files: int, state: str, port_base: int) -> FleetFiles:
    """Manifests + one state dir (bind mount source) and secret files per bot."""
    base = root / fleet
    ff = FleetFiles(
        fleet=fleet, dir=base / "manifests", n=n, bot_names=[bot_name(fleet, i) for i in range(n)],
        state_root=base / "state", secrets_root=base / "secrets", port_base=port_base, state=state, files=files,
    )
    ff.state_root.mkdir(parents=True)
    ff.secrets_root.mkdir(mode=0o700, parents=True)
    os.chmod(ff.secrets_root, 0o700)
    for i, name in enumerate(ff.bot_names):
        (ff.state_root / name).mkdir()
        os.chown(ff.state_root / name, BOT_UID, BOT_UID)
        d = ff.secrets_root / name
        d.mkdir(mode=0o700)
        os.chown(d, BOT_UID, BOT_UID)
        _, _, psecrets = PROVIDERS[i % len(PROVIDERS)]
        _, csecrets = CHANNELS[(i // len(PROVIDERS)) % len(CHANNELS)]
        for s in psecrets + csecrets:
            p = d / s
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, f"bench-{s.lower()}-{name}-{pysecrets.token_hex(8)}\n".encode())
            os.close(fd)
            os.chown(p, BOT_UID, BOT_UID)
    ff.write()
    if ENGINE is not None:
        ENGINE.fleets.add(fleet)
    return ff


ENGINE: Engine | None = None


def raw_create_config(ff: FleetFiles) -> list[dict[str, Any]]:
    """What the raw-SDK floor creates: the same containers as the deployer would (roughly: same
    name, image, env, user, labels incl. a spec-sized JSON label, port, mounts, limits)."""
    run = ff.fleet.split("-")[1]
    out = []
    for i, name in enumerate(ff.bot_names):
        provider, model, psecrets = PROVIDERS[i % len(PROVIDERS)]
        channel, csecrets = CHANNELS[(i // len(PROVIDERS)) % len(CHANNELS)]
        env = {"NODE_OPTIONS": "--max-old-space-size=96", "TZ": "Europe/Berlin", "LOG_LEVEL": "info",
               "BOT_DISPLAY_NAME": f"Bench bot number {i}", "OPENCLAW_GATEWAY_PORT": "18789",
               "BENCH_REV": ff.revs.get(i, "0")}
        spec = {"image": IMAGE, "env": env, "ports": [f"127.0.0.1:{ff.port_base + i}:18789/tcp"],
                "volumes": [f"{ff.state_root}/{name}:/home/node/.openclaw:rw"],
                "secrets": {"mount": f"{ff.secrets_root}/{name}:/run/secrets:ro", "names": psecrets + csecrets},
                "provider": {"name": provider, "model": model}, "channels": [channel], "user": str(BOT_UID),
                "memory": (64 + (i % 4) * 32) * 1024 * 1024, "cpus": 0.5, "restart": "unless-stopped"}
        out.append({
            "name": f"botmaker-{name}",
            "image": IMAGE,
            "user": str(BOT_UID),
            "env": [f"{k}={v}" for k, v in sorted(env.items())],
            "labels": {"team": f"team-{i % 37:02d}", RUN_LABEL: run, LABEL_MANAGED: "true",
                       LABEL_BOT: name, LABEL_FLEET: ff.fleet, "botmaker.provider": provider,
                       "botmaker.model": model, "botmaker.channels": channel,
                       LABEL_SPEC_HASH: "v1-" + "0" * 32,
                       LABEL_SPEC: json.dumps(spec, sort_keys=True, separators=(",", ":"))},
            "port": ff.port_base + i,
            "mounts": [[f"{ff.state_root}/{name}", "/home/node/.openclaw", False],
                       [f"{ff.secrets_root}/{name}", "/run/secrets", True]],
            "memory": spec["memory"],
        })
    return out


def child(name: str, *args: str) -> list[str]:
    """The command of one of the bench's child programs (bench/children/<name>.py)."""
    return [PY, "-m", f"bench.children.{name}", *args]


def fmt_phases(report: dict[str, Any] | None) -> str:
    """A child's BENCH_PHASES report as one line; phases it never saw are named, not hidden."""
    if not report:
        return "(no report)"
    text = ", ".join(f"{k} {fmt_s(v)}" for k, v in report["phases"].items())
    if report["not_seen"]:
        text += f"; NOT SEEN (the bench wraps a function the CLI no longer calls): {', '.join(report['not_seen'])}"
    return text


# --- processes and the engine -------------------------------------------------------------------

def fmt_calls(calls: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(calls.items())) or "(none)"


class Engine:
    """The bench's own handle on the engine: only ever removes containers labelled bench.run=<run>."""

    def __init__(self, run: str):
        self.run = run
        self.fleets: set[str] = set()  # our fleets: their lock / last-applied marker containers are ours too
        self.stuck: set[str] = set()  # containers the engine did not remove
        self.client = docker.from_env(max_pool_size=16, timeout=300)
        self.api = self.client.api

    def ours(self, extra_label: str | None = None) -> list[dict[str, Any]]:
        labels = [f"{RUN_LABEL}={self.run}"] + ([extra_label] if extra_label else [])
        return self.api.containers(all=True, filters={"label": labels})

    def remove_network(self, name: str) -> None:
        """The compose project's own network (bench<run>c_default), if `down` left it."""
        for net in self.api.networks(names=[name]):
            if net.get("Name") == name:
                try:
                    self.api.remove_network(net["Id"])
                except docker.errors.APIError as exc:
                    log(f"could not remove network {name}: {exc}")

    def markers(self, extra_label: str | None = None) -> list[dict[str, Any]]:
        """Marker containers apply leaves for a fleet: the fleet lock botmaker-lock.<fleet> (and its
        heartbeats), the last-applied record botmaker-record.<fleet>, the history entries
        botmaker-history.<fleet>.<n>; told apart by the fleet their own label names."""
        fleets = set(self.fleets)
        if extra_label and extra_label.startswith(f"{LABEL_FLEET}="):
            fleets &= {extra_label.split("=", 1)[1]}
        out = []
        for r in self.api.containers(all=True, filters={"name": f"bench-{self.run}"}):
            name = (r.get("Names") or ["/"])[0].lstrip("/")
            labels = r.get("Labels") or {}
            owner = labels.get(LABEL_LOCK) or labels.get(L_RECORD) or labels.get(L_HISTORY)
            if name.startswith("botmaker-") and owner in fleets and RUN_LABEL not in labels:
                out.append(r)
        return out

    def clean(self, extra_label: str | None = None, parallel: int = 8) -> tuple[int, float]:
        """Force-remove our containers, `parallel` at a time: (how many, seconds). A container the
        engine does not remove within 120 s is logged and left (self.stuck), never retried forever."""
        took, count = timed(self._remove_ours, extra_label, parallel)
        return count, took

    def _remove_ours(self, extra_label: str | None, parallel: int) -> int:
        rows = self.ours(extra_label)
        assert all((r.get("Labels") or {}).get(RUN_LABEL) == self.run for r in rows)
        rows += self.markers(extra_label)
        api = docker.from_env(max_pool_size=16, timeout=120).api

        def rm(row: dict[str, Any]) -> None:
            try:
                api.remove_container(row["Id"], force=True, v=False)
            except docker.errors.NotFound:
                pass
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                name = (row.get("Names") or ["/?"])[0].lstrip("/")
                self.stuck.add(name)
                log(f"could not remove {name}: {type(exc).__name__}: {str(exc)[:200]}")
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            list(pool.map(rm, rows))
        return len(rows)


def free_port_base(count: int, start: int = 42000) -> int:
    base = start
    while base + count < 65000:
        for p in range(base, base + count):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                base = p + 1
                break
            finally:
                s.close()
        else:
            return base
    raise RuntimeError("no free port range")


def child_calls(stderr: str) -> dict[str, int]:
    """The engine calls a counted_cli child reported, by kind."""
    calls: dict[str, int] = read_report(stderr, "CALLS") or {}
    return calls


def plan_calls(dir_: Path) -> dict[str, int]:
    """Engine calls (gather + plan, and whatever else the CLI does) of `deployer plan DIR`,
    counted inside the CLI's own process (bench.children.counted_cli); it must be a no-op plan."""
    _, p = run_timed(child("counted_cli", "plan", "--detailed-exitcode", str(dir_)),
                     ok_codes=(0, 2), what="deployer plan (count)")
    if p.returncode != 0:
        raise RuntimeError(f"plan of {dir_} is not a no-op:\n{p.stdout[-2000:]}")
    return child_calls(p.stderr)


# --- items --------------------------------------------------------------------------------------

def item1_validate(res: Results, ff: FleetFiles, k: int) -> None:
    from deployer.manifests.fastpath import load_and_validate
    from deployer.manifests.load import load_paths
    from deployer.manifests.validation import validate_documents

    files = sorted(ff.dir.glob("*.yaml"))

    def floor() -> int:
        n = 0
        for f in files:
            with open(f, "rb") as fh:
                n += sum(1 for _ in yaml.load_all(fh, Loader=yaml.CSafeLoader))
        return n

    def located(d: Path) -> Any:
        documents, load_problems = load_paths([str(d)])
        return validate_documents(documents, load_problems)

    cold, result = timed(load_and_validate, [str(ff.dir)])  # the first call also builds the validators (cached)
    errors = [p.format() for p in result.problems if p.is_error]
    if errors or result.fleet is None or len(result.fleet.bots) != ff.n:
        raise RuntimeError(f"bench manifests do not validate: {errors[:5]}")
    if result.fleet != located(ff.dir).fleet:
        raise RuntimeError("the fast and the located path built different fleets")
    assert floor() == ff.n + 1
    # scaling: the same manifests cut to N/4 bots; linear work takes a quarter of the time
    import dataclasses
    half = dataclasses.replace(ff, dir=ff.dir.parent / "manifests-quarter", n=ff.n // 4,
                               bot_names=ff.bot_names[: ff.n // 4], files=max(1, ff.files // 4), revs={})
    half.write()
    t_ours, t_floor, t_half, t_located = [], [], [], []
    for _ in range(k):
        t_floor.append(timed(floor)[0])
        t_ours.append(timed(load_and_validate, [str(ff.dir)])[0])
        t_half.append(timed(load_and_validate, [str(half.dir)])[0])
        t_located.append(timed(located, ff.dir)[0])
    o, f, h, lo = median(t_ours), median(t_floor), median(t_half), median(t_located)
    res.add(f"1. validate {ff.n} bots / {len(files)} files (in-process, k={k})", fmt_s(o), fmt_s(f),
            f"{o / f:.2f}x", "<= 1.5x", verdict(o / f <= 1.5))
    res.add(f"1b. validate scaling: {ff.n} bots (ours) vs {half.n} bots (floor) (in-process, k={k})", fmt_s(o), fmt_s(h),
            f"{o / h:.1f}x", "<= 4.4x (linear)", verdict(o / h <= 4.4))
    res.add(f"1c. the located path alone (what a set with a problem costs; info, k={k})", fmt_s(lo), fmt_s(f),
            f"{lo / f:.1f}x", "(was 3.9x)", "info")
    res.note(f"item 1: first call in the process (imports and builds the compiled validators) {fmt_s(cold)}")


def item3_apply_new(res: Results, eng: Engine, ff: FleetFiles, k: int) -> dict[str, int]:
    """Returns the engine calls of an unchanged plan of this (N small) fleet, measured at the end."""
    cfg_path = ff.dir.parent / "raw-create.json"
    cfg_path.write_text(json.dumps(raw_create_config(ff)))
    fleet_label = f"{LABEL_FLEET}={ff.fleet}"
    t_raw, t_cli, t_zero = [], [], []
    calls_cli: dict[str, int] = {}
    calls_zero: dict[str, int] = {}
    plan_calls_small: dict[str, int] = {}
    # the CLI in a fresh process through bench.children.counted_cli (= python3 -m deployer apply ..., plus
    # the call counter); with --settle 0 every wait for a started bot is told a settle time of 0 s
    apply_args = ["apply", "--yes", "--parallelism", "4", str(ff.dir)]
    cmd_cli = child("counted_cli", *apply_args)

    def check_created(what: str) -> None:
        rows = eng.ours(fleet_label)
        running = sum(1 for r in rows if r.get("State") == "running")
        if len(rows) != ff.n or running != ff.n:
            raise RuntimeError(f"{what}: expected {ff.n} running containers, found {len(rows)} ({running} running)")

    import resource

    cpu: dict[str, list[float]] = {"raw": [], "default": []}

    def child_cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    for rep in range(k):
        c0 = child_cpu()
        dt, _ = run_timed(child("raw_create", str(cfg_path), "4"), what="raw SDK create+start")
        cpu["raw"].append(child_cpu() - c0)
        check_created("raw SDK")
        t_raw.append(dt)
        n, dc = eng.clean(fleet_label)
        log(f"item 3 rep {rep + 1}/{k}: raw SDK {fmt_s(dt)} (cleaned {n} in {fmt_s(dc)})")

        c0 = child_cpu()
        dt, p = run_timed(cmd_cli, what="deployer apply")
        cpu["default"].append(child_cpu() - c0)
        check_created("deployer apply")
        t_cli.append(dt)
        calls_cli = child_calls(p.stderr)
        n, dc = eng.clean(fleet_label)
        log(f"item 3 rep {rep + 1}/{k}: deployer apply (default settle) {fmt_s(dt)} (cleaned {n} in {fmt_s(dc)})")

        dt, p = run_timed(child("counted_cli", "--settle", "0", *apply_args), what="deployer apply (settle=0)")
        check_created("deployer apply settle=0")
        t_zero.append(dt)
        calls_zero = child_calls(p.stderr)
        log(f"item 3 rep {rep + 1}/{k}: deployer apply (settle=0) {fmt_s(dt)}")
        if rep == k - 1:
            plan_calls_small = plan_calls(ff.dir)
        n, dc = eng.clean(fleet_label)
        log(f"item 3 rep {rep + 1}/{k}: cleaned {n} in {fmt_s(dc)}")
    # where the time goes: one more default apply with its phases timed in the process (not in the table)
    dt, p = run_timed(child("cli_phases", *apply_args), what="deployer apply (phases)")
    check_created("deployer apply (phases)")
    eng.clean(fleet_label)
    res.note(f"item 3: phases of one more default apply ({fmt_s(dt)} wall): {fmt_phases(read_report(p.stderr, 'PHASES'))}")

    f = median(t_raw)
    o = median(t_cli)
    z = median(t_zero)
    res.add(f"3. apply {ff.n} new running bots, --parallelism 4, default CLI (settle 1.0 s) (k={k})",
            fmt_s(o), fmt_s(f), f"{o / f:.2f}x", "<= 1.10x", verdict(o / f <= 1.10))
    res.add(f"3b. same, settle 0 s told to every wait in the child (info) (k={k})",
            fmt_s(z), fmt_s(f), f"{z / f:.2f}x", "<= 1.10x", verdict(z / f <= 1.10))
    res.note(f"item 3: the settle wait (ApplyOptions.settle, 1.0 s by default) costs {fmt_s(o - z)} of {fmt_s(o)} "
             f"({(o - z) / o * 100:.0f}%) end to end (default vs settle=0, medians); runs: raw "
             f"{', '.join(fmt_s(x) for x in t_raw)}; default {', '.join(fmt_s(x) for x in t_cli)}; "
             f"settle=0 {', '.join(fmt_s(x) for x in t_zero)}")
    res.note(f"item 3: CPU time (user+sys) of the process: raw SDK {fmt_s(median(cpu['raw']))}, "
             f"deployer apply {fmt_s(median(cpu['default']))} (medians; the rest of the wall time is the engine's)")
    res.note(f"item 3: engine calls of the default CLI apply of {ff.n} bots: {fmt_calls(calls_cli)}; "
             f"with settle=0: {fmt_calls(calls_zero)}; raw floor: create={ff.n} start={ff.n}")
    return plan_calls_small


def create_big_fleet(res: Results, eng: Engine, ff: FleetFiles) -> None:
    dt, _p = run_timed([PY, "-m", "deployer", "apply", "--yes", "--parallelism", "8", str(ff.dir)],
                      what=f"initial apply of {ff.n} bots")
    rows = eng.ours(f"{LABEL_FLEET}={ff.fleet}")
    if len(rows) != ff.n:
        raise RuntimeError(f"initial apply made {len(rows)} containers, expected {ff.n}")
    res.note(f"setup: `deployer apply --yes --parallelism 8` created the {ff.n}-bot fleet (state stopped) "
             f"in {fmt_s(dt)} ({dt / ff.n * 1000:.0f} ms per bot)")


def item2_plan(res: Results, ff: FleetFiles, k: int, small_calls: dict[str, int], small_n: int) -> list[float]:
    cmd_ours = [PY, "-m", "deployer", "plan", str(ff.dir)]
    cmd_floor = child("floor_plan", str(ff.dir), str(ff.secrets_root), ff.fleet)
    cmd_old_floor = child("floor_list", ff.fleet)
    _, p = run_timed(cmd_floor, what="floor (parse + SDK + list + secrets)")  # warm-up, and a check
    if p.stdout.split() != [str(ff.n), str(ff.n + 1)]:
        raise RuntimeError(f"floor listed/parsed {p.stdout.strip()}, expected {ff.n} containers and {ff.n + 1} documents")
    run_timed(cmd_old_floor, what="old floor list")
    run_timed(cmd_ours, what="deployer plan")
    t_ours, t_floor, t_old = [], [], []
    for _ in range(k):
        t_floor.append(run_timed(cmd_floor)[0])
        t_old.append(run_timed(cmd_old_floor)[0])
        dt, p = run_timed(cmd_ours, what="deployer plan")
        t_ours.append(dt)
    o, f, f_old = median(t_ours), median(t_floor), median(t_old)
    res.add(f"2. plan, unchanged {ff.n}-bot fleet (fresh process, k={k}) vs parse + SDK + list + read secrets",
            fmt_s(o), fmt_s(f), f"{o / f:.2f}x", "<= 1.5x", verdict(o / f <= 1.5))
    res.add(f"2c. same plan vs the old floor (SDK import + connect + one list; info, k={k})", fmt_s(o),
            fmt_s(f_old), f"{o / f_old:.1f}x", "(was 5.7x)", "info")
    # where the time goes: one more run of each, their phases timed inside the processes
    _, p_floor = run_timed(cmd_floor, what="floor (phases)")
    _, p_ours = run_timed(child("cli_phases", "plan", str(ff.dir)), what="deployer plan (phases)")
    res.note(f"item 2: phases of one no-op plan (wall, in the process): {fmt_phases(read_report(p_ours.stderr, 'PHASES'))}; "
             f"of one floor run: {fmt_phases(read_report(p_floor.stderr, 'PHASES'))}")
    big_calls = plan_calls(ff.dir)
    same = big_calls == small_calls
    res.add(f"2b. engine calls, unchanged plan N={small_n} vs N={ff.n}", fmt_calls(big_calls),
            fmt_calls(small_calls), "equal" if same else "DIFFERENT", "O(1): equal", verdict(same))
    return t_ours


def item5_memory(res: Results, ff: FleetFiles, k: int) -> None:
    def rss(cmd: list[str]) -> float:
        _, p = run_timed(child("maxrss", *cmd), what="maxrss wrapper")
        out = json.loads(p.stdout.strip().splitlines()[-1])
        if out["rc"] != 0:
            raise RuntimeError(f"{shlex.join(cmd)} exited {out['rc']} under the maxrss wrapper")
        return out["maxrss_kb"] / 1024
    ours = [rss([PY, "-m", "deployer", "plan", str(ff.dir)]) for _ in range(k)]
    floor = [rss(child("floor_list", ff.fleet)) for _ in range(k)]
    o, f = median(ours), median(floor)
    res.add(f"5. peak RSS of `deployer plan`, {ff.n} bots (k={k})", f"{o:.0f} MB", f"{f:.0f} MB",
            f"{o / f:.1f}x", "<= 150 MB", verdict(o <= 150))


def raw_replace_floor(eng: Engine, ff: FleetFiles, k: int) -> float:
    """A raw SDK replace of one stopped container (inspect, rename aside, create, remove) — the
    cost a one-bot change should add. Done on a throwaway container of our run."""
    first = raw_create_config(ff)[0]
    name = f"botmaker-{ff.fleet}-rawreplace"
    cfg = dict(first, name=name, labels=dict(first["labels"], **{LABEL_FLEET: ff.fleet + "-raw"}))
    api = eng.api

    def replace(old: str) -> str:
        api.inspect_container(old)
        api.rename(old, name + "_old")
        new = raw_create(api, cfg)
        api.remove_container(old, force=True)
        return new

    cid = raw_create(api, cfg)
    times = []
    for _ in range(k):
        took, cid = timed(replace, cid)
        times.append(took)
    api.remove_container(cid, force=True)
    return median(times)


def item4_one_change(res: Results, eng: Engine, ff: FleetFiles, k: int) -> None:
    changed = ff.n // 2
    cmd_apply = [PY, "-m", "deployer", "apply", "--yes", "--parallelism", "8", str(ff.dir)]
    cmd_plan = [PY, "-m", "deployer", "plan", str(ff.dir)]
    t_apply, t_plan, replace_secs = [], [], []
    for rep in range(k):
        ff.revs[changed] = f"r{rep + 1}"
        ff.write()
        dt, p = run_timed(cmd_apply, what="deployer apply (one change)")
        t_apply.append(dt)
        lines = [ln.split() for ln in p.stdout.splitlines() if ln.strip().startswith(ff.bot_names[changed] + " ")]
        for parts in lines:
            if len(parts) >= 4 and parts[1] == "replace" and parts[3].endswith("s"):
                replace_secs.append(float(parts[3][:-1]))
        if not any(parts[1:2] == ["replace"] for parts in lines):
            raise RuntimeError(f"apply with one change did not replace {ff.bot_names[changed]}:\n{p.stdout[-2000:]}")
        dt2, _ = run_timed(cmd_plan, what="deployer plan (no-op)")
        t_plan.append(dt2)
        log(f"item 4 rep {rep + 1}/{k}: apply {fmt_s(dt)}, no-op plan {fmt_s(dt2)}")
    # engine calls: one more change, counted inside the CLI's process (not timed)
    ff.revs[changed] = "count"
    ff.write()
    _, p = run_timed(child("counted_cli", *cmd_apply[3:]), what="deployer apply (count)")
    apply_calls = child_calls(p.stderr)
    noop_calls = plan_calls(ff.dir)
    raw = raw_replace_floor(eng, ff, 3)

    a, pl = median(t_apply), median(t_plan)
    diff = a - pl
    extra_calls = sum(apply_calls.values()) - sum(noop_calls.values())
    ok = diff <= raw + 0.5 and extra_calls <= 30
    res.add(f"4. apply {ff.n}-bot fleet, 1 bot changed, minus no-op plan (fresh processes, k={k})",
            f"{fmt_s(a)} - {fmt_s(pl)} = {fmt_s(diff)}", f"raw replace {fmt_s(raw)}",
            f"+{fmt_s(max(0.0, diff - raw))} over", "diff <= raw replace + 0.5 s", verdict(ok))
    res.add(f"4b. engine calls: apply (1 change) vs no-op plan, {ff.n} bots", fmt_calls(apply_calls),
            fmt_calls(noop_calls), f"+{extra_calls} calls", "<= 30 extra (a scan is ~N)", verdict(extra_calls <= 30))
    res.note(f"item 4: apply {', '.join(fmt_s(x) for x in t_apply)}; no-op plan {', '.join(fmt_s(x) for x in t_plan)}; "
             f"the changed bot is stopped, so its replace has no start and no settle wait")


def record_engine(eng: Engine, ff: FleetFiles, out: Path, template_fleet: str | None) -> int:
    """The recorded engine of `ff` with every bot created (bench.children.record_fleet). The row
    template is a bot container of this run's big fleet, else any bench-made bot container."""
    labels = [f"{LABEL_FLEET}={template_fleet}"] if template_fleet else [RUN_LABEL, f"{LABEL_MANAGED}=true"]
    rows = eng.api.containers(all=True, filters={"label": labels})
    template = {k: v for k, v in (rows[0] if rows else {}).items() if k not in ("Id", "Names", "Labels")}
    template_file, engine_file = out.with_suffix(".template.json"), out.with_suffix(".engine.json")
    template_file.write_text(json.dumps(template))
    engine_file.write_text(json.dumps({"image": eng.api.inspect_image(IMAGE), "version": eng.api.version()}))
    _, p = run_timed(child("record_fleet", str(ff.dir), str(out), str(template_file), str(engine_file)),
                     what=f"record the list response of {ff.n} bots", timeout=1200)
    return int(p.stdout.strip())


@contextmanager
def replay_engine(recorded: Path) -> Iterator[dict[str, str]]:
    """An engine answering from `recorded` on a unix socket (bench.children.replay_engine) while the
    block runs; yields the environment that points the deployer at it (DOCKER_HOST)."""
    sock, errors = recorded.with_suffix(".sock"), recorded.with_suffix(".log")
    with open(errors, "w") as err:
        server = subprocess.Popen(child("replay_engine", str(sock), str(recorded)), cwd=REPO, stdout=subprocess.PIPE,
                                  stderr=err, text=True)
    try:
        if server.stdout is None or server.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the replay engine of {recorded.name} did not start: {errors.read_text()[-1500:]}")
        yield dict(os.environ, DOCKER_HOST=f"unix://{sock}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def item7_plan_10k(res: Results, eng: Engine, root: Path, run: str, big: FleetFiles | None, n_small: int,
                   n_big: int, k: int) -> None:
    """CPU side of a no-op plan at N=n_small and N=n_big against recorded engine responses."""
    small = big if big is not None and big.n == n_small else None
    if small is None:
        small = make_fleet(root, f"bench-{run}-s", n_small, files=max(1, n_small // 20), state="stopped",
                           port_base=20000)
    log(f"item 7: writing {n_big} bot manifests, state dirs and secrets")
    took, large = timed(make_fleet, root, f"bench-{run}-x", n_big, files=max(1, n_big // 20), state="stopped",
                        port_base=1)
    log(f"item 7: wrote them in {fmt_s(took)}")
    template_fleet = big.fleet if big is not None and eng.ours(f"{LABEL_FLEET}={big.fleet}") else None
    rec_small, rec_large = root / "recorded-small.json", root / "recorded-large.json"
    if record_engine(eng, small, rec_small, template_fleet) != small.n or \
            record_engine(eng, large, rec_large, template_fleet) != large.n:
        raise RuntimeError("recording the list responses made the wrong number of rows")
    cmd_small = [PY, "-m", "deployer", "plan", "--detailed-exitcode", str(small.dir)]
    cmd_large = [PY, "-m", "deployer", "plan", "--detailed-exitcode", str(large.dir)]
    t_small: list[float] = []
    t_large: list[float] = []
    rss_large: list[float] = []
    with replay_engine(rec_small) as env_small, replay_engine(rec_large) as env_large:
        # warm-up and check: a no-op plan exits 0 with --detailed-exitcode (2: the recording is not what apply makes)
        for cmd, env in ((cmd_small, env_small), (cmd_large, env_large)):
            run_timed(cmd, env=env, what="replayed plan (must be a no-op)")
        for _ in range(k):
            t_small.append(run_timed(cmd_small, env=env_small, what="replayed plan (small)")[0])
            t_large.append(run_timed(cmd_large, env=env_large, what="replayed plan (large)")[0])
        for _ in range(max(1, k - 1)):
            _, p = run_timed(child("maxrss", *cmd_large), env=env_large, what="maxrss wrapper")
            out = json.loads(p.stdout.strip().splitlines()[-1])
            rss_large.append(out["maxrss_kb"] / 1024)
    s_, l_ = median(t_small), median(t_large)
    res.add(f"7. plan {n_big} bots, recorded engine (validate + secrets + plan, fresh process, k={k})",
            fmt_s(l_), f"{n_small} bots: {fmt_s(s_)}", f"{l_ / s_:.1f}x", f"<= {11 * n_big // n_small / 10:g}x"
            f" ({n_big // n_small}x is linear)", verdict(l_ / s_ <= 1.1 * n_big / n_small))
    r = median(rss_large)
    res.add(f"7b. peak RSS of that {n_big}-bot plan", f"{r:.0f} MB", "-", "-", "<= 300 MB", verdict(r <= 300))
    res.note(f"item 7: runs {n_small} bots {', '.join(fmt_s(x) for x in t_small)}; {n_big} bots "
             f"{', '.join(fmt_s(x) for x in t_large)}; the engine is a replay on a unix socket "
             f"(bench.children.replay_engine) of list responses whose labels are the deployer's create body "
             f"(bench.children.record_fleet), rows shaped like a real row"
             f"{' of fleet ' + template_fleet if template_fleet else ''}, and the real image inspect")


def item8_help(res: Results, k: int) -> None:
    script = Path(PY).parent / "deployer"
    cmd_ours = [str(script), "--help"] if script.exists() else [PY, "-m", "deployer", "--help"]
    cmd_floor = [PY, "-c", "import click"]
    run_timed(cmd_ours)
    run_timed(cmd_floor)
    t_ours, t_floor = [], []
    for _ in range(k):
        t_floor.append(run_timed(cmd_floor)[0])
        t_ours.append(run_timed(cmd_ours)[0])
    o, f = median(t_ours), median(t_floor)
    res.add(f"8. `{' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd_ours))}` vs "
            f"`python3 -c 'import click'` (fresh processes, k={k})", fmt_s(o), fmt_s(f), f"{o / f:.2f}x",
            "<= 1.5x", verdict(o / f <= 1.5))


def find_compose() -> str | None:
    return shutil.which("docker-compose")


def install_compose() -> str | None:
    log("installing Debian's docker-compose with apt-get (--with-compose)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    p = subprocess.run(["apt-get", "install", "-y", "-q", "docker-compose"], check=False, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True, text=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", "docker-compose"], check=False, capture_output=True, text=True, env=env)
    return find_compose()


def compose_file(path: Path, n: int, run: str) -> None:
    """300 services like the bots: same image, user, env, labels, limits, restart policy, and the
    default bridge network (as the deployer's bots use; a compose project network would also add
    an embedded DNS server and 300 endpoints on one user-defined bridge: tearing that down 8 at a
    time deadlocked dockerd 20.10's libnetwork in one of our runs, see docs/benchmarks.md)."""
    lines = ['version: "2.4"', "services:"]
    for i in range(n):
        lines += [
            f"  bot{i:04d}:",
            f"    image: {IMAGE}",
            '    user: "1000"',
            "    network_mode: bridge",
            "    restart: unless-stopped",
            f"    mem_limit: {64 + (i % 4) * 32}m",
            "    cpus: 0.5",
            "    labels:",
            f"      {RUN_LABEL}: \"{run}\"",
            f"      team: team-{i % 37:02d}",
            "    environment:",
            "      TZ: Europe/Berlin",
            "      LOG_LEVEL: info",
            f"      BOT_DISPLAY_NAME: \"Bench bot number {i}\"",
            '      OPENCLAW_GATEWAY_PORT: "18789"',
        ]
    path.write_text("\n".join(lines) + "\n")


def item6_compose(res: Results, eng: Engine, root: Path, run: str, n: int, k: int, compose: str | None) -> None:
    if compose is None:
        res.add(f"6. no-op `docker-compose up -d` ({n} services) vs no-op `deployer plan` ({n} bots)",
                "-", "-", "-", "ours >= 10x faster", "skip")
        res.note("item 6 skipped: docker-compose is not installed (pass --with-compose to install Debian's 1.29)")
        return
    version = subprocess.run([compose, "version", "--short"], check=False, capture_output=True, text=True).stdout.strip()
    project = f"bench{run}c"
    cfile = root / "compose" / "docker-compose.yml"
    cfile.parent.mkdir()
    compose_file(cfile, n, run)
    # COMPOSE_PARALLEL_LIMIT: compose 1.x holds a slot of its global limiter (64 by default) per
    # service while the service's own container operations wait for another slot, so `up` of
    # more than ~64 new services deadlocks (docker/compose#5864, #7486, #8226); above 2x the
    # service count it cannot. It changes nothing for the no-op `up` measured below.
    env = dict(os.environ, COMPOSE_HTTP_TIMEOUT="600", COMPOSE_PARALLEL_LIMIT=str(max(64, 4 * n)))
    base = [compose, "-p", project, "-f", str(cfile)]
    try:
        took, _p = run_timed(base + ["up", "-d"], env=env, what="docker-compose up -d (first)", timeout=900)
        log(f"item 6: docker-compose up -d created {n} services in {fmt_s(took)}")
        t_compose = []
        for rep in range(k):
            dt, _p = run_timed(base + ["up", "-d"], env=env, what="docker-compose up -d (no-op)", timeout=300)
            t_compose.append(dt)
            log(f"item 6 rep {rep + 1}/{k}: no-op docker-compose up -d {fmt_s(dt)}")
    finally:
        # Containers first, 4 at a time (a `down` of 300 containers with the raised parallel limit
        # left a project network with a stale endpoint count on docker 20.10: "has active
        # endpoints"), then `down` with the default limit, and the network if one was made.
        eng.clean(parallel=4)
        try:
            subprocess.run(base + ["down", "-t", "0"], check=False, capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, COMPOSE_HTTP_TIMEOUT="600"))
        except subprocess.TimeoutExpired:
            log("docker-compose down did not finish in 300 s")
        eng.remove_network(f"{project}_default")
    # ours: a fleet of n bots (state stopped: a no-op plan reads the same list either way)
    ff = make_fleet(root, f"bench-{run}-c", n, files=max(1, n // 20), state="stopped", port_base=25000)
    run_timed([PY, "-m", "deployer", "apply", "--yes", "--parallelism", "8", str(ff.dir)], what="apply (item 6)")
    cmd = [PY, "-m", "deployer", "plan", str(ff.dir)]
    run_timed(cmd)
    t_ours = [run_timed(cmd, what="deployer plan")[0] for _ in range(max(k, 3))]
    eng.clean(f"{LABEL_FLEET}={ff.fleet}")
    o, c = median(t_ours), median(t_compose)
    res.add(f"6. no-op `docker-compose up -d` ({n} services, compose {version}) vs no-op `deployer plan` "
            f"({n} bots) (k={k})", fmt_s(o), fmt_s(c), f"{c / o:.1f}x faster", "ours >= 10x faster",
            verdict(c / o >= 10))


# --- main ---------------------------------------------------------------------------------------

def machine_info(eng: Engine) -> list[str]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    quick = docker.from_env(timeout=20).api
    try:
        v, info = quick.version(), quick.info()
    except Exception as exc:  # noqa: BLE001 - a wedged engine still gets a header
        v, info = {"Version": f"? ({type(exc).__name__})"}, {}
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True, cwd=REPO).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "deployer"], check=False, capture_output=True, text=True,
                           cwd=REPO).stdout.strip()
    from importlib.metadata import version as pkg_version
    return [
        (f"nproc: {os.cpu_count()} (affinity {len(os.sched_getaffinity(0))}), memory: {mem_kb / 1024 / 1024:.1f} GiB, "
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"),
        (f"kernel: {platform.release()}, docker engine {v.get('Version')} (API {v.get('ApiVersion')}, "
        f"{info.get('Driver')}, cgroup v{info.get('CgroupVersion')}), containers on the engine at start: "
        f"{info.get('Containers')}"),
        (f"python {platform.python_version()} ({PY}), docker SDK {docker.__version__}, PyYAML {yaml.__version__} "
        f"(libyaml {yaml.__with_libyaml__}), jsonschema {pkg_version('jsonschema')}, jsonschema-rs "
        f"{_version_or_none('jsonschema-rs')}, click {pkg_version('click')}"),
        f"engine: DOCKER_HOST={os.environ.get('DOCKER_HOST') or '(unset: unix:///var/run/docker.sock)'}",
        f"deployer at git {git}{' + uncommitted changes in deployer/' if dirty else ''}",
    ]


def _version_or_none(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "NOT INSTALLED (the fast path falls back to jsonschema)"


def attempt(res: Results, item: str, fn: Callable[[], Any]) -> Any:
    """Run one item; a failure (e.g. the engine refusing to start containers) becomes an ERROR
    row and the run goes on with the next item."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001
        import traceback
        traceback.print_exc(file=sys.stderr)
        first = str(exc).strip().splitlines()
        res.add(f"{item}. (failed)", "-", "-", "-", "-", "ERROR")
        res.note(f"item {item} failed: {type(exc).__name__}: {' / '.join(first[:1] + first[-2:])[:400]}")
        return None


def print_table(res: Results) -> None:
    header = ("item", "ours (median)", "floor (median)", "ratio", "target", "result")
    rows = [header] + [(r.item, r.ours, r.floor, r.ratio, r.target, r.result) for r in res.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows[1:]:
        print(line(row))
    if res.notes:
        print()
        for n in res.notes:
            print(f"- {n}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="small N and fewer repetitions: a smoke run")
    ap.add_argument("--with-compose", action="store_true", help="install docker-compose (apt-get) if missing; run item 6")
    ap.add_argument("--only", default="1,2,3,4,5,6,7,8", help="comma-separated items to run (default all)")
    ap.add_argument("--keep-temp", action="store_true", help="keep the temp dir of manifests (containers are removed)")
    ap.add_argument("--repeat-slow", type=int, default=None, metavar="K",
                    help="repetitions of the slow items (3, 5 and item 3's interleaved raw/default/settle=0 triples; default 3)")
    args = ap.parse_args()
    only = {int(x) for x in args.only.split(",") if x.strip()}

    q = args.quick
    N_BIG = 200 if q else 1000
    FILES_BIG = 10 if q else 50
    N_APPLY = 20 if q else 100
    N_COMPOSE = 50 if q else 300
    N_HUGE = 2000 if q else 10_000
    K_FAST = 3 if q else 5
    K_SLOW = args.repeat_slow or (2 if q else 3)

    run = pysecrets.token_hex(3)
    global ENGINE
    eng = ENGINE = Engine(run)

    def on_term(signum: int, frame: Any) -> None:
        raise SystemExit(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)

    print(f"command: {shlex.join(['python3', '-m', 'bench.run'] + sys.argv[1:])}   (cwd {os.getcwd()})")
    for line in machine_info(eng):
        print(line)
    try:
        eng.api.inspect_image(IMAGE)
    except docker.errors.ImageNotFound:
        print(f"error: image {IMAGE} missing; run: bash scripts/engine-up.sh", file=sys.stderr)
        return 1
    root = Path(tempfile.mkdtemp(prefix=f"bench-{run}-"))
    os.chmod(root, 0o755)
    print(f"run id: {run} (containers labelled {RUN_LABEL}={run}, fleets bench-{run}*), temp dir {root}")
    print(f"sizes: validate/plan N={N_BIG} in {FILES_BIG} files, apply N={N_APPLY}, compose N={N_COMPOSE}; "
          f"k={K_FAST} (fast) / {K_SLOW} (slow)")
    sys.stdout.flush()

    # The deployer's modules load from byte code, as an installed package's do; without this, a
    # shell with PYTHONDONTWRITEBYTECODE=1 makes every child compile them from source (~90 ms).
    subprocess.run([PY, "-m", "compileall", "-q", str(REPO / "deployer")], check=False, capture_output=True)
    print(f"byte-compiled {REPO / 'deployer'} (PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})")

    res = Results()
    started = time.perf_counter()
    compose = find_compose()
    if 6 in only and compose is None and args.with_compose:
        compose = install_compose()
    try:
        need_big = bool(only & {1, 2, 4, 5, 7})
        big = None
        if need_big:
            log(f"writing {N_BIG} bot manifests, state dirs and secrets")
            big = make_fleet(root, f"bench-{run}", N_BIG, files=FILES_BIG, state="stopped", port_base=20000)
        if 1 in only and big:
            log("item 1: validate")
            attempt(res, "1", lambda: item1_validate(res, big, K_FAST))
        small_calls: dict[str, int] = {}
        if 3 in only or 2 in only:
            base = free_port_base(N_APPLY)
            small = make_fleet(root, f"bench-{run}-a", N_APPLY, files=max(1, N_APPLY // 20), state="running",
                               port_base=base)
            if 3 in only:
                log(f"item 3: apply {N_APPLY} new bots vs raw SDK (host ports {base}..{base + N_APPLY - 1})")
                small_calls = attempt(res, "3", lambda: item3_apply_new(res, eng, small, K_SLOW)) or {}
            if not small_calls:  # only the N=small call count is needed (or item 3 failed)
                small.state = "stopped"
                small.write()
                eng.clean(f"{LABEL_FLEET}={small.fleet}")
                run_timed([PY, "-m", "deployer", "apply", "--yes", "--parallelism", "8", str(small.dir)])
                small_calls = plan_calls(small.dir)
            eng.clean(f"{LABEL_FLEET}={small.fleet}")
        if big and only & {2, 4, 5}:
            log(f"creating the {N_BIG}-bot fleet (state stopped) with deployer apply --parallelism 8")
            create_big_fleet(res, eng, big)
            if 2 in only:
                log("item 2: plan")
                attempt(res, "2", lambda: item2_plan(res, big, K_FAST, small_calls, N_APPLY))
            if 5 in only:
                log("item 5: peak memory")
                attempt(res, "5", lambda: item5_memory(res, big, K_SLOW))
            if 4 in only:
                log("item 4: one change")
                attempt(res, "4", lambda: item4_one_change(res, eng, big, K_SLOW if q else 5))
            if 7 in only:
                log(f"item 7: plan of {N_HUGE} bots against a recorded engine")
                attempt(res, "7", lambda: item7_plan_10k(res, eng, root, run, big, N_BIG, N_HUGE, K_SLOW))
            n, dt = eng.clean(f"{LABEL_FLEET}={big.fleet}")
            res.note(f"cleanup: removed the {n} containers of the big fleet in {fmt_s(dt)} (8 in parallel)")
        elif 7 in only:
            log(f"item 7: plan of {N_HUGE} bots against a recorded engine")
            attempt(res, "7", lambda: item7_plan_10k(res, eng, root, run, big, N_BIG, N_HUGE, K_SLOW))
        if 8 in only:
            log("item 8: --help")
            attempt(res, "8", lambda: item8_help(res, 15))
        if 6 in only:
            log("item 6: docker-compose")
            attempt(res, "6", lambda: item6_compose(res, eng, root, run, N_COMPOSE, K_SLOW, compose))
    finally:
        total = time.perf_counter() - started
        print(f"\nresults (wall time {total / 60:.1f} min; medians; 'floor' measured in the same run):\n")
        print_table(res)
        sys.stdout.flush()
        try:
            n, dt = eng.clean()
            if n:
                log(f"final cleanup removed {n} leftover containers of run {run}")
            left = [(r.get("Names") or ["/?"])[0].lstrip("/") for r in eng.ours() + eng.markers()]
        except Exception as exc:  # noqa: BLE001
            left = [f"(could not list: {exc})"]
        if left:
            print(f"\nWARNING: the engine did not remove {len(left)} container(s) of this run: "
                  f"{', '.join(sorted(left)[:20])}; remove them with: "
                  f"docker rm -f $(docker ps -aq --filter label={RUN_LABEL}={run})")
        if not args.keep_temp:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
