"""Issue 24, the command line on the real engine: `plan --out` that cannot be written, Ctrl-C at
apply's question, and the global options (-H, --no-color) given after the command."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.support.fleetkit import (  # noqa: F401 - cleanup_markers is an autouse fixture
    FAST,
    Manifests,
    bot,
    cleanup_markers,
    fleet_container_names,
    run_cli,
    run_cli_streams,
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def deployer(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deployer", *args], capture_output=True, text=True,
                          timeout=120, **kw)  # type: ignore[call-overload]


# --- defect 7: plan --out that cannot be written ----------------------------------------------------

@pytest.mark.parametrize("where", ["missing-dir", "parent-is-a-file"])
def test_plan_out_that_cannot_be_written_is_one_line_and_exit_1(tmp_path, fleet_name, secrets_dir, where):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    if where == "missing-dir":
        out, why = "/nonexistent/dir/plan.json", "directory /nonexistent/dir does not exist"
    else:
        (tmp_path / "file").write_text("x")
        out, why = str(tmp_path / "file" / "plan.json"), f"{tmp_path / 'file'} is not a directory"
    result = deployer("plan", "--out", out, m.path)
    assert (result.returncode, result.stderr) == (1, f"error: cannot write plan file {out}: {why}\n"), result
    assert result.stdout == ""  # refused before planning: no half a report
    assert not Path(out).exists()


def test_plan_out_failing_at_the_write_is_one_line_and_exit_1(tmp_path, fleet_name, secrets_dir, monkeypatch):
    """A write that fails after the checks (a full disk, a directory removed meanwhile): one line."""
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})

    def full_disk(*args: object, **kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("deployer.flows.planfile.write_plan_file", full_disk)
    code, stdout, output = run_cli_streams("plan", "--out", str(tmp_path / "plan.json"), m.path)
    assert code == 1, output
    assert "Plan: 1 to create" in stdout
    assert output.splitlines()[-1] == f"error: cannot write plan file {tmp_path / 'plan.json'}: No space left on device"
    assert "Traceback" not in output


# --- Ctrl-C at apply's question --------------------------------------------------------------------

def _own_terminal() -> None:
    """In the child: a new session whose controlling terminal is the pty on fd 0, so a typed ^C is
    a SIGINT to it, as in an operator's shell."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def converse(argv: list[str], answer: bytes, *, after: bytes, timeout: float = 120) -> tuple[int, str]:
    """Run argv on a pseudo-terminal; once `after` was printed, type `answer`; (exit code, output)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                                preexec_fn=_own_terminal)
    finally:
        os.close(slave)
    output, typed = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child is gone
                break
            if not data:
                break
            output += data
            if not typed and after in output:
                time.sleep(0.3)  # let it block in the read
                os.write(master, answer)
                typed = True
        else:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"{argv} still running after {timeout:.0f}s: {output!r}")
        code = proc.wait(timeout=60)
    finally:
        os.close(master)
    assert typed, output
    return code, output.decode(errors="replace")


def test_ctrl_c_at_the_question_exits_130_and_changes_nothing(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    code, out = converse([sys.executable, "-m", "deployer", "apply", *FAST, m.path], b"\x03",
                         after=b"Apply this plan?")
    lines = [line for line in out.replace("\r", "").splitlines() if line.strip()]
    assert code == 130, out
    assert lines[-1] == "Interrupted before any change was made; nothing was changed.", out
    assert "Aborted!" not in out and "Traceback" not in out
    assert fleet_container_names(docker_client, fleet_name) == []
    code, out = run_cli("unlock", fleet_name)  # the lock was released
    assert (code, out) == (0, f"fleet {fleet_name} is not locked\n")


def test_no_for_an_answer_still_cancels_with_exit_1(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    code, out = converse([sys.executable, "-m", "deployer", "apply", *FAST, m.path], b"n\n",
                         after=b"Apply this plan?")
    assert code == 1, out
    assert "Apply cancelled; nothing was changed." in out
    assert fleet_container_names(docker_client, fleet_name) == []


# --- the global options after the command --------------------------------------------------------

def test_no_color_before_or_after_the_command_on_a_terminal(tmp_path, fleet_name, secrets_dir):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm"
    argv = [sys.executable, "-m", "deployer"]

    for args, colour in ((["plan", m.path], True), (["--no-color", "plan", m.path], False),
                         (["plan", m.path, "--no-color"], False)):
        master, slave = pty.openpty()
        proc = subprocess.Popen([*argv, *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        data = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        os.close(master)
        assert proc.wait(timeout=60) == 0, data
        assert "Plan: 1 to create" in data.decode(), data
        assert bool(ANSI.search(data.decode())) is colour, (args, data)


def test_host_after_the_command_chooses_the_engine(tmp_path, fleet_name, secrets_dir, docker_client):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": bot()})
    socket = "unix:///var/run/docker.sock"
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}  # would fail, if -H were lost
    env.pop("DOCKER_CONTEXT", None)
    result = deployer("plan", m.path, "-H", socket, env=env)
    assert result.returncode == 0, result
    assert result.stdout.startswith(f"engine: {socket}"), result.stdout
    result = deployer("status", m.path, "--host", socket, env=env)
    assert result.returncode == 0, result
