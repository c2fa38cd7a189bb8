"""Hostile input for `deployer validate`: a hypothesis property over mutated manifests, and
fixed nasty cases (tests/support/hostile_cases.py), each in a process of its own with its
time and peak memory measured.

The property: whatever the bytes of the manifest file, `validate` (click's CliRunner on the
real command, in process) exits 0 or 1 without an exception escaping, and every line it prints
is either the summary or one problem naming the file: `FILE:LINE:COL: ...` or `FILE: ...`
(stricter than `^.+?:\\d+:\\d+: ` / `^[^:]+: `: the line must start with the file's own name, so
a value that smuggles a line break into a message cannot forge a problem line).
"""

from __future__ import annotations

import atexit
import copy
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from deployer.cli import main
from tests.support.hostile_cases import CASES, run_measured

# hypothesis keeps its example database and failure patches in ./.hypothesis by default: keep
# them out of the repository (this suite writes nothing outside tmp and tests/reliability)
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="hypothesis-home-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)

MAX_PEAK_MB = 300
MAX_SECONDS = 15  # per fixed case, wall clock, python start-up included
MAX_OUTPUT_CHARS = 2_000_000
SUMMARY = re.compile(r"^(\d+ error\(s\), \d+ warning\(s\)|(\d+ bot\(s\) )?valid, \d+ warning\(s\))$")

# --- the valid starting point: a Fleet and two bots in one file (cross-document checks run) -----

VALID: list[dict[str, Any]] = [
    {
        "apiVersion": "botmaker/v1", "kind": "Fleet", "metadata": {"name": "prod"},
        "spec": {"secretsDir": "/srv/botmaker/secrets",
                 "defaults": {"image": "ghcr.io/openclaw/openclaw:2026.2.26", "user": "1000",
                              "env": {"LOG_LEVEL": "info"}}},
    },
    {
        "apiVersion": "botmaker/v1", "kind": "Bot",
        "metadata": {"name": "support-bot", "labels": {"team": "support"}},
        "spec": {
            "provider": {"name": "anthropic", "model": "claude-sonnet-4-5"},
            "channels": [{"type": "telegram"}],
            "secrets": ["ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"],
            "env": {"LOG_LEVEL": "debug", "GREETING": "hi"},
            "ports": [{"containerPort": 18789, "hostPort": 18801}],
            "volumes": [{"source": "/srv/botmaker/state/support-bot", "target": "/home/node/.openclaw"}],
            "resources": {"memory": "1g", "cpus": 1},
            "restart": "unless-stopped",
            "state": "running",
            "healthcheck": {"test": ["CMD", "wget", "-qO-", "http://127.0.0.1:18789/healthz"], "interval": "10s"},
        },
    },
    {
        "apiVersion": "botmaker/v1", "kind": "Bot", "metadata": {"name": "ops-bot"},
        "spec": {"provider": {"name": "openai"}, "secrets": ["OPENAI_API_KEY"],
                 "command": ["node", "gateway.js"], "restart": {"policy": "on-failure", "maxRetries": 3},
                 "ports": [{"containerPort": 18789, "hostPort": 18802, "hostIP": "127.0.0.1"}],
                 "network": "bots", "pullPolicy": "IfNotPresent"},
    },
]

# --- strategies ----------------------------------------------------------------------------------

no_surrogates = st.characters(blacklist_categories=("Cs",))
short_text = st.text(no_surrogates, max_size=40)
tricky_text = st.sampled_from([
    "", " ", "~", "null", "yes", "on", "0x1F", "1e400", "-.inf", ".nan", "0o17", "2001-12-14", "12:30:00",
    "../../etc/passwd", "a/../b", "a\0b", "\t", "\r\n", "\n", "\x85", "\u2028", "\ufeff", "é", "😀", "\u202e",
    "botmaker.fleet", "ghcr.io/x:latest", "x" * 64, "A_TOKEN", "PASSWORD", "/run/secrets", "0.0.0.0", "::",
    "%0A", "::error file=x::y", "${HOME}", "`id`", "$(id)", "{{ x }}", "*alias", "&anchor", "!!python/object:os.system",
])


