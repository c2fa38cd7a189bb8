"""Real remote-engine parts for tests: a private sshd and TLS certificates made with openssl.

    sshd = PrivateSSHD(tmp_dir); sshd.start()   # /usr/sbin/sshd -D -f <own config> on 127.0.0.1:<free port>
    env = sshd.client_env()                      # PATH with an `ssh` that reads the test's own ssh config
    env["DOCKER_HOST"] = sshd.docker_host        # ssh://root@127.0.0.1:<port>
    sshd.stop()                                  # SIGTERM to its pid (and SIGKILL if it lingers)

Nothing here touches the system's sshd, its config, ~/.ssh or ~/.docker: the host key, the user
key, authorized_keys and known_hosts live in the test's directory; the client side reads them
through `ssh -F <test config>` (a wrapper named `ssh` first on PATH), exactly the way a user's
~/.ssh/config would be read, including `StrictHostKeyChecking yes`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def cbot(**spec: object) -> dict[str, object]:
    """A plain-container bot on the stand-in image (runtime container: no generated OpenClaw config)."""
    from tests.support.fleetkit import bot

    return bot(runtime="container", **spec)


class Unavailable(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(*argv: str, cwd: Path | None = None) -> str:
    res = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=60)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {res.stderr.strip()}")
    return res.stdout


def keygen(path: Path) -> str:
    """A throwaway ed25519 key pair; returns the public key line."""
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "deployer-test", "-f", str(path))
    return (path.parent / (path.name + ".pub")).read_text().strip()


class PrivateSSHD:
    def __init__(self, root: Path, user: str = "root"):
        self.root = root
        self.user = user
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.host_key = root / "host_ed25519"
        self.user_key = root / "id_ed25519"
        self.known_hosts = root / "known_hosts"
        self.config = root / "sshd_config"
        self.client_config = root / "ssh_config"
        self.bin = root / "bin"
        self.log = root / "sshd.log"

    @property
    def docker_host(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> None:
        if not os.path.exists(SSHD):
            raise Unavailable(f"{SSHD} is missing (scripts/remote-tools.sh installs openssh-server)")
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        host_pub = keygen(self.host_key)
        user_pub = keygen(self.user_key)
        (self.root / "authorized_keys").write_text(user_pub + "\n")
        self.trust_host_key(host_pub)
        self.config.write_text("\n".join([
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"PidFile {self.root / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "StrictModes no",
            "PrintMotd no",
            "LogLevel ERROR",
            "",
        ]))
        self.write_client_config()
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise Unavailable(f"sshd exited with {self.proc.returncode}: {self.log.read_text()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise Unavailable(f"sshd did not listen on port {self.port}: {self.log.read_text()[-500:]}")
            time.sleep(0.1)

    def trust_host_key(self, public_line: str) -> None:
        """known_hosts says this key belongs to [127.0.0.1]:port (write a wrong one to test refusal)."""
        kind, blob = public_line.split()[:2]
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {kind} {blob}\n")

    def write_client_config(self, identity: Path | None = None) -> None:
        """What a user's ~/.ssh/config would say: our key, our known_hosts, strict checking."""
        self.client_config.write_text("\n".join([
            "Host *",
            f"  IdentityFile {identity or self.user_key}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {self.known_hosts}",
            "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes",
            "  LogLevel ERROR",
            "",
        ]))
        self.bin.mkdir(exist_ok=True)
        wrapper = self.bin / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("ssh") or "/usr/bin/ssh"} -F {self.client_config} "$@"\n')
        wrapper.chmod(0o755)

    def client_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["PATH"] = f"{self.bin}:{env.get('PATH', '/usr/bin:/bin')}"
        for k in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS"):
            env.pop(k, None)
        return env

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


# --- TLS ------------------------------------------------------------------------------------------

def make_ca(d: Path, name: str) -> tuple[Path, Path]:
    d.mkdir(parents=True, exist_ok=True)
    key, cert = d / f"{name}-key.pem", d / f"{name}.pem"
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
         "-keyout", str(key), "-out", str(cert))
    return cert, key


def issue(d: Path, ca: tuple[Path, Path], name: str, *, server: bool) -> tuple[Path, Path]:
    key, csr, cert, ext = d / f"{name}-key.pem", d / f"{name}.csr", d / f"{name}.pem", d / f"{name}.ext"
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(key),
         "-out", str(csr))
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n" if server
                   else "extendedKeyUsage=clientAuth\n")
    _run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
         "-days", "2", "-extfile", str(ext), "-out", str(cert))
    return cert, key


def cert_dir(d: Path, ca: Path, cert: Path, key: Path) -> Path:
    """A DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem as the docker CLI expects them."""
    d.mkdir(parents=True, exist_ok=True)
    shutil.copy(ca, d / "ca.pem")
    shutil.copy(cert, d / "cert.pem")
    shutil.copy(key, d / "key.pem")
    os.chmod(d / "key.pem", 0o600)
    return d


class TLSForwarder:
    """The test's own TLS-verifying listener on 127.0.0.1, forwarding each verified connection to
    the shared engine's unix socket: what `dockerd --tlsverify` does, without touching the host
    daemon's configuration. OpenSSL (via ssl) does the handshake and requires a client
    certificate signed by `ca`; a refused client sees the handshake alert, as from dockerd."""

    def __init__(self, cert: Path, key: Path, ca: Path, upstream: str = "/var/run/docker.sock"):
        import ssl

        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        self.ctx.load_verify_locations(str(ca))
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.upstream = upstream
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.refused = 0
        self._stop = False
        import threading

        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def docker_host(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        import threading

        while not self._stop:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw: socket.socket) -> None:
        import ssl
        import threading

        raw.settimeout(30)
        try:
            tls = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            self.refused += 1
            raw.close()
            return
        tls.settimeout(None)
        up = socket.socket(socket.AF_UNIX)
        up.connect(self.upstream)

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(up, tls), daemon=True).start()
        pump(tls, up)

    def close(self) -> None:
        self._stop = True
        self.listener.close()
