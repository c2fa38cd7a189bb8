"""The reporters on the real engine (issue 24): what plan, drift and status say about a fleet,
in each format, when its secret files are wrong, when it is created, when it drifted by hand and
when an orphan runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support.engine_harness import STAND_IN_IMAGE
from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    Manifests,
    apply_ok,
    bot,
    cleanup_markers,
    fleet_container_names,
    run_cli_streams,
    write_secret,
)

TOKEN = "TELEGRAM_BOT_TOKEN"


def secret_bot(**spec):
    return bot(channels=[{"type": "telegram"}], secrets=[TOKEN], **spec)


# --- defect 6: a plan that cannot be made is said in every format -----------------------------------

def test_plan_formats_say_the_secret_problems_on_stdout(tmp_path, fleet_name, secrets_dir, docker_client):
    """The most common PR failure: a new bot whose secret is not written yet (and one at 0644)."""
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": secret_bot(), "b": secret_bot()})
    loose = write_secret(secrets_dir, m.name("a"), TOKEN, "123456:AAloose-token-value", mode=0o644)
    missing = Path(secrets_dir) / m.name("b") / TOKEN

    code, out, both = run_cli_streams("plan", "--format", "json", m.path)
    assert code == 1, both
    doc = json.loads(out)
    assert doc["fleet"] == fleet_name and doc["actions"] == []
    by_file = {p["file"]: p for p in doc["problems"]}
    assert set(by_file) == {str(loose), str(missing.parent)}, by_file  # b's directory is not there at all
    assert "mode 0644" in by_file[str(loose)]["message"] and f"chmod 600 {loose}" in by_file[str(loose)]["message"]
    assert "does not exist" in by_file[str(missing.parent)]["message"]
    assert doc["errors"] == [f"{p['file']}: {p['message']}" for p in doc["problems"]]

    code, out, both = run_cli_streams("plan", "--format", "markdown", m.path)
    assert code == 1, both
    lines = out.splitlines()
    assert lines[:4] == [f"### deployer plan for fleet {fleet_name}", "", "> [!CAUTION]",
                         "> No plan: 2 secret problem(s); nothing was changed:"], out
    assert lines[4].startswith(f"> - `{loose}`: bot {m.name('a')}: ") and "mode 0644" in lines[4], out
    assert lines[5].startswith(f"> - `{missing.parent}`: bot {m.name('b')}: ") and len(lines) == 6, out

    code, out, both = run_cli_streams("plan", "--format", "github", m.path)
    assert code == 1, both
    lines = out.splitlines()
    assert lines[0].startswith(f"::error file={loose}::bot {m.name('a')}: secret {TOKEN} file ") and "0644" in lines[0]
    assert lines[1].startswith(f"::error file={missing.parent}::bot {m.name('b')}: bot secrets directory ")
    assert lines[2:] == ["No plan: 2 secret problem(s); nothing was changed"], out
    assert fleet_container_names(docker_client, fleet_name) == []  # a plan changes nothing


# --- a create shows the fields the new bot will run with -------------------------------------------

def test_a_create_shows_its_fields_in_every_format(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(env={"GREETING": "hi"}, resources={"memory": "64m"})})

    code, out, both = run_cli_streams("plan", m.path)
    assert code == 0, both
    lines = out.splitlines()
    start = lines.index(f"    + bot {m.name('a')} will be created")
    shown = {line.split(":", 1)[0].strip() for line in lines[start + 2:lines.index("", start)]}
    assert {"image", "env", "memory", "restart"} <= shown, out
    assert '        env: {"GREETING": "hi"}' in lines, out

    code, out, both = run_cli_streams("plan", "--format", "json", m.path)
    assert code == 0, both
    (action,) = json.loads(out)["actions"]
    changes = {c["field"]: (c["before"], c["after"]) for c in action["changes"]}
    assert changes["env"] == (None, {"GREETING": "hi"}) and changes["memory"] == (None, 64 * 1024 * 1024)
    assert changes["image"] == (None, STAND_IN_IMAGE)

    code, out, both = run_cli_streams("plan", "--format", "markdown", m.path)
    assert code == 0, both
    assert "| Field | Value |" in out and '| `env` | `{"GREETING": "hi"}` |' in out, out
    assert fleet_container_names(docker_client, fleet_name) == []


# --- the text plan shows letters as they are and memory as the manifest writes it ------------------

def test_text_plan_shows_unicode_and_memory_in_the_manifests_units(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(env={"GREETING": "hi"})})
    apply_ok(m)
    m.write({"a": bot(env={"GREETING": "h\u00e9llo"}, resources={"memory": "64m"})})

    code, out, both = run_cli_streams("plan", m.path)
    assert code == 0, both
    assert '        env: { GREETING: "hi" -> "h\u00e9llo" }  # forces replacement' in out.splitlines(), out
    assert "        memory: (none) -> 64m" in out.splitlines(), out
    assert "\\u00e9" not in out and "67108864" not in out
    # programs still get bytes
    code, out, both = run_cli_streams("plan", "--format", "json", m.path)
    (action,) = json.loads(out)["actions"]
    assert {c["field"]: c["after"] for c in action["changes"]}["memory"] == 64 * 1024 * 1024


# --- an orphan and a setting changed by hand are drift, in plan, drift and status -----------------------

def test_an_orphan_is_drift_everywhere(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot()})
    apply_ok(m)
    m.write({"a": bot()})  # b's manifest goes: its container is an orphan

    code, out, both = run_cli_streams("plan", "--detailed-exitcode", m.path)
    assert code == 2, both
    assert f"No changes. Fleet {fleet_name} does not match its manifests: orphans run (listed above)." in out
    assert "matches its manifests" not in out

    code, out, both = run_cli_streams("drift", m.path)
    assert code == 2, both
    assert f"bot {m.name('b')}: drifted (an orphan: apply --prune removes it)" in out
    assert f"Drift: 1 bot(s) of fleet {fleet_name} differ from their manifests." in out
    code, out, both = run_cli_streams("drift", "--format", "json", m.path)
    assert code == 2, both
    assert [(d["bot"], d["repair"]) for d in json.loads(out)["drifted"]] == [(m.name("b"), "orphan")]

    code, out, both = run_cli_streams("status", "--format", "json", m.path)
    assert code == 0, both
    rows = {r["bot"]: r for r in json.loads(out)["bots"]}
    assert (rows[m.name("b")]["in_sync"], rows[m.name("b")]["pending"]) == (False, "prune")
    assert (rows[m.name("a")]["in_sync"], rows[m.name("a")]["pending"]) == (True, "")
    code, out, both = run_cli_streams("status", m.path)
    (line,) = [row for row in out.splitlines() if row.lstrip().startswith(m.name("b") + " ")]
    assert "pending prune" in line and "in sync" not in line, out

    # plan without --detailed-exitcode, and apply without --prune, still change nothing
    code, out, both = run_cli_streams("plan", m.path)
    assert code == 0, both
    assert sorted(fleet_container_names(docker_client, fleet_name)) == sorted([m.cname("a"), m.cname("b")])


def test_status_sees_memory_changed_by_hand(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(resources={"memory": "64m"})})
    apply_ok(m)
    docker_client.containers.get(m.cname("a")).update(mem_limit="96m", memswap_limit="96m")

    code, out, both = run_cli_streams("drift", m.path)
    assert code == 2 and "memory: desired 64m, actual 96m" in out, both
    code, out, both = run_cli_streams("status", "--format", "json", m.path)
    assert code == 0, both
    (row,) = json.loads(out)["bots"]
    assert (row["in_sync"], row["pending"]) == (False, "update"), row
    code, out, both = run_cli_streams("status", m.path)
    assert "pending update" in out and "in sync" not in out, out


# --- status --format json: versioned, nulls for nothing, UTC times, the summary as an object -------------

def test_status_json_document(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot(), "b": bot(state="stopped")})
    apply_ok(m)

    code, out, both = run_cli_streams("status", "--format", "json", m.path)
    assert code == 0, both
    doc = json.loads(out)
    assert doc["format_version"] == "1" and list(doc)[:4] == ["format_version", "fleet", "last_apply", "bots"]
    record = doc["last_apply"]
    assert record["summary"] == {"create": 2, "replace": 0, "update": 0, "start": 0, "stop": 0, "remove": 0,
                                 "orphans": 0}, record
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["applied_at"]), record
    rows = {r["bot"]: r for r in doc["bots"]}
    running, stopped = rows[m.name("a")], rows[m.name("b")]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", running["started_at"]), running
    assert running["health"] is None  # the stand-in has no healthcheck: null, not "-"
    assert stopped["started_at"] is None and stopped["health"] is None  # never started
    assert "-" not in {v for r in doc["bots"] for v in r.values() if isinstance(v, str)}


def test_plan_shows_healthcheck_durations_as_the_manifest_writes_them(tmp_path, fleet_name, secrets_dir,
                                                                      docker_client):
    """Review of issue 24: the text and markdown plans showed healthcheck durations in nanoseconds
    (interval 10000000000); now as written (10s, 1m30s). JSON keeps the numbers."""
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    check = {"test": ["CMD", "true"], "interval": "1s", "timeout": "5s", "retries": 3, "startPeriod": "500ms"}
    m.write({"a": bot(healthcheck=check)})
    code, out, both = run_cli_streams("plan", m.path)  # a create shows its fields
    assert code == 0, both
    assert '"interval": "1s"' in out and '"startPeriod": "500ms"' in out and '"timeout": "5s"' in out, out
    apply_ok(m)
    m.write({"a": bot(healthcheck={**check, "interval": "1m30s", "timeout": "10s"})})

    code, out, both = run_cli_streams("plan", m.path)
    assert code == 0, both
    assert "        healthcheck: { interval: 1s -> 1m30s; timeout: 5s -> 10s }  # forces replacement" \
        in out.splitlines(), out
    assert "000000" not in out, out
    code, out, both = run_cli_streams("plan", "--format", "markdown", m.path)
    assert code == 0, both
    assert '| `healthcheck["interval"]` | `1s` | `1m30s` |' in out and "000000" not in out, out
    code, out, both = run_cli_streams("plan", "--format", "json", m.path)
    (action,) = json.loads(out)["actions"]
    after = {c["field"]: c["after"] for c in action["changes"]}["healthcheck"]
    assert (after["interval"], after["timeout"], after["startPeriod"]) == (90_000_000_000, 10_000_000_000, 500_000_000)
