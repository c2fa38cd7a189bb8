"""The preflight: the container it asks for, and OpenClaw's own verdict parsed from its output.

data/openclaw/preflight-*.out are real outputs of deployer/openclaw:2026.9.6 (node 26.10.0,
openclaw 2026.9.6) running this module's SCRIPT with the mounts preflight_run gives, offline:
  clean              every secret file 0600, uid 1000
  insecure-key       ANTHROPIC_API_KEY 0644 (audit exit 2, REF_UNRESOLVED)
  invalid-config     spec.openclaw {logging: {level: bogus}} (validate exit 1; the audit then only says
                     the config is invalid)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from deployer.core.model import BotSpec, FleetSpec, Port
from deployer.openclaw.container import with_gateway
from deployer.openclaw.preflight import MARK, SCRIPT, preflight_run, verdict

DATA = Path(__file__).resolve().parent / "data" / "openclaw"
FLEET = FleetSpec(name="demo", state_dir="/srv/state", config_dir="/srv/config")


def gateway_bot(**fields) -> BotSpec:
    base = dict(name="support", image="deployer/openclaw:2026.9.6", runtime="openclaw",
                secrets=("ANTHROPIC_API_KEY", "OPENCLAW_GATEWAY_TOKEN"), ports=(Port(18789, 18801),),
                env=(("TZ", "UTC"),))
    base.update(fields)
    return with_gateway(BotSpec(**base), FLEET)


def output(**runs: dict) -> str:
    """A preflight output whose MARK line reports `runs` (validate, audit)."""
    ok = {"code": 0, "signal": None, "out": "", "err": "", "error": None}
    results = {name: {**ok, **runs.get(name, {})} for name in ("validate", "audit")}
    return "\n" + MARK + json.dumps(results) + "\n"


# --- the container ------------------------------------------------------------------------------

def test_preflight_run_mounts_config_and_secrets_read_only_on_a_throwaway_home() -> None:
    bot = gateway_bot()
    run = preflight_run(bot, "/srv/config/.preflight-support-1234", "/srv/secrets/support", 1000)
    assert run.image == "deployer/openclaw:2026.9.6"
    assert run.entrypoint == ["node"]
    assert run.command[0] == "-e" and run.command[1] == SCRIPT and len(run.command) == 3
    assert json.loads(run.command[2]) == ["node", "dist/index.js"]
    assert run.user == "1000"
    assert run.env == {
        "TZ": "UTC",
        "OPENCLAW_CONFIG_PATH": "/etc/openclaw/openclaw.json",
        "OPENCLAW_CONFIG_READONLY": "1",
        "OPENCLAW_STATE_DIR": "/home/node/.openclaw",
    }
    assert run.binds == [("/srv/config/.preflight-support-1234", "/etc/openclaw", True),
                         ("/srv/secrets/support", "/run/secrets", True)]
    # the state dir and ~/.cache (SQLite snapshot staging) both live on the tmpfs home
    assert run.tmpfs == {"/home/node": "rw,nosuid,nodev,uid=1000,gid=1000,mode=0700",
                         "/tmp": "rw,nosuid,nodev,mode=1777"}
    assert all(f"{FLEET.state_dir}/" not in src for src, _, _ in run.binds)  # never the real state


def test_preflight_run_without_secrets_custom_cli_and_user() -> None:
    bot = gateway_bot(secrets=(), ports=(), user="1234:1234", gateway_cli=("node", "/opt/oc/openclaw.mjs"))
    run = preflight_run(bot, "/cfg", None, 1234)
    assert run.binds == [("/cfg", "/etc/openclaw", True)]
    assert run.user == "1234:1234"
    assert json.loads(run.command[2]) == ["node", "/opt/oc/openclaw.mjs"]
    assert "uid=1234,gid=1234" in run.tmpfs["/home/node"]


# --- OpenClaw's verdict, real outputs -----------------------------------------------------------

def real(name: str) -> str:
    return (DATA / f"preflight-{name}.out").read_text()


def test_real_clean_output_has_no_problems() -> None:
    assert verdict(0, real("clean")) == []


def test_real_insecure_key_quotes_the_audit() -> None:
    assert verdict(0, real("insecure-key")) == [
        "openclaw secrets audit: Failed to resolve file:anthropic_api_key:value (secrets.providers.anthropic_api_key"
        ".path permissions are too open: /run/secrets/ANTHROPIC_API_KEY | insecure-permissions). (models.providers.anthropic.apiKey)"
    ]


def test_real_invalid_config_quotes_only_validate() -> None:
    # the audit's "Config is invalid; cannot validate secret references reliably." is left out
    assert verdict(0, real("invalid-config")) == [
        'openclaw config validate: logging.level: Invalid input (allowed: "silent", "fatal", "error", "warn", '
        '"info", "debug", "trace")'
    ]


# --- OpenClaw's verdict, shapes ------------------------------------------------------------------

VALID = {"code": 0, "out": '{"valid":true,"path":"/etc/openclaw/openclaw.json","warnings":[]}'}
CLEAN = {"code": 0, "out": '{"status":"clean","findings":[]}'}

VERDICT_CASES = [
    pytest.param(0, output(validate=VALID, audit=CLEAN), [], id="both-pass"),
    pytest.param(0, output(validate={"code": 1, "out": json.dumps({
        "ok": False, "error": {"type": "cli_error", "message": "OpenClaw config is invalid: /etc/openclaw/openclaw.json"},
        "valid": False, "path": "/etc/openclaw/openclaw.json",
        "issues": [{"path": "gateway.port", "message": "Invalid input: expected number, received string"},
                   {"path": "", "message": 'Unrecognized key: "bogus"'}]})}),
        ["openclaw config validate: gateway.port: Invalid input: expected number, received string",
         'openclaw config validate: <root>: Unrecognized key: "bogus"'], id="validate-issues-one-line-each"),
    pytest.param(0, output(validate={"code": 1, "out": json.dumps({
        "ok": False, "error": {"type": "cli_error", "message": "file not found"}, "valid": False,
        "path": "/etc/openclaw/openclaw.json"})}),
        ["openclaw config validate: file not found"], id="validate-error-without-issues"),
    pytest.param(0, output(validate={"code": 1, "out": "Config file not found: /etc/openclaw/openclaw.json\n",
                                     "err": "× something\n"}),
        ["openclaw config validate exited 1: × something | Config file not found: /etc/openclaw/openclaw.json"],
        id="validate-not-json"),
    pytest.param(0, output(validate={"code": None, "error": "Error: spawnSync node ENOENT"}),
        ["openclaw config validate could not run: Error: spawnSync node ENOENT"], id="validate-could-not-spawn"),
    pytest.param(0, output(validate=VALID, audit={"code": 2, "out": json.dumps({"status": "unresolved", "findings": [
        {"code": "REF_UNRESOLVED", "severity": "error", "jsonPath": "models.providers.anthropic.apiKey",
         "message": "Failed to resolve file:anthropic_api_key:value (... must not be hardlinked: "
                    "/run/secrets/ANTHROPIC_API_KEY | hardlink)."},
        {"code": "REF_UNRESOLVED", "message": 'Secret provider "nope" is not configured (ref: file:nope:value).',
         "path": "channels.telegram.botToken"},
    ]})}), [
        "openclaw secrets audit: Failed to resolve file:anthropic_api_key:value (... must not be hardlinked: "
        "/run/secrets/ANTHROPIC_API_KEY | hardlink). (models.providers.anthropic.apiKey)",
        'openclaw secrets audit: Secret provider "nope" is not configured (ref: file:nope:value). '
        "(channels.telegram.botToken)",
    ], id="audit-findings-one-line-each"),
    pytest.param(0, output(validate=VALID, audit={"code": 1, "out": json.dumps({"status": "findings", "findings": [
        {"code": "PLAINTEXT_FOUND", "path": "gateway.auth.token"}]})}),
        ['openclaw secrets audit: {"code": "PLAINTEXT_FOUND", "path": "gateway.auth.token"}'],
        id="audit-finding-without-message"),
    pytest.param(0, output(validate=VALID, audit={"code": 2, "out": "", "err": "boom\n"}),
        ["openclaw secrets audit exited 2: boom"], id="audit-no-json"),
    pytest.param(0, output(validate=VALID, audit={"code": None, "error": "Error: spawnSync node ETIMEDOUT"}),
        ["openclaw secrets audit could not run: Error: spawnSync node ETIMEDOUT"], id="audit-could-not-spawn"),
    pytest.param(137, "starting\nKilled\n", ["the preflight container exited with code 137 before reporting: "
                                              "starting | Killed"], id="no-report-line"),
    pytest.param(1, "", ["the preflight container exited with code 1 before reporting"], id="no-output"),
    pytest.param(0, output(validate=VALID, audit=CLEAN) + "noise " + MARK + '{"validate": 1}\n', [],
                 id="report-line-must-start-the-line"),
]


@pytest.mark.parametrize("code, text, expected", VERDICT_CASES)
def test_verdict(code: int, text: str, expected: list[str]) -> None:
    assert verdict(code, text) == expected


def test_verdict_uses_the_last_report_line() -> None:
    bad = output(validate={"code": 1, "out": '{"error": {"message": "stale"}}'})
    assert verdict(0, bad + output(validate=VALID, audit=CLEAN)) == []
    assert verdict(0, output(validate=VALID, audit=CLEAN) + bad) == ["openclaw config validate: stale"]


# --- the script itself, with a local node and a stand-in CLI ---------------------------------------

FAKE_CLI = r"""
const args = process.argv.slice(2);
if (args[0] === 'config') {
  process.stdout.write(JSON.stringify({valid: true, path: process.env.OPENCLAW_CONFIG_PATH, warnings: [], args}));
  process.exit(0);
}
process.stderr.write('audit on stderr\n');
process.stdout.write(JSON.stringify({status: 'unresolved', findings: [{message: 'fake finding ' + args.join(' ')}]}));
process.exit(2);
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH to run the preflight script")
def test_script_runs_both_checks_and_reports_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "fake-openclaw.js"
    fake.write_text(FAKE_CLI)
    bot = gateway_bot(gateway_cli=("node", str(fake)))
    run = preflight_run(bot, str(tmp_path), None, os.getuid())
    done = subprocess.run(run.entrypoint + run.command, capture_output=True, text=True, timeout=30,
                          env={**os.environ, **run.env}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith(MARK))
    report = json.loads(line[len(MARK):])
    assert json.loads(report["validate"]["out"])["args"] == ["config", "validate", "--json"]
    assert report["validate"]["code"] == 0
    assert (report["audit"]["code"], report["audit"]["err"]) == (2, "audit on stderr\n")
    assert verdict(done.returncode, done.stdout) == ["openclaw secrets audit: fake finding secrets audit --check --json"]
