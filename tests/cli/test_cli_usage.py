"""Issue 24, the command line as a whole: usage errors exit 1 (2 only ever means "changes/drift
found"), the global options go before or after any command, shell completion. Subprocesses, as an
operator runs them; no engine (an engine that cannot be reached is one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deployer.cli import main

ROOT = Path(__file__).resolve().parents[2]
M = ["examples/fleet.yaml", "examples/bots"]
NO_ENGINE = "unix:///nonexistent/deployer-test/docker.sock"
COMMANDS = ["validate", "plan", "drift", "status", "apply", "rollback", "unlock", "history", "secret set"]


def deployer(*args: str, env: dict[str, str] | None = None, prog: str | None = None,
             input: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m deployer ARGS`; with `prog`, as the installed script of that name runs it."""
    argv = ([sys.executable, "-c", f"from deployer.cli import main; main(prog_name={prog!r})"] if prog
            else [sys.executable, "-m", "deployer"])
    base = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    return subprocess.run([*argv, *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**base, **(env or {})}, input=input)


# --- defect 8: usage errors exit 1 ----------------------------------------------------------------

USAGE_ERRORS = [
    pytest.param(("drift", *M, "--formt", "json"), "No such option --formt", id="drift-typo"),
    pytest.param(("plan", "--detailed-exitcode"), "Missing argument 'PATHS...'", id="plan-without-paths"),
    pytest.param(("drift",), "Missing argument 'PATHS...'", id="drift-without-paths"),
    pytest.param(("status", *M, "--format", "yaml"), "'yaml' is not one of", id="status-bad-choice"),
    pytest.param(("apply", "--parallelism", "0", *M), "0 is not in the range 1<=x<=64", id="apply-out-of-range"),
    pytest.param(("rollback", "demo"), "Missing option '--to'", id="rollback-without-to"),
    pytest.param(("history", "demo", "--limit", "x"), "'x' is not a valid integer", id="history-not-a-number"),
    pytest.param(("unlock",), "Missing argument 'FLEET'", id="unlock-without-fleet"),
    pytest.param(("secret", "set", "bot"), "Missing argument 'NAME'", id="secret-set-without-name"),
    pytest.param(("validate", "--no-such-option", *M), "No such option --no-such-option", id="validate-unknown"),
    pytest.param(("nope",), "No such command 'nope'", id="unknown-command"),
    pytest.param(("--no-such-global", "plan", *M), "No such option --no-such-global", id="unknown-global"),
]


@pytest.mark.parametrize("args, said", USAGE_ERRORS)
def test_usage_errors_exit_1_not_2(args: tuple[str, ...], said: str) -> None:
    result = deployer(*args)
    assert result.returncode == 1, result  # 2 is "changes/drift found": a typo in a drift job is not drift
    assert said.replace("'", "") in result.stderr.replace("'", ""), result.stderr
    assert "Usage:" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_no_command_prints_the_help_and_exits_1() -> None:
    result = deployer()
    assert result.returncode == 1
    assert "Commands:" in result.stdout + result.stderr


def test_the_help_ends_with_the_exit_codes_and_where_the_global_options_go() -> None:
    result = deployer("--help")
    assert result.returncode == 0
    epilog = result.stdout[result.stdout.index("Exit codes:"):]
    lines = [line.strip() for line in epilog.splitlines()]
    assert "0    success; no changes (plan --detailed-exitcode), no drift (drift)" in lines
    assert "1    an error, also a usage error (unknown option, missing argument)" in lines
    assert "2    changes found (plan --detailed-exitcode), drift found (drift)" in lines
    assert "130  apply or rollback interrupted (Ctrl-C, SIGTERM, SIGHUP)" in lines
    assert "-H/--host, -c/--context and --no-color go before or after the command." in lines
    assert 'eval "$(_DEPLOYER_COMPLETE=bash_source deployer)"' in lines


# --- the global options, before or after the command ------------------------------------------------

