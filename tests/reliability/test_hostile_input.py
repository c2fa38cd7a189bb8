"""Hostile input for `deployer validate`: a hypothesis property over mutated manifests, and
fixed nasty cases (tests/support/hostile_cases.py; the strategies are in
tests/support/hostile_corpus.py), each in a process of its own with its
time and peak memory measured.

The property: whatever the bytes of the manifest file, `validate` (click's CliRunner on the
real command, in process) exits 0 or 1 without an exception escaping, and every line it prints
is either the summary or one problem naming the file: `FILE:LINE:COL: ...` or `FILE: ...`
(stricter than `^.+?:\\d+:\\d+: ` / `^[^:]+: `: the line must start with the file's own name, so
a value that smuggles a line break into a message cannot forge a problem line).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from deployer.cli import main
from tests.support.hostile_cases import CASES, run_measured
from tests.support.hostile_corpus import hostile_file

MAX_PEAK_MB = 300
MAX_SECONDS = 15  # per fixed case, wall clock, python start-up included
MAX_OUTPUT_CHARS = 2_000_000
SUMMARY = re.compile(r"^(\d+ error\(s\), \d+ warning\(s\)|(\d+ bot\(s\) )?valid, \d+ warning\(s\))$")

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
    from deployer.manifests.load import load_paths

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
