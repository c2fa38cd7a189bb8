"""HTTP to a remote Docker engine through the system ``ssh`` client, as the docker CLI does it:
``ssh [-l user] [-p port] -- host docker system dial-stdio``, one ssh process per pooled
connection.

Why the system client and not paramiko (``docker[ssh]``): ssh itself honours the user's whole
``~/.ssh/config`` (Include, Match, ProxyJump, IdentitiesOnly, CertificateFile, ControlMaster,
UserKnownHostsFile, StrictHostKeyChecking, /etc/ssh/ssh_known_hosts) and the agent exactly
like ``docker`` and ``ssh`` do; the SDK's paramiko path reads five keys of ~/.ssh/config and
only ~/.ssh/known_hosts. The SDK's own shell-out (``use_ssh_client=True``) still needs paramiko
installed, lets ssh write its errors to our stderr, and reads without any timeout; this module
keeps ssh's stderr to turn it into one line naming the host, and honours the request timeout.

Host keys are checked as the user's ssh config says: nothing here sets StrictHostKeyChecking.
``BatchMode=yes`` only forbids prompts (a deploy must not stop to ask for a passphrase or a
"yes" to an unknown key, least of all from several parallel connections): an unknown host key
fails unless the config itself says accept-new/no.

Only requests and urllib3 are imported here; deployer/backends/docker/client.py wires it into the docker SDK.
"""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests.adapters
import urllib3.connection
import urllib3.connectionpool

CONNECT_TIMEOUT = 15  # seconds for ssh's own TCP connect (ConnectTimeout)


class SSHFailure(ConnectionError):
    """ssh could not reach the engine; str() is one line naming the host."""


@dataclass(frozen=True)
class SSHTarget:
    user: str | None
    host: str
    port: int | None

    @classmethod
    def parse(cls, url: str) -> SSHTarget:
        parts = urlsplit(url)
        return cls(parts.username, parts.hostname or "", parts.port)

    @property
    def label(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}{f':{self.port}' if self.port else ''}"

    def argv(self, ssh: str = "ssh") -> list[str]:
        args = [ssh, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}", "-T"]
        if self.user:
            args += ["-l", self.user]
        if self.port:
            args += ["-p", str(self.port)]
        return args + ["--", self.host, "docker", "system", "dial-stdio"]


def explain_ssh(target: SSHTarget, stderr: str, code: int | None) -> str:
    """ssh's stderr (many lines, banners) as one line that names the host and says what to do."""
    lines = [ln.strip() for ln in stderr.replace("\r", "\n").splitlines() if ln.strip()]
    text = " ".join(lines).lower()
    who = f"ssh to {target.label}"
    if "host key verification failed" in text or "remote host identification has changed" in text:
        if "has changed" in text:
            return (f"{who}: the host key does not match the one in known_hosts (REMOTE HOST IDENTIFICATION "
                    "HAS CHANGED); if the host was rebuilt, fix known_hosts (ssh-keygen -R), else do not deploy")
        return (f"{who}: host key verification failed (the host's key is not in known_hosts or does not match); "
                f"add it first, e.g. ssh-keyscan -p {target.port or 22} {target.host} >> ~/.ssh/known_hosts "
                "after checking its fingerprint")
    if "permission denied" in text and ("publickey" in text or "password" in text or "keyboard" in text):
        return (f"{who}: the host refused our key (Permission denied); check the user, the key "
                "(ssh-agent / IdentityFile) and the host's authorized_keys")
    for marker, what in (("connection refused", "connection refused"), ("no route to host", "no route to host"),
                         ("connection timed out", "connection timed out"), ("operation timed out", "connection timed out"),
                         ("could not resolve hostname", "cannot resolve the host name"),
                         ("network is unreachable", "network is unreachable")):
        if marker in text:
            return f"{who}: {what} (is sshd running there, and the host and port right?)"
    if "docker: command not found" in text or "docker: not found" in text or "command not found" in text:
        return f"{who}: the docker CLI is not installed there (needed for `docker system dial-stdio`)"
    if "permission denied while trying to connect to the docker" in text:
        return f"{who}: that user may not use the Docker engine there (add it to the docker group)"
    if "cannot connect to the docker daemon" in text:
        return f"{who}: no Docker engine answers on that host ({lines[-1] if lines else 'dial-stdio failed'})"
    detail = lines[-1] if lines else f"ssh exited with code {code}"
    return f"{who}: {detail}"