@st.composite
def huge_text(draw):
    unit = draw(st.sampled_from(["a", "é", "😀", " ", "\n", ":", "- ", "\\", "'", '"', "x" * 7 + "\n"]))
    return unit * draw(st.integers(1_000, 100_000 // len(unit)))


def nested(depth: int, leaf: Any, as_map: bool) -> Any:
    for _ in range(depth):
        leaf = {"k": leaf} if as_map else [leaf]
    return leaf


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2 ** 80), max_value=2 ** 80),
    st.floats(), short_text, tricky_text,
)
values = st.one_of(
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                 | st.dictionaries(st.one_of(short_text, tricky_text, st.integers()), inner, max_size=4),
                 max_leaves=12),
    huge_text(),
    st.builds(nested, st.integers(1, 150), scalars, st.booleans()),
)


def containers(node: Any, path: tuple = (), seen: set[int] | None = None) -> list[tuple]:
    """Paths of every dict and list in the document (where a mutation can act); a shared or
    self-containing object (made by the share / recurse mutations) is walked once."""
    seen = set() if seen is None else seen
    if not isinstance(node, (dict, list)) or id(node) in seen:
        return []
    seen.add(id(node))
    found = [path]
    for k, v in (node.items() if isinstance(node, dict) else enumerate(node)):
        found += containers(v, path + (k,), seen)
    return found


def at(root: Any, path: tuple) -> Any:
    for part in path:
        root = root[part]
    return root


@st.composite
def mutated_data(draw) -> list[Any]:
    docs = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(docs) - 1))
        targets = containers(docs[i])
        if not targets:  # the document itself was replaced by a scalar
            docs[i] = draw(values)
            continue
        target = at(docs[i], draw(st.sampled_from(targets)))
        op = draw(st.sampled_from(["set", "set", "delete", "add", "share", "recurse", "replace_doc"]))
        if op == "replace_doc":
            docs[i] = draw(values)
            continue
        if isinstance(target, dict):
            keys = list(target)
            key = draw(st.sampled_from(keys)) if keys and op != "add" else draw(st.one_of(short_text, tricky_text))
        else:
            key = draw(st.integers(0, len(target) - 1)) if target and op != "add" else None
        if op == "delete" and key is not None and (not isinstance(target, dict) or key in target):
            del target[key]
        elif op == "share":  # the same object twice: yaml.dump writes an anchor and an alias
            other = at(docs[i], draw(st.sampled_from(targets)))
            if isinstance(target, dict):
                target[key] = other
            elif key is not None:
                target[key] = other
        elif op == "recurse" and isinstance(target, list):  # an alias to its own anchor
            target.append(target)
        elif isinstance(target, dict):
            target[key] = draw(values)
        elif key is not None:
            target[key] = draw(values)
        else:
            target.append(draw(values))
    return docs


TEXT_SNIPPETS = [
    "<<: *id001", "<<: {a: 1}", "&a x: *a", "*undefined", "? [a, b]\n: c", "? {a: 1}\n: b",
    "!!python/object/apply:os.system [ls]", "!!binary aGVsbG8=", "!custom {a: 1}", "%YAML 1.1\n---",
    "--- !Fleet", "...", "\t- tab", "key: value\nkey: value", "  duplicate: 1\n  duplicate: 2",
    "x: &big [1, 2, 3]\ny: [*big, *big, *big, *big]", "a: 'unterminated", 'b: "\\xZZ"', "- - - - -",
    "{", "]", "? ", ": ", "|\n  block", ">-\n  folded", "k: !!str", "k: !!int abc", "k: !!float x",
    "k: 0b101", "k: 1_000", "k: 2001-12-14t21:59:43.10-05:00", "\ufeffk: v",
]


@st.composite
def hostile_file(draw) -> bytes:
    docs = draw(mutated_data())
    try:
        text = yaml.safe_dump_all(docs, allow_unicode=draw(st.booleans()), sort_keys=False,
                                  default_flow_style=draw(st.sampled_from([False, True, None])),
                                  width=draw(st.sampled_from([80, 10, 10 ** 6])))
    except (yaml.YAMLError, RecursionError, ValueError):
        text = yaml.safe_dump_all(VALID, sort_keys=False)
    lines = text.split("\n")
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["dup", "snippet", "delete", "indent", "swap"]))
        n = draw(st.integers(0, max(0, len(lines) - 1)))
        if op == "dup" and lines:
            lines.insert(n, lines[n])
        elif op == "snippet":
            indent = " " * draw(st.sampled_from([0, 2, 4]))
            lines.insert(n, indent + draw(st.sampled_from(TEXT_SNIPPETS)))
        elif op == "delete" and lines:
            del lines[n]
        elif op == "indent" and lines:
            lines[n] = " " + lines[n]
        elif op == "swap" and len(lines) > 1:
            m = draw(st.integers(0, len(lines) - 1))
            lines[n], lines[m] = lines[m], lines[n]
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = data.replace(b"\n", draw(st.sampled_from([b"\r\n", b"\r", b"\n"])))
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from(["insert", "overwrite", "truncate", "bom"]))
        pos = draw(st.integers(0, len(data)))
        if op == "insert":
            data = data[:pos] + draw(st.binary(min_size=1, max_size=32)) + data[pos:]
        elif op == "overwrite":
            junk = draw(st.binary(min_size=1, max_size=16))
            data = data[:pos] + junk + data[pos + len(junk):]
        elif op == "truncate":
            data = data[:pos]
        else:
            data = b"\xef\xbb\xbf" + data
    return data