def _every_command() -> list[str]:
    names = []
    for name, command in sorted(main.commands.items()):
        subcommands = getattr(command, "commands", None)
        names += [f"{name} {sub}" for sub in sorted(subcommands)] if subcommands else [name]
    return names


def test_the_list_of_commands_is_complete() -> None:
    assert sorted(_every_command()) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_the_global_options(command: str) -> None:
    """Before issue 24, `deployer drift M -H URL` said "No such option: -H", and --no-color existed on
    plan, apply and rollback only."""
    result = deployer(*command.split(), "-H", NO_ENGINE, "-c", "prod", "--no-color", "--help")
    assert result.returncode == 0, result.stderr
    for flag in ("-H, --host URL", "-c, --context NAME", "--no-color"):
        assert flag in result.stdout


ENGINE_COMMANDS = [
    ("plan", *M), ("drift", *M), ("status", *M), ("unlock", "demo"), ("history", "demo"),
    ("apply", "--yes", *M), ("rollback", "demo", "--to", "1", "--yes"),
]


@pytest.mark.parametrize("args", ENGINE_COMMANDS, ids=[a[0] for a in ENGINE_COMMANDS])
def test_host_after_the_command_chooses_the_engine(args: tuple[str, ...], tmp_path: Path) -> None:
    env = {"DEPLOYER_SECRETS_DIR": str(tmp_path)}
    after = deployer(*args, "-H", NO_ENGINE, env=env)
    assert after.returncode == 1, after
    assert f"cannot reach the Docker engine at {NO_ENGINE}" in after.stderr, after.stderr
    assert "Traceback" not in after.stderr
    before = deployer("-H", NO_ENGINE, *args, env=env)
    assert (before.returncode, before.stderr) == (after.returncode, after.stderr)


def test_context_after_the_command_chooses_the_engine(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path)}  # an empty context store
    result = deployer("unlock", "demo", "--context", "prod", env=env)
    assert result.returncode == 1 and "Usage:" not in result.stderr, result.stderr
    assert "prod" in result.stderr


def test_a_global_option_given_twice_with_two_values_is_a_usage_error() -> None:
    result = deployer("-H", "unix:///a.sock", "unlock", "demo", "-H", "unix:///b.sock")
    assert result.returncode == 1
    assert "--host is given twice, as unix:///a.sock and as unix:///b.sock: give it once" in result.stderr
    same = deployer("-H", NO_ENGINE, "unlock", "demo", "--host", NO_ENGINE)
    assert same.returncode == 1 and f"cannot reach the Docker engine at {NO_ENGINE}" in same.stderr


def test_no_color_after_a_command_that_prints_no_colour_is_accepted() -> None:
    result = deployer("validate", *M, "--no-color")
    assert (result.returncode, result.stdout) == (0, "3 bot(s) valid, 0 warning(s)\n")


# --- shell completion --------------------------------------------------------------------------------

@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_script_is_produced(shell: str) -> None:
    """What the README's lines evaluate: `_DEPLOYER_COMPLETE=<shell>_source deployer`."""
    result = deployer(env={"_DEPLOYER_COMPLETE": f"{shell}_source"}, prog="deployer")
    assert result.returncode == 0, result.stderr
    assert "_DEPLOYER_COMPLETE" in result.stdout and len(result.stdout.splitlines()) > 5, result.stdout


def test_completion_completes_commands_and_options() -> None:
    def complete(words: str) -> list[str]:
        result = deployer(env={"_DEPLOYER_COMPLETE": "bash_complete", "COMP_WORDS": words,
                               "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))},
                          prog="deployer")
        assert result.returncode == 0, result.stderr
        return [line.split(",", 1)[1] for line in result.stdout.splitlines()]

    assert complete("deployer pl") == ["plan"]
    assert complete("deployer drift --form") == ["--format"]
    assert complete("deployer drift --format ") == ["text", "json"]
