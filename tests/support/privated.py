"""A second, private dockerd for tests that kill the engine: the shared one is never touched.

    d = PrivateDockerd(Path(tempfile.mkdtemp(prefix="dpl-", dir="/tmp")))
    d.start()                  # raises Unavailable (with the reason) when it cannot run here
    d.load_image(shared_client, "deployer-test/openclaw:1")
    d.terminate()              # SIGTERM to its pid, wait until it is gone
    d.start()                  # same data root: containers and images survive
    d.destroy()                # always (finalizer): stop, kill its leftovers, unmount, rm -rf

It runs with its own data root, exec root, pid file and unix socket, no bridge and no
iptables changes (containers use network "none"), the vfs storage driver (works on any
filesystem; the stand-in image is 2 MB), and its own containerd namespaces, so even a system
containerd it might connect to keeps its containers apart.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any


class Unavailable(Exception):
    """A private dockerd cannot run here; the message says why."""


class PrivateDockerd:
    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.exec_root = root / "exec"
        self.pidfile = root / "d.pid"
        self.sock = root / "d.sock"
        self.log = root / "dockerd.log"
        self.host = f"unix://{self.sock}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    # -- life cycle ------------------------------------------------------------------------------
    def command(self) -> list[str]:
        # Its own network namespace: a dockerd started with --bridge none DELETES the host's
        # docker0 bridge at start-up, which breaks the shared engine's containers.
        return [
            shutil.which("unshare") or "unshare", "--net", "--",
            shutil.which("dockerd") or "dockerd",
            "--data-root", str(self.data),
            "--exec-root", str(self.exec_root),
            "--pidfile", str(self.pidfile),
            "--host", self.host,
            "--bridge", "none",
            "--iptables=false",
            "--ip-masq=false",
            "--storage-driver", "vfs",
            "--containerd-namespace", "deployer-reliability",
            "--containerd-plugins-namespace", "deployer-reliability-plugins",
        ]

    def start(self, timeout: float = 60.0) -> None:
        if shutil.which("dockerd") is None:
            raise Unavailable("no dockerd binary on PATH")
        if os.geteuid() != 0:
            raise Unavailable("a second dockerd needs root (running as uid %d)" % os.geteuid())
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            # its own session: a Ctrl-C of pytest does not reach it; destroy() ends it
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise Unavailable(f"dockerd exited with code {self.proc.returncode} during start-up: "
                                  f"{self.log_tail(5)}")
            if self.ping():
                return
            if time.monotonic() > deadline:
                raise Unavailable(f"dockerd did not answer on {self.host} within {timeout:.0f}s: {self.log_tail(5)}")
            time.sleep(0.2)

    def ping(self) -> bool:
        import docker

        try:
            api = docker.APIClient(base_url=self.host, timeout=5)
            try:
                return bool(api.ping())
            finally:
                api.close()
        except Exception:  # noqa: BLE001 - not up (yet)
            return False

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout: float = 60.0) -> float:
        """SIGTERM to dockerd's pid (it stops its containers, then exits); seconds it took."""
        assert self.proc is not None
        started = time.monotonic()
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        return time.monotonic() - started

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.host, timeout=60)

    def load_image(self, shared_client: Any, ref: str) -> None:
        """`docker save ref | DOCKER_HOST=<ours> docker load`, through the SDK."""
        data = b"".join(shared_client.api.get_image(ref))
        client = self.client()
        try:
            client.api.load_image(data)
            client.images.get(ref)
        finally:
            client.close()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:])

    # -- clean-up ----------------------------------------------------------------------------------
    def destroy(self) -> list[str]:
        """Remove everything: its containers, the daemon, processes it left (its containerd and
        shims, found by our unique root in their command line), mounts under root, root itself.
        Returns what could not be cleaned (for a warning)."""
        problems: list[str] = []
        if self.alive and self.ping():
            try:
                client = self.client()
                try:
                    for c in client.containers.list(all=True):
                        c.remove(force=True)
                finally:
                    client.close()
            except Exception as exc:  # noqa: BLE001
                problems.append(f"removing its containers: {exc}")
        if self.alive:
            self.terminate(timeout=30)
        for pid in self._our_leftover_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
        for mount_point in self._our_mounts():
            result = subprocess.run(["umount", "-l", mount_point], capture_output=True, text=True)
            if result.returncode != 0:
                problems.append(f"umount {mount_point}: {result.stderr.strip()}")
        shutil.rmtree(self.root, ignore_errors=True)
        if self.root.exists():
            problems.append(f"could not remove {self.root}")
        return problems

    def _our_leftover_pids(self) -> list[int]:
        """Processes whose command line names our root: only the ones our dockerd started."""
        mark = str(self.root).encode()
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if mark in cmdline:
                pids.append(int(entry))
        return pids

    def _our_mounts(self) -> list[str]:
        points = []
        try:
            lines = Path("/proc/self/mountinfo").read_text().splitlines()
        except OSError:
            return []
        for line in lines:
            fields = line.split()
            if len(fields) > 4:
                point = fields[4].encode().decode("unicode_escape")
                if point == str(self.root) or point.startswith(str(self.root) + "/"):
                    points.append(point)
        return sorted(set(points), key=len, reverse=True)  # deepest first