class _ProcessSocket:
    """Enough of a socket for http.client/urllib3, over an ssh child's stdin/stdout."""

    def __init__(self, target: SSHTarget, timeout: float | None):
        self.target = target
        self.timeout: float | None = None
        self.settimeout(timeout)
        self._err = tempfile.TemporaryFile()
        env = dict(os.environ)
        env.pop("LD_LIBRARY_PATH", None)  # as the SDK does: ours is not meant for ssh
        self.proc = subprocess.Popen(
            target.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, bufsize=0,
            env=env, preexec_fn=_ignore_sigint,  # Ctrl-C is for us: the applier finishes or rolls back
        )
        self._closed = False

    # -- what urllib3 and http.client call ---------------------------------------------------------
    def settimeout(self, timeout: Any) -> None:
        self.timeout = float(timeout) if isinstance(timeout, (int, float)) else None

    def gettimeout(self) -> float | None:
        return self.timeout

    def setsockopt(self, *args: Any) -> None:  # TCP_NODELAY and friends: not ours to set
        return None

    def fileno(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def sendall(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
        except OSError:
            raise self.failure() from None

    send = sendall

    def recv_into(self, buffer: memoryview) -> int:
        fd = self.fileno()
        if self.timeout is not None:
            ready, _, _ = select.select([fd], [], [], self.timeout)
            if not ready:
                raise TimeoutError(f"no answer from the Docker engine over ssh to {self.target.label} "
                                     f"within {self.timeout:.0f}s")
        data = os.read(fd, len(buffer))
        if not data:
            failure = self._failure_if_dead()
            if failure is not None:
                raise failure
            return 0
        buffer[: len(data)] = data
        return len(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_Reader(self))

    def shutdown(self, how: int) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()  # dial-stdio ends when its stdin does
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._err.close()

    # -- failures ---------------------------------------------------------------------------------
    def _failure_if_dead(self) -> SSHFailure | None:
        deadline = time.monotonic() + 3
        while self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.proc.poll() is None or (self.proc.returncode == 0 and not self._stderr()):
            return None
        return self.failure()

    def failure(self) -> SSHFailure:
        try:
            self.proc.wait(timeout=CONNECT_TIMEOUT + 5)
        except subprocess.TimeoutExpired:
            pass
        return SSHFailure(explain_ssh(self.target, self._stderr(), self.proc.returncode))

    def _stderr(self) -> str:
        try:
            self._err.seek(0)
            return self._err.read(65536).decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""


class _Reader(io.RawIOBase):
    def __init__(self, sock: _ProcessSocket):
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._sock.recv_into(memoryview(buffer).cast("B"))


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _SSHConnection(urllib3.connection.HTTPConnection):
    def __init__(self, target: SSHTarget, timeout: float | None):
        super().__init__("localhost", timeout=timeout)
        self._target = target

    def connect(self) -> None:
        self.sock = _ProcessSocket(self._target, self.timeout)


class _SSHConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    scheme = "ssh"

    def __init__(self, target: SSHTarget, timeout: float | None, maxsize: int):
        super().__init__("localhost", timeout=timeout, maxsize=maxsize)
        self._target = target

    def _new_conn(self) -> _SSHConnection:
        return _SSHConnection(self._target, None)  # urlopen sets the real timeouts per request


class SSHAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter whose every connection is an ssh child running dial-stdio."""

    def __init__(self, url: str, *, timeout: float, max_pool_size: int):
        self.target = SSHTarget.parse(url)
        self._timeout = timeout
        self._max_pool_size = max_pool_size
        self._pool: _SSHConnectionPool | None = None
        super().__init__()

    def get_connection_with_tls_context(self, request: Any, verify: Any, proxies: Any = None,
                                        cert: Any = None) -> _SSHConnectionPool:
        return self._get_pool()

    def get_connection(self, url: Any, proxies: Any = None) -> _SSHConnectionPool:
        return self._get_pool()

    def _get_pool(self) -> _SSHConnectionPool:
        if self._pool is None:
            self._pool = _SSHConnectionPool(self.target, self._timeout, self._max_pool_size)
        return self._pool

    def request_url(self, request: Any, proxies: Any) -> str:
        return request.path_url

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        super().close()
