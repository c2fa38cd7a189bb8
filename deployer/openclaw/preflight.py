"""The gateway's own checks, run once per changed bot before anything changes.

The bot's image runs offline (no network, read-only root, a throwaway state on tmpfs) with the
candidate config and the bot's secrets mounted as the gateway would see them, and runs
`config validate --json` then `secrets audit --check --json`. One container runs both (a
node script spawns the CLI twice), so a bot costs one container start, not two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deployer.core.model import BotSpec
from deployer.core.vocabulary import SECRETS_MOUNT
from deployer.openclaw.config import CONFIG_MOUNT, STATE_MOUNT

MARK = "DEPLOYER-PREFLIGHT "
# Runs in the image's working directory; argv[1] is the CLI as JSON (spec.gateway.cli).
SCRIPT = (
    "const {spawnSync}=require('child_process');const cli=JSON.parse(process.argv[1]);"
    "const run=a=>{const r=spawnSync(cli[0],cli.slice(1).concat(a),{encoding:'utf8',maxBuffer:1<<24});"
    "return {code:r.status,signal:r.signal,out:(r.stdout||'').slice(-20000),err:(r.stderr||'').slice(-4000),"
    "error:r.error?String(r.error):null}};"
    "const v=run(['config','validate','--json']);const a=run(['secrets','audit','--check','--json']);"
    "process.stdout.write('\\n" + MARK + "'+JSON.stringify({validate:v,audit:a})+'\\n');"
)
TIMEOUT = 120.0


@dataclass(frozen=True)
class PreflightRun:
    """Everything the backend needs to run a bot's preflight container."""

    image: str
    command: list[str]
    entrypoint: list[str]
    user: str
    env: dict[str, str]
    binds: list[tuple[str, str, bool]]
    tmpfs: dict[str, str]


def preflight_run(bot: BotSpec, config_dir: str, secrets_source: str | None, uid: int) -> PreflightRun:
    env = dict(bot.env)
    binds = [(config_dir, CONFIG_MOUNT, True)]
    if secrets_source:
        binds.append((secrets_source, SECRETS_MOUNT, True))
    home = STATE_MOUNT.rsplit("/", 1)[0]
    return PreflightRun(
        image=bot.image,
        command=["-e", SCRIPT, json.dumps(list(bot.gateway_cli))],
        entrypoint=["node"],
        user=bot.user or str(uid),
        env=env,
        binds=binds,
        tmpfs={home: f"rw,nosuid,nodev,uid={uid},gid={uid},mode=0700", "/tmp": "rw,nosuid,nodev,mode=1777"},
    )


def verdict(exit_code: int, output: str) -> list[str]:
    """OpenClaw's own complaints, one line each; empty when both checks passed."""
    line = next((ln for ln in reversed(output.splitlines()) if ln.startswith(MARK)), None)
    if line is None:
        tail = " | ".join(ln.strip() for ln in output.strip().splitlines()[-5:] if ln.strip())
        return [f"the preflight container exited with code {exit_code} before reporting"
                + (f": {tail}" if tail else "")]
    results = json.loads(line[len(MARK):])
    # an invalid config makes the audit say only "Config is invalid; cannot validate secret references"
    return _validate_problems(results["validate"]) or _audit_problems(results["audit"])


def _validate_problems(run: dict[str, Any]) -> list[str]:
    if run.get("code") == 0:
        return []
    doc = _json(run.get("out", ""))
    if run.get("error"):
        return [f"openclaw config validate could not run: {run['error']}"]
    if isinstance(doc, dict):
        issues = doc.get("issues") or []
        out = [f"openclaw config validate: {i.get('path') or '<root>'}: {i.get('message')}" for i in issues
               if isinstance(i, dict)]
        if out:
            return out
        err = doc.get("error")
        if isinstance(err, dict) and err.get("message"):
            return [f"openclaw config validate: {err['message']}"]
    return [f"openclaw config validate exited {run.get('code')}: {_tail(run)}"]


def _audit_problems(run: dict[str, Any]) -> list[str]:
    if run.get("code") == 0:
        return []
    if run.get("error"):
        return [f"openclaw secrets audit could not run: {run['error']}"]
    doc = _json(run.get("out", ""))
    if isinstance(doc, dict):
        findings = doc.get("findings") or []
        out = []
        for f in findings:
            if isinstance(f, dict):
                text = f.get("message") or f.get("reason") or json.dumps(f, sort_keys=True)
                where = f.get("jsonPath") or f.get("path") or f.get("ref") or ""
                out.append(f"openclaw secrets audit: {text}" + (f" ({where})" if where and where not in text else ""))
        if out:
            return out
    return [f"openclaw secrets audit exited {run.get('code')}: {_tail(run)}"]


def _json(text: str) -> Any:
    text = text.strip()
    start = text.find("{")
    if start < 0:
        return None
    try:
        return json.loads(text[start:])
    except ValueError:
        return None


def _tail(run: dict[str, Any]) -> str:
    text = (run.get("err") or "") + "\n" + (run.get("out") or "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-3:]) or "no output"
