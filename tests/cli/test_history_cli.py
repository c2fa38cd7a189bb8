"""`deployer history` as a user runs it (issue 24): per entry what it changed, bounded; every
bot's record only on request (--bots, --entry N); --format json complete. The engine is the
in-memory fake, filled by the apply flow."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from deployer.cli import main
from deployer.core.model import BotSpec, FleetSpec
from deployer.flows.apply import ApplyRequest, run_apply
from tests.support.fake_backend import FakeBackend

FLEET = "hist"


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeBackend:
    engine = FakeBackend()
    names = [f"bot{i:02d}" for i in range(12)]
    for version in ("1", "2"):  # entry 1 creates 12 bots, entry 2 replaces them
        bots = tuple(BotSpec(name=n, image="app:1", env=(("V", version),)) for n in names)
        run_apply(ApplyRequest(fleet=FleetSpec(name=FLEET, bots=bots), revision=f"rev{version}aaaa",
                               wait_timeout=5), engine)
    monkeypatch.setattr("deployer.cli.records.open_engine", lambda *a, **k: engine)
    return engine


def history(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["history", FLEET, *args])
    return result.exit_code, result.output


def test_history_says_what_each_entry_changed_and_lists_bots_on_request(engine: FakeBackend) -> None:
    code, out = history()
    assert code == 0, out
    first10 = ", ".join(f"bot{i:02d}" for i in range(10))
    assert out.splitlines() == [
        out.splitlines()[0],
        "    result: 12 succeeded, 0 failed",
        f"    replaced 12: {first10} +2 more",
        out.splitlines()[3],
        "    result: 12 succeeded, 0 failed",
        f"    created 12: {first10} +2 more",
        f"(each bot's spec hash and image ID: deployer history {FLEET} --entry N, or --bots)",
    ], out
    assert out.startswith("#2  ") and "revision rev2aaaa" in out and "v1-" not in out

    code, out = history("--entry", "1")
    assert code == 0 and out.startswith("#1  ") and "#2 " not in out, out
    assert "    bots (12):" in out and out.count(" v1-") == 12, out
    code, out = history("--bots")
    assert code == 0 and out.count(" v1-") == 24, out

    code, out = history("--format", "json")
    entries = json.loads(out)["entries"]
    assert [len(e["bots"]) for e in entries] == [12, 12]
    assert entries[0]["changes"] == {f"bot{i:02d}": "replaced" for i in range(12)}
    code, out = history("--format", "json", "--entry", "rev1")
    assert [e["entry"] for e in json.loads(out)["entries"]] == [1]

    code, out = history("--entry", "9")
    assert code == 1 and out.strip().splitlines() == ["error: no history entry #9 (kept: #2, #1)"], out