# --- the property -------------------------------------------------------------------------------

STATS = {"examples": 0, "exit 0": 0, "exit 1": 0, "max bytes": 0}


@pytest.fixture(scope="module")
def work_dir():
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        yield Path(tmp)
    print(f"\nhypothesis: {STATS['examples']} examples run ({STATS['exit 0']} valid, {STATS['exit 1']} "
          f"rejected; largest file {STATS['max bytes']} bytes)")


def check_validate_output(path: Path, exit_code: int, output: str, *, under: bool = False) -> None:
    """Every line but the summary is a problem of `path` (or, with under=True, of any file below
    the directory `path`: secret files are reported by their own path)."""
    where = re.escape(str(path)) + (r"/[^:]+" if under else "")
    file_re = re.compile(rf"^{where}(:\d+:\d+)?: ")
    lines = output.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    assert lines, "validate printed nothing"
    assert SUMMARY.match(lines[-1]), f"last line is not the summary: {lines[-1][:300]!r}"
    if exit_code == 1:
        assert lines[-1].endswith("warning(s)") and not lines[-1].startswith("0 error"), lines[-1]
    else:
        assert "error(s)" not in lines[-1], lines[-1]
    for line in lines[:-1]:
        assert file_re.match(line), f"not a located problem line: {line[:300]!r}"
        # the looser forms asked for: FILE:LINE:COL: or a file-level FILE: message
        assert re.match(r"^.+?:\d+:\d+: ", line) or re.match(r"^[^:]+: ", line), line[:300]


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(data=hostile_file())
def test_validate_survives_any_mutated_manifest(work_dir, data):
    path = work_dir / "manifest.yaml"
    path.write_bytes(data)
    result = CliRunner().invoke(main, ["validate", str(path)])
    STATS["examples"] += 1
    STATS["max bytes"] = max(STATS["max bytes"], len(data))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"exception escaped: {result.exception!r}\n{result.output[:2000]}")
    assert result.exit_code in (0, 1), (result.exit_code, result.output[:2000])
    STATS[f"exit {result.exit_code}"] += 1
    check_validate_output(path, result.exit_code, result.output)


def test_nul_in_a_path():
    """argv cannot carry a NUL byte (exec takes C strings), so only the library sees one; through
    CliRunner click's Path type raises ValueError before the command runs (noted, not reachable
    from a shell)."""
    from deployer.manifest import load_paths

    documents, problems = load_paths(["bad\0name.yaml", "../\0/etc"])
    assert documents == []
    assert [p.message for p in problems] == ["path contains a NUL byte"] * 2
    assert all("\0" not in p.format() for p in problems)


# --- fixed cases, each in its own process, time and memory measured -----------------------------

KNOWN_UNFIXED: dict[str, str] = {}  # cases measured to exceed the bounds, with the reason


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixed_hostile_case_is_refused_quickly_with_bounded_memory(case, tmp_path, request):
    if case in KNOWN_UNFIXED:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_UNFIXED[case], strict=False))
    args, expected = CASES[case](tmp_path)
    outcome = run_measured(args, timeout=120)
    context = f"{case}: deployer {' '.join(a[:80] for a in args)}\n{outcome.describe()}"
    assert outcome.returncode == 1, context
    assert "Traceback" not in outcome.stdout + outcome.stderr, context
    for text in expected:
        assert text in outcome.stdout, f"expected {text!r}\n{context}"
    assert len(outcome.stdout) < MAX_OUTPUT_CHARS, context
    check_validate_output(tmp_path, outcome.returncode, outcome.stdout, under=True)
    assert 0 < outcome.max_rss_mb < MAX_PEAK_MB, context
    assert outcome.seconds < MAX_SECONDS, context
    print(f"\n{case}: {outcome.seconds:.2f}s, peak {outcome.max_rss_mb:.0f} MB, {len(outcome.stdout)} chars out")
