"""Fixed hostile inputs for `deployer validate`, and a way to run one in a process of its own
that reports its wall time and peak RSS (os.wait4's rusage of that very child).

Each case is a function (dir) -> (args, expectation); the files it needs are written under
`dir`. Run alone for a quick look:  python3 -m tests.support.hostile_cases
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent.parent
MEASURED_CLI = Path(__file__).resolve().parent / "measured_cli.py"

BOT_HEAD = "apiVersion: botmaker/v1\nkind: Bot\nmetadata:\n  name: {name}\nspec:\n  image: ghcr.io/openclaw/openclaw:2026.2.26\n"


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float

    def describe(self) -> str:
        return (f"rc {self.returncode} in {self.seconds:.1f}s, peak RSS {self.max_rss_mb:.0f} MB\n"
                f"--- stdout (head)\n{self.stdout[:3000]}\n--- stderr (head)\n{self.stderr[:3000]}")


def run_measured(args: list[str], timeout: float = 120.0) -> Outcome:
    """`deployer <args>` in a child process (tests/support/measured_cli.py): its wall time
    and its own peak RSS (VmHWM, written by the child at exit). Killed after `timeout`."""
    with tempfile.TemporaryDirectory() as tmp:
        out, err, peak = Path(tmp) / "out", Path(tmp) / "err", Path(tmp) / "peak"
        env = dict(os.environ, NO_COLOR="1", MEASURE_OUT=str(peak))
        started = time.monotonic()
        with open(out, "wb") as o, open(err, "wb") as e:
            proc = subprocess.Popen([sys.executable, str(MEASURED_CLI), *args], cwd=str(REPO), env=env,
                                    stdin=subprocess.DEVNULL, stdout=o, stderr=e)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        seconds = time.monotonic() - started
        peak_kb = int(peak.read_text() or 0) if peak.exists() else -1
        return Outcome(proc.returncode, out.read_bytes().decode("utf-8", "replace"),
                       err.read_bytes().decode("utf-8", "replace"), seconds, peak_kb / 1024)


# --- the cases ------------------------------------------------------------------------------------
# Each returns (argv after `deployer`, substrings the output must contain).

Case = Callable[[Path], tuple[list[str], list[str]]]


def _write(path: Path, data: str | bytes) -> str:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def alias_bomb(d: Path):
    """The classic "billion laughs": 9 levels of 10 aliases each, 10^9 nodes once expanded."""
    lines = [BOT_HEAD.format(name="laughs") + "  env:", '    L0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"    L{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 10) + "]")
    return ["validate", _write(d / "bomb.yaml", "\n".join(lines) + "\n")], ["alias bomb"]


def alias_bomb_mappings_many_docs(d: Path):
    """50 documents, each a 10^6-node bomb built from mappings: the budget is per file."""
    doc = ["---", BOT_HEAD.format(name="maps").rstrip("\n"), "  labels:", "    m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}"]
    for i in range(1, 7):
        doc.append(f"    m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i - 1}" for j in range(10)) + "}")
    text = "\n".join(doc) + "\n"
    return ["validate", _write(d / "maps.yaml", text * 50)], ["error(s)"]


def file_50mb(d: Path):
    path = d / "huge.yaml"
    with open(path, "wb") as f:
        f.write(BOT_HEAD.format(name="huge").encode())
        chunk = b"# " + b"x" * 1022 + b"\n"
        for _ in range(50 * 1024):
            f.write(chunk)
    return ["validate", str(path)], ["manifests are limited to"]


def dense_file_under_limit(d: Path):
    """Just under the 8 MB size limit, but 3.9 million YAML nodes: one flow list of zeros."""
    n = 3_900_000
    text = BOT_HEAD.format(name="dense") + "  command: [" + "0," * n + "0]\n"
    return ["validate", _write(d / "dense.yaml", text)], ["error(s)"]


def many_empty_documents(d: Path):
    """200,000 empty documents in 800 KB."""
    return ["validate", _write(d / "docs.yaml", "---\n" * 200_000)], ["error(s)"]


def not_utf8(d: Path):
    text = BOT_HEAD.format(name="latin").encode() + b"  env: {GREETING: caf\xe9 cr\xe8me}\n"
    return ["validate", _write(d / "latin1.yaml", text)], ["not valid UTF-8"]


def utf16(d: Path):
    return ["validate", _write(d / "utf16.yaml", BOT_HEAD.format(name="wide").encode("utf-16"))], ["error(s)"]


def nul_bytes(d: Path):
    return ["validate", _write(d / "nul.yaml", BOT_HEAD.format(name="nul").encode() + b"\0\0\0")], ["binary file"]


def name_dotdot(d: Path):
    """A bot named ../../etc, checked with --secrets against a real secrets directory."""
    secrets = d / "secrets"
    secrets.mkdir(mode=0o700)
    os.chmod(secrets, 0o700)
    text = ("apiVersion: botmaker/v1\nkind: Fleet\nmetadata: {name: hostile}\nspec:\n"
            f"  secretsDir: {secrets}\n---\n"
            + BOT_HEAD.format(name='"../../etc"') + "  provider: {name: anthropic}\n  secrets: [ANTHROPIC_API_KEY]\n"
            + "---\n" + BOT_HEAD.format(name='"a/../b"'))
    return ["validate", "--secrets", _write(d / "dotdot.yaml", text)], ["is not a valid name"]


def name_nul(d: Path):
    """A bot name holding NUL (a YAML escape: the file itself has no NUL byte)."""
    return ["validate", "--secrets", _write(d / "nulname.yaml", BOT_HEAD.format(name='"a\\0b"'))], ["is not a valid name"]


def secrets_dir_symlink_to_root(d: Path):
    """spec.secretsDir is a symlink to / : `validate --secrets` must refuse it, reading nothing."""
    link = d / "secrets-link"
    link.symlink_to("/")
    text = ("apiVersion: botmaker/v1\nkind: Fleet\nmetadata: {name: hostile}\nspec:\n"
            f"  secretsDir: {link}\n---\n"
            + BOT_HEAD.format(name="etc") + "  provider: {name: anthropic}\n  secrets: [ANTHROPIC_API_KEY]\n")
    return ["validate", "--secrets", _write(d / "symlink.yaml", text)], ["is a symlink"]


def bot_secrets_dir_symlink_to_root(d: Path):
    """A real secrets dir whose <bot> entry is a symlink to /, and a secret file linked to /etc/shadow."""
    secrets = d / "secrets"
    secrets.mkdir(mode=0o700)
    os.chmod(secrets, 0o700)
    (secrets / "root-bot").symlink_to("/")
    own = secrets / "file-bot"
    own.mkdir(mode=0o700)
    os.chmod(own, 0o700)
    (own / "ANTHROPIC_API_KEY").symlink_to("/etc/shadow")
    text = ("apiVersion: botmaker/v1\nkind: Fleet\nmetadata: {name: hostile}\nspec:\n"
            f"  secretsDir: {secrets}\n  defaults:\n    provider: {{name: anthropic}}\n"
            "    secrets: [ANTHROPIC_API_KEY]\n    user: '0'\n---\n"
            + BOT_HEAD.format(name="root-bot") + "---\n" + BOT_HEAD.format(name="file-bot"))
    return ["validate", "--secrets", _write(d / "botlink.yaml", text)], ["is a symlink"]


def deep_list_10000(d: Path):
    text = BOT_HEAD.format(name="deep") + "  command: " + "[" * 10_000 + "]" * 10_000 + "\n"
    return ["validate", _write(d / "deep.yaml", text)], ["nested too deeply"]


def deep_map_10000(d: Path):
    text = BOT_HEAD.format(name="deepmap") + "  labels: " + "{a: " * 10_000 + "b" + "}" * 10_000 + "\n"
    return ["validate", _write(d / "deepmap.yaml", text)], ["nested too deeply"]


def deep_block_1500(d: Path):
    """1,500 levels of block sequences by indentation (1.1 MB of spaces)."""
    text = BOT_HEAD.format(name="block") + "  command:\n" + "".join("  " * (i + 2) + "-\n" for i in range(1500))
    return ["validate", _write(d / "block.yaml", text)], ["nested too deeply"]


def huge_strings(d: Path):
    """100,000-character name, label key and value, image, env key and value, command."""
    big = "x" * 100_000
    text = ("apiVersion: botmaker/v1\nkind: Bot\nmetadata:\n"
            f"  name: {big}\n  labels:\n    ? {big}\n    : {big}\nspec:\n  image: {big}\n"
            f"  env:\n    ? {big.upper()}_TOKEN\n    : {big}\n    OK: {big}\n  command: [{big}]\n")
    return ["validate", _write(d / "strings.yaml", text)], ["error(s)"]


def alias_million(d: Path):
    """A small bomb under the alias budget: 6 levels of 10 (L0..L5), 1.2 million nodes expanded."""
    lines = [BOT_HEAD.format(name="million") + "  env:", '    L0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 6):
        lines.append(f"    L{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 10) + "]")
    return ["validate", _write(d / "million.yaml", "\n".join(lines) + "\n")], ["error(s)"]


def newline_in_reported_names(d: Path):
    """Keys and values that end up in messages, holding newlines: each problem stays one line."""
    text = ("apiVersion: botmaker/v1\nkind: Bot\nmetadata:\n  name: \"bad\\nname\"\nspec:\n"
            "  image: ghcr.io/openclaw/openclaw:2026.2.26\n"
            "  env: {\"X\\nFAKE.yaml:1:1: $: injected_TOKEN\": v}\n"
            "  ports: [{containerPort: 1, hostPort: 80, hostIP: \"1.2.3.4\\nx\"}, "
            "{containerPort: 2, hostPort: 80, hostIP: \"1.2.3.4\\nx\"}]\n")
    return ["validate", _write(d / "newlines.yaml", text)], ["error(s)"]


CASES: dict[str, Case] = {f.__name__: f for f in (
    alias_bomb, alias_bomb_mappings_many_docs, file_50mb, dense_file_under_limit, many_empty_documents,
    not_utf8, utf16, nul_bytes, name_dotdot, name_nul, secrets_dir_symlink_to_root,
    bot_secrets_dir_symlink_to_root, deep_list_10000, deep_map_10000, deep_block_1500, huge_strings, alias_million,
    newline_in_reported_names,
)}


if __name__ == "__main__":
    for name, case in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            args, expect = case(Path(tmp))
            o = run_measured(args)
            last = (o.stdout.strip().splitlines() or ["(no output)"])[-1][:60]
            print(f"{name:32} rc={o.returncode} {o.seconds:6.2f}s {o.max_rss_mb:5.0f} MB {len(o.stdout):>9} chars  {last}")
            if "-v" in sys.argv:
                print("    " + o.stdout[:1500].replace("\n", "\n    "))
