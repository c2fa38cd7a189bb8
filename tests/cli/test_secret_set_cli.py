"""Issue 24, `deployer secret set` and the secret hints as an operator meets them (as root, on real
files): the plan's hint is the command that writes the secret, following it leaves nothing for the
next check to refuse (the bot directory included), and a value piped with `echo` is not changed
behind the operator's back but said. No engine: `validate --secrets` runs the same checks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files as the container's uid")

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "TELEGRAM_BOT_TOKEN"
KEY = "ANTHROPIC_API_KEY"
VALUE = "123456:CANARY-d41d8cd98f00b204e980"  # never printed


def deployer(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DEPLOYER_SECRETS_DIR"}
    return subprocess.run([sys.executable, "-m", "deployer", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, input=input, env=env)


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    """manifests/ with a Fleet (secretsDir tmp/secrets) and bot `support` declaring TOKEN and KEY."""
    secrets = tmp_path / "secrets"
    m = tmp_path / "manifests"
    m.mkdir()
    (m / "fleet.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: botmaker/v1
        kind: Fleet
        metadata: {{name: demo}}
        spec: {{secretsDir: {secrets}}}
        """))
    (m / "support.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: botmaker/v1
        kind: Bot
        metadata: {{name: support}}
        spec:
          image: ghcr.io/openclaw/openclaw:2026.2.26
          runtime: container
          user: "1000"
          secrets: [{TOKEN}, {KEY}]
        """))
    return tmp_path


def fixes(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What the problems say to run: `deployer secret set …` (the value on stdin) or a shell command."""
    out = []
    for line in result.stdout.splitlines():
        if 'printf %s "$VALUE" | deployer secret set' in line:
            out.append(line.split(" | ", 1)[1].split(", which", 1)[0])
        elif "; run: " in line or "; create it: " in line:
            out.append(line.split(": ", 1)[1].split("; run: ", 1)[-1].split("; create it: ", 1)[-1])
    return out


def follow(fix: str, cwd: Path) -> None:
    if not fix.startswith("deployer secret set "):
        subprocess.run(["sh", "-c", fix], check=True)
        return
    assert fix.startswith("deployer secret set support ") and fix.endswith(" -f PATHS"), fix
    name = fix.split()[4]
    for each in [TOKEN, KEY] if name == "NAME" else [name]:
        args = [each if a == "NAME" else "manifests" if a == "PATHS" else a for a in fix.split()[1:]]
        written = deployer(*args, cwd=cwd, input=VALUE)
        assert written.returncode == 0, written.stderr


# --- the hints lead to a fleet that passes --------------------------------------------------------

@pytest.mark.parametrize("start, rounds", [
    ("no-secrets-dir", 2),  # mkdir -m 700 it; then one `secret set` per secret
    ("no-bot-dir", 1),
    ("bot-dir-made-by-root", 2),  # 0755, owned by root: one chmod && chown; then the files
    ("one-file-missing", 1),
])
def test_following_the_hints_as_root_leaves_nothing_to_refuse(fleet: Path, start: str, rounds: int) -> None:
    """Before issue 24 the hint for a missing file said "write the value there with mode 0600": done as
    root, the file (and a bot directory made by `mkdir`) belong to root and the next plan refuses them."""
    secrets, bot_dir = fleet / "secrets", fleet / "secrets" / "support"
    if start != "no-secrets-dir":
        secrets.mkdir(mode=0o700)
    if start == "bot-dir-made-by-root":
        bot_dir.mkdir()
        os.chmod(bot_dir, 0o755)
    if start == "one-file-missing":
        follow("deployer secret set support NAME -f PATHS", fleet)
        (bot_dir / KEY).unlink()
    result = deployer("validate", "--secrets", "manifests", cwd=fleet)
    assert result.returncode == 1
    for _ in range(rounds):
        todo = fixes(result)
        assert todo and len(todo) == len(result.stdout.splitlines()) - 1, result.stdout  # a fix for every problem
        for fix in todo:
            follow(fix, fleet)
        result = deployer("validate", "--secrets", "manifests", cwd=fleet)
    assert (result.returncode, result.stdout) == (0, "1 bot(s) valid, 0 warning(s)\n"), result.stdout
    st = os.lstat(bot_dir)
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o700, 1000)


def test_secret_set_fixes_the_bot_directory_it_writes_into_and_says_so(fleet: Path) -> None:
    bot_dir = fleet / "secrets" / "support"
    bot_dir.mkdir(parents=True)
    os.chmod(fleet / "secrets", 0o700)
    os.chmod(bot_dir, 0o750)  # root-owned, group-readable: what a hand-made directory often is
    result = deployer("secret", "set", "support", TOKEN, "-f", "manifests", cwd=fleet, input=VALUE)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (f"fixed bot secrets directory {bot_dir}: mode 0750 -> 0700, owner 0:0 -> 1000:1000 "
                             "(the container's uid must enter it, nobody else)\n")
    st = os.lstat(bot_dir)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o700, 1000, 1000)
    again = deployer("secret", "set", "support", TOKEN, "-f", "manifests", cwd=fleet, input=VALUE)
    assert (again.returncode, again.stderr) == (0, "")  # nothing left to fix: nothing said


def test_secret_set_flags_a_secrets_directory_the_plan_refuses(fleet: Path) -> None:
    (fleet / "secrets").mkdir(mode=0o755)
    os.chmod(fleet / "secrets", 0o755)
    result = deployer("secret", "set", "support", TOKEN, "-f", "manifests", cwd=fleet, input=VALUE)
    assert result.returncode == 0, result.stderr
    root = fleet / "secrets"
    assert result.stderr == (f"warning: secrets directory {root} is open to group or others (mode 0755), and the "
                             f"plan refuses it; run: chmod 700 {root}\n")
    assert stat.S_IMODE(os.lstat(root).st_mode) == 0o755  # left as it was: it is not only this bot's


# --- a trailing newline ------------------------------------------------------------------------------

def test_echo_keeps_the_newline_and_warns(fleet: Path) -> None:
    result = deployer("secret", "set", "support", TOKEN, "-f", "manifests", cwd=fleet, input=VALUE + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stderr == (f"warning: bot support: secret {TOKEN}: the value ends with a line break (as `echo` "
                             "adds), written as is; pass --strip-newline to drop it, or pipe the value with "
                             "printf %s\n")
    assert (fleet / "secrets" / "support" / TOKEN).read_bytes() == (VALUE + "\n").encode()
    assert VALUE not in result.stdout + result.stderr


@pytest.mark.parametrize("piped", [VALUE + "\n", VALUE + "\r\n", VALUE])
def test_strip_newline_drops_it(fleet: Path, piped: str) -> None:
    result = deployer("secret", "set", "support", TOKEN, "-f", "manifests", "--strip-newline", cwd=fleet,
                      input=piped)
    assert (result.returncode, result.stderr) == (0, "")
    path = fleet / "secrets" / "support" / TOKEN
    assert path.read_bytes() == VALUE.encode()
    assert result.stdout == f"wrote {path} ({len(VALUE)} bytes, mode 0600)\n"


@pytest.mark.parametrize("piped", [VALUE, "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"],
                         ids=["printf", "multi-line"])
def test_no_warning_for_printf_or_a_multi_line_value(fleet: Path, piped: str) -> None:
    result = deployer("secret", "set", "support", KEY, "-f", "manifests", cwd=fleet, input=piped)
    assert (result.returncode, result.stderr) == (0, "")
    assert (fleet / "secrets" / "support" / KEY).read_text() == piped
