"""A 3-node Docker Swarm on one machine, for tests and benchmarks (issue 12).

    lab = SwarmLab()                 # or: with SwarmLab() as lab: ...
    lab.start()                      # raises Unavailable (the reason) when this machine cannot run it
    lab.manager.docker_host          # "unix:///tmp/dsl-<tag>/manager/docker.sock"
    [w.docker_host for w in lab.workers]
    lab.client("worker1")            # docker.DockerClient on that node
    lab.kill_node("worker1")         # a real node loss: SIGKILL its dockerd, containerd, shims, tasks
    lab.restart_node("worker1")      # same data root, same address; waits until the manager says Ready
    lab.stop()                       # tear down everything it started; returns what it could not

Layout (nothing is added to the host's network namespace; no host iptables rule, route or link):

    netns dsl-<tag>-sw:       br0 (no address, bridge-nf-call-iptables=0), one veth end per node
    netns dsl-<tag>-manager:  eth0 192.168.99.11/24   dockerd, swarm manager (drained by default)
    netns dsl-<tag>-worker1:  eth0 192.168.99.12/24   dockerd, worker, label region=eu
    netns dsl-<tag>-worker2:  eth0 192.168.99.13/24   dockerd, worker, label region=us

Each dockerd runs in its own network namespace (above), its own mount namespace (slave, with a
fresh sysfs so it does not see the host's links, and private tmpfs over /run/docker and
/run/containerd so it starts its own containerd and keeps its shim sockets to itself) and its own
UTS namespace (hostname = node name), with its own data root, exec root, pidfile, config file,
engine key and cgroup parent, all under the lab's root directory. The node sockets are unix
sockets in that directory on the host filesystem, so the test process (host namespaces) reaches
them. The stand-in images are copied from the host engine (`docker save` | `docker load`, image
IDs preserved) onto every node: there is no registry.

A daemon must never run in the host's network namespace: a dockerd that starts there can delete
the host's docker0. The init script run inside the new namespaces refuses to touch /sys or start
dockerd unless its mount, network and UTS namespaces all differ from the launcher's.

Teardown finds what to end by pid (the dockerd launched, checked by its command line), by
namespace membership (the node's network and mount namespaces) and by the node's cgroup parent,
never by process name. The kernel here has no IPVS: services need `endpoint_mode: dnsrr` and
`mode: host` publishing (no VIP, no routing mesh). README.md, "A 3-node test swarm", has more.

Depends only on the standard library, iproute2, util-linux and the docker SDK (imported lazily),
so a benchmark script can use it as well as pytest.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets as _secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_IMAGES: tuple[str, ...] = ("deployer-test/openclaw:1", "deployer-test/openclaw:2", "botmaker/marker:1")
NETNS_DIR = Path("/run/netns")
CGROUP_ROOT = Path("/sys/fs/cgroup")
SWARM_PORT = 2377
TEST_LABEL = "swarmlab.test"  # tests label what they create with it; conftest removes it after each test
HINT = ("the swarm harness needs root, iproute2 (ip), util-linux (nsenter, unshare), busybox and "
        "dockerd; scripts/swarm-tools.sh installs them (scripts/engine-up.sh calls it)")


class Unavailable(Exception):
    """The lab cannot run on this machine; the message says why."""


class SwarmLabError(Exception):
    """Something the lab did failed (start, join, restart, ...); the message says what."""


# The first program run inside the node's new namespaces. Arguments: hostname, a scratch dir for
# carrying the cgroup mounts over, then the dockerd command line. It ends in `exec dockerd`, so
# the pid the launcher sees is dockerd's own.
NODE_INIT = r"""
set -eu
for ns in mnt net uts; do
    mine=$(readlink /proc/self/ns/$ns)
    eval "ref=\${SWARMLAB_LAUNCHER_NS_$ns:-}"
    if [ -z "$ref" ] || [ "$mine" = "$ref" ]; then
        echo "swarmlab-init: refusing to run: my $ns namespace ($mine) is the launcher's (${ref:-unknown})" >&2
        exit 97
    fi
done
hostname "$1"
aside=$2
shift 2
# sysfs shows the links of the netns that mounted it: mount a fresh one, keep the cgroup mounts
mkdir -p "$aside"
mount --rbind /sys/fs/cgroup "$aside"
umount -l /sys
mount -t sysfs sysfs /sys
mount --move "$aside" /sys/fs/cgroup
# a dockerd that finds /run/containerd/containerd.sock uses that (shared) containerd; give it
# private, empty /run/containerd and /run/docker instead
for d in /run/containerd /run/docker; do
    if [ -d "$d" ]; then mount -t tmpfs -o mode=0711 swarmlab "$d"; fi
done
if [ -e /run/containerd/containerd.sock ]; then
    echo "swarmlab-init: refusing to run: a system containerd socket is visible" >&2
    exit 98
fi
exec "$@"
"""


def _run(argv: list[str], *, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise SwarmLabError(f"`{' '.join(argv)}` failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def _ns_inode(path: str | Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _alive(pid: int) -> bool:
    """True when pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _start_time(pid: int) -> str:
    """The process's start time (field 22 of /proc/pid/stat): tells a recycled pid apart."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[19]
    except (OSError, IndexError):
        return ""


def poll(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Call predicate until it returns something truthy; return that, or raise SwarmLabError."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:
            last_error = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {type(last_error).__name__}: {last_error})" if last_error else ""
            raise SwarmLabError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


@dataclass
class Node:
    """One dockerd of the lab. `docker_host` is what DOCKER_HOST / --host should be set to."""

    name: str  # also its hostname and its swarm node name: "manager", "worker1", "worker2"
    role: str  # "manager" | "worker"
    address: str  # its address on the lab's bridge, e.g. 192.168.99.12
    labels: dict[str, str]
    dir: Path
    netns: str
    cgroup_parent: str  # e.g. "dsl-<tag>-worker1" (absolute cgroup path without the slash)
    node_id: str = ""  # swarm node ID, known after start()
    engine_id: str = ""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    mnt_ns: int | None = field(default=None, repr=False)  # inode of its dockerd's mount namespace

    @property
    def socket(self) -> Path:
        return self.dir / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def data_root(self) -> Path:
        return self.dir / "data"

    @property
    def exec_root(self) -> Path:
        return self.dir / "exec"

    @property
    def pidfile(self) -> Path:
        return self.dir / "dockerd.pid"

    @property
    def log(self) -> Path:
        return self.dir / "dockerd.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, timeout: int = 60) -> Any:
        import docker

        return docker.DockerClient(base_url=self.docker_host, timeout=timeout)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.strip().splitlines()[-lines:])


class SwarmLab:
    """A 1-manager, 2-worker swarm of private dockerds on this machine.

    heartbeat_s is the swarm's dispatcher heartbeat (set at `swarm init`, so it is in force from
    the start): a killed worker is Down after about 3 heartbeats. manager_runs_tasks=False
    drains the manager, so tasks run on the workers only (placement stays predictable).
    """

    def __init__(self, root: Path | str | None = None, *, images: Iterable[str] = DEFAULT_IMAGES,
                 heartbeat_s: float = 1.0, subnet: str = "192.168.99", manager_runs_tasks: bool = False,
                 worker_labels: dict[str, dict[str, str]] | None = None, source_docker_host: str | None = None,
                 storage_driver: str | None = None, start_timeout: float = 90.0, tag: str | None = None):
        self.tag = tag or _secrets.token_hex(3)
        self.root = Path(root) if root is not None else Path(f"/tmp/dsl-{self.tag}")
        self.images = tuple(images)
        self.heartbeat_s = heartbeat_s
        self.manager_runs_tasks = manager_runs_tasks
        self.source_docker_host = source_docker_host
        self.storage_driver = storage_driver or os.environ.get("SWARMLAB_STORAGE_DRIVER") or None
        self.start_timeout = start_timeout
        self.switch_netns = f"dsl-{self.tag}-sw"
        labels = worker_labels if worker_labels is not None else {"worker1": {"region": "eu"}, "worker2": {"region": "us"}}
        self.nodes: dict[str, Node] = {}
        for index, (name, role) in enumerate((("manager", "manager"), ("worker1", "worker"), ("worker2", "worker"))):
            self.nodes[name] = Node(name=name, role=role, address=f"{subnet}.{11 + index}",
                                    labels=dict(labels.get(name, {})), dir=self.root / name,
                                    netns=f"dsl-{self.tag}-{name}", cgroup_parent=f"dsl-{self.tag}-{name}")
        self.image_ids: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self._created_netns_dir = False
        self._netns_made: list[str] = []
        self._started = False
        self._lock = threading.Lock()

    # -- accessors -------------------------------------------------------------------------------
    @property
    def manager(self) -> Node:
        return self.nodes["manager"]

    @property
    def workers(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.role == "worker"]

    def node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise SwarmLabError(f"no node {name!r} (nodes: {', '.join(self.nodes)})") from None

    def client(self, name: str = "manager", timeout: int = 60) -> Any:
        return self.node(name).client(timeout)

    def node_by_id(self, node_id: str) -> Node:
        for node in self.nodes.values():
            if node.node_id == node_id:
                return node
        raise SwarmLabError(f"no lab node has swarm ID {node_id}")

    def __enter__(self) -> SwarmLab:
        self.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        problems = self.stop()
        if problems and exc_type is None:
            raise SwarmLabError("teardown left: " + "; ".join(problems))

    # -- checks ----------------------------------------------------------------------------------
    @staticmethod
    def preflight() -> None:
        """Raise Unavailable unless this machine can run the lab (root, tools, cgroups)."""
        if os.geteuid() != 0:
            raise Unavailable(f"running as uid {os.geteuid()}, not root. {HINT}")
        missing = [tool for tool in ("ip", "nsenter", "unshare", "dockerd", "containerd", "runc", "busybox")
                   if shutil.which(tool) is None]
        if missing:
            raise Unavailable(f"missing on PATH: {', '.join(missing)}. {HINT}")
        if not (CGROUP_ROOT / "cgroup.controllers").exists() and not (CGROUP_ROOT / "pids").is_dir():
            raise Unavailable(f"{CGROUP_ROOT} has neither cgroup v2 nor a v1 pids hierarchy")
        try:
            import docker  # noqa: F401
        except ImportError as exc:
            raise Unavailable(f"the docker Python package is missing ({exc})") from None

    # -- start -----------------------------------------------------------------------------------
    def start(self) -> dict[str, Node]:
        """Build the network, start the 3 dockerds, form the swarm, label the workers, copy the
        images. On any failure everything already made is torn down before the error is raised."""
        self.preflight()
        if self._started:
            raise SwarmLabError("this lab was started already")
        self._started = True
        began = time.monotonic()
        if self.root.exists() and any(self.root.iterdir()):
            raise SwarmLabError(f"{self.root} exists and is not empty (stop() removes the lab's directory)")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._write_state()
        # a bench script that dies without stop() must not leave daemons behind
        atexit.register(self._stop_at_exit)
        try:
            images = self._save_host_images()
            step = time.monotonic()
            self._make_network()
            self.timings["network"] = time.monotonic() - step
            step = time.monotonic()
            self._parallel(self._launch, self.nodes.values())
            self.timings["daemons"] = time.monotonic() - step
            step = time.monotonic()
            self._form_swarm()
            self.timings["swarm"] = time.monotonic() - step
            step = time.monotonic()
            self._parallel(lambda node: self._load_images(node, images), self.nodes.values())
            self.timings["images"] = time.monotonic() - step
        except BaseException:
            problems = self.stop()
            if problems:
                print("swarmlab: teardown after a failed start left:", *problems, sep="\n  ")
            raise
        self.timings["start"] = time.monotonic() - began
        return dict(self.nodes)

    def _write_state(self) -> None:
        """lab.json: who owns the lab, so `python3 -m tests.support.swarmlab reap` can end labs whose owner died."""
        state = {"tag": self.tag, "owner": os.getpid(), "owner_start": _start_time(os.getpid()),
                 "netns": [self.switch_netns, *(n.netns for n in self.nodes.values())]}
        (self.root / "lab.json").write_text(json.dumps(state))

    def _stop_at_exit(self) -> None:
        if self._netns_made or any(n.alive for n in self.nodes.values()):
            problems = self.stop()
            if problems:
                print("swarmlab: teardown at exit left:", *problems, sep="\n  ")

    def _save_host_images(self, refs: Iterable[str] | None = None) -> dict[str, bytes]:
        """`docker save` of each image from the host engine (read-only use of the host engine)."""
        import docker

        client = docker.DockerClient(base_url=self.source_docker_host) if self.source_docker_host else docker.from_env(timeout=60)
        try:
            saved: dict[str, bytes] = {}
            for ref in (self.images if refs is None else tuple(refs)):
                try:
                    self.image_ids[ref] = client.images.get(ref).id
                except docker.errors.ImageNotFound:
                    raise Unavailable(f"image {ref} is not on the host engine; run scripts/engine-up.sh") from None
                saved[ref] = b"".join(client.api.get_image(ref))
            return saved
        except docker.errors.DockerException as exc:
            raise Unavailable(f"cannot read the images from the host engine: {exc}") from None
        finally:
            client.close()

    def _make_network(self) -> None:
        self._created_netns_dir = not NETNS_DIR.exists()
        sw = self.switch_netns
        self._add_netns(sw)
        _run(["ip", "-n", sw, "link", "set", "lo", "up"])
        _run(["ip", "-n", sw, "link", "add", "br0", "type", "bridge"])
        _run(["ip", "-n", sw, "link", "set", "br0", "up"])
        # bridged frames must not go through iptables (the sysctl is per namespace; it exists only
        # when br_netfilter is loaded)
        _run(["nsenter", f"--net={NETNS_DIR / sw}", "--", "sh", "-c",
              "f=/proc/sys/net/bridge/bridge-nf-call-iptables; [ ! -e $f ] || echo 0 > $f"])
        for index, node in enumerate(self.nodes.values(), start=1):
            self._add_netns(node.netns)
            # both ends are born in their namespaces: no veth ever shows in the host's
            _run(["ip", "-n", sw, "link", "add", f"v{index}", "type", "veth", "peer", "name", "eth0",
                  "netns", node.netns])
            _run(["ip", "-n", sw, "link", "set", f"v{index}", "master", "br0", "up"])
            _run(["ip", "-n", node.netns, "link", "set", "lo", "up"])
            _run(["ip", "-n", node.netns, "addr", "add", f"{node.address}/24", "dev", "eth0"])
            _run(["ip", "-n", node.netns, "link", "set", "eth0", "up"])
        for node in self.workers:
            poll(lambda node=node: _run(["nsenter", f"--net={NETNS_DIR / self.manager.netns}", "--", "busybox", "ping",
                                         "-c", "1", "-W", "1", node.address], check=False).returncode == 0,
                 timeout=10, what=f"ping {self.manager.address} -> {node.address} over the lab bridge")

    def _add_netns(self, name: str) -> None:
        if (NETNS_DIR / name).exists():
            raise SwarmLabError(f"network namespace {name} exists already (not ours; not touching it)")
        _run(["ip", "netns", "add", name])
        self._netns_made.append(name)

    def _launcher_env(self) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
               # no registry is reachable: use the local image instead of trying a pull per task
               "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"}
        for ns in ("mnt", "net", "uts"):
            env[f"SWARMLAB_LAUNCHER_NS_{ns}"] = os.readlink(f"/proc/self/ns/{ns}")
        return env

    def _dockerd_argv(self, node: Node) -> list[str]:
        config = node.dir / "daemon.json"
        # dockerd 20.10 reads its engine key from /etc/docker/key.json (the host engine's) unless
        # told otherwise, and only the config file can tell it
        config.write_text(json.dumps({"deprecated-key-path": str(node.dir / "key.json")}))
        argv = [shutil.which("dockerd") or "dockerd", "--config-file", str(config),
                "--data-root", str(node.data_root), "--exec-root", str(node.exec_root),
                "--pidfile", str(node.pidfile), "--host", node.docker_host,
                "--iptables=false", "--ip-masq=false", "--cgroup-parent", f"/{node.cgroup_parent}"]
        if self.storage_driver:
            argv += ["--storage-driver", self.storage_driver]
        return argv

    def _launch(self, node: Node, timeout: float | None = None) -> None:
        """Start node's dockerd in its namespaces and wait until it answers."""
        if node.alive:
            raise SwarmLabError(f"{node.name}: dockerd (pid {node.pid}) is running already")
        if not (NETNS_DIR / node.netns).exists():
            raise SwarmLabError(f"{node.name}: its network namespace {node.netns} is gone")
        node.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        left = self.node_pids(node.name)
        if left:
            raise SwarmLabError(f"{node.name}: processes of its last run are still alive: {sorted(left)}")
        # Its old dockerd and containerd are dead, but a killed containerd may linger as a zombie
        # (its parent, dockerd, died first): dockerd would find it "still running" by its pid file
        # and wait for it until it gives up. Neither pid file may be trusted now.
        node.pidfile.unlink(missing_ok=True)
        (node.exec_root / "containerd" / "containerd.pid").unlink(missing_ok=True)
        argv = ["nsenter", f"--net={NETNS_DIR / node.netns}", "--",
                "unshare", "--mount", "--uts", "--propagation", "slave", "--",
                "/bin/sh", "-c", NODE_INIT, "swarmlab-init", node.name, str(node.dir / "cgroup-aside"),
                *self._dockerd_argv(node)]
        with open(node.log, "ab") as log:
            log.write(f"--- swarmlab: starting {node.name} at {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            # its own session: a Ctrl-C of pytest does not reach it; stop() ends it
            node.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=self._launcher_env(), start_new_session=True, cwd="/")
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while True:
            if node.proc.poll() is not None:
                raise SwarmLabError(f"{node.name}: dockerd exited with code {node.proc.returncode} during start-up:\n"
                                    f"{node.log_tail()}")
            if self._ping(node):
                break
            if time.monotonic() > deadline:
                raise SwarmLabError(f"{node.name}: dockerd did not answer on {node.docker_host}:\n{node.log_tail()}")
            time.sleep(0.1)
        cmdline = _cmdline(node.proc.pid)
        if not cmdline or not cmdline[0].endswith("dockerd") or str(node.data_root) not in cmdline:
            raise SwarmLabError(f"{node.name}: pid {node.proc.pid} is not our dockerd ({' '.join(cmdline)})")
        node.mnt_ns = _ns_inode(f"/proc/{node.proc.pid}/ns/mnt")
        if node.mnt_ns is None or node.mnt_ns == _ns_inode("/proc/self/ns/mnt") \
                or _ns_inode(f"/proc/{node.proc.pid}/ns/net") != _ns_inode(NETNS_DIR / node.netns):
            raise SwarmLabError(f"{node.name}: dockerd pid {node.proc.pid} is not in its own namespaces")

    @staticmethod
    def _ping(node: Node) -> bool:
        import docker

        if not node.socket.exists():
            return False
        try:
            api = docker.APIClient(base_url=node.docker_host, timeout=3)
            try:
                return bool(api.ping())
            finally:
                api.close()
        except Exception:
            return False

    def _form_swarm(self) -> None:
        from docker.errors import APIError

        mgr = self.manager.client()
        try:
            mgr.swarm.init(advertise_addr=self.manager.address, listen_addr=f"{self.manager.address}:{SWARM_PORT}",
                           dispatcher_heartbeat_period=int(self.heartbeat_s * 1e9))
            mgr.swarm.reload()
            token = mgr.swarm.attrs["JoinTokens"]["Worker"]
            for node in self.nodes.values():
                client = node.client()
                try:
                    info = client.info()
                    node.engine_id = info.get("ID", "")
                    if node.role == "worker":
                        client.swarm.join(remote_addrs=[f"{self.manager.address}:{SWARM_PORT}"], join_token=token,
                                          listen_addr=f"{node.address}:{SWARM_PORT}", advertise_addr=node.address)
                        info = client.info()
                    node.node_id = info["Swarm"]["NodeID"]
                finally:
                    client.close()
            self.wait_ready(timeout=60)
            for node in self.nodes.values():
                swarm_node = mgr.nodes.get(node.node_id)
                spec = dict(swarm_node.attrs["Spec"])
                spec["Labels"] = {**spec.get("Labels", {}), **node.labels}
                if node.role == "manager" and not self.manager_runs_tasks:
                    spec["Availability"] = "drain"
                if spec != swarm_node.attrs["Spec"]:
                    swarm_node.update(spec)
        except APIError as exc:
            raise SwarmLabError(f"forming the swarm failed: {exc}") from None
        finally:
            mgr.close()

    def _load_images(self, node: Node, images: dict[str, bytes]) -> None:
        client = node.client()
        try:
            for ref, data in images.items():
                client.api.load_image(data)
                got = client.images.get(ref).id
                if got != self.image_ids[ref]:
                    raise SwarmLabError(f"{node.name}: {ref} loaded as {got}, the host has {self.image_ids[ref]}")
        finally:
            client.close()

    def load_images(self, refs: Iterable[str], nodes: Iterable[str] | None = None) -> None:
        """Copy more images from the host engine onto some nodes (all by default), e.g. to test
        what happens when an image is on only some of them."""
        images = self._save_host_images(refs)
        self._parallel(lambda node: self._load_images(node, images),
                       [self.node(n) for n in nodes] if nodes is not None else self.nodes.values())

    @staticmethod
    def _parallel(func: Callable[[Node], Any], nodes: Iterable[Node]) -> None:
        errors: list[BaseException] = []

        def run(node: Node) -> None:
            try:
                func(node)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(node,), daemon=True) for node in nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    # -- observing -------------------------------------------------------------------------------
    def node_states(self) -> dict[str, tuple[str, str]]:
        """{node name: (Status.State, Spec.Availability)} as the manager sees them."""
        mgr = self.manager.client(timeout=10)
        try:
            out = {}
            for swarm_node in mgr.nodes.list():
                name = swarm_node.attrs["Description"]["Hostname"]
                out[name] = (swarm_node.attrs["Status"]["State"], swarm_node.attrs["Spec"]["Availability"])
            return out
        finally:
            mgr.close()

    def wait_node_state(self, name: str, state: str, timeout: float = 60) -> float:
        """Wait until the manager shows node `name` in `state` ("ready", "down"); seconds taken."""
        began = time.monotonic()
        poll(lambda: self.node_states().get(name, ("?", "?"))[0] == state, timeout=timeout, interval=0.1,
             what=f"node {name} to be {state} (manager view)")
        return time.monotonic() - began

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the manager lists all the lab's nodes as ready."""
        def all_ready() -> bool:
            states = self.node_states()
            return len(states) == len(self.nodes) and all(state == "ready" for state, _ in states.values())

        poll(all_ready, timeout=timeout, what="all nodes ready")

    def run_in_netns(self, name: str, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run argv in node `name`'s network namespace (the test process cannot reach the lab's
        addresses from the host's): e.g. ["busybox", "nc", "-z", "192.168.99.12", "18789"] to
        probe a port a service publishes in `mode: host`."""
        node = self.node(name)
        return subprocess.run(["nsenter", f"--net={NETNS_DIR / node.netns}", "--", *argv], capture_output=True,
                              text=True, timeout=timeout, check=False)

    def node_pids(self, name: str) -> set[int]:
        """Every live process of the node: those in its network or mount namespace (dockerd,
        containerd, shims) and those in its cgroup parent (its containers' processes)."""
        node = self.node(name)
        net = _ns_inode(NETNS_DIR / node.netns)
        pids: set[int] = set()
        me = os.getpid()
        for pid in _all_pids():
            if pid == me:
                continue
            if (net is not None and _ns_inode(f"/proc/{pid}/ns/net") == net) or \
                    (node.mnt_ns is not None and _ns_inode(f"/proc/{pid}/ns/mnt") == node.mnt_ns):
                pids.add(pid)
        pids |= self._cgroup_pids(node)
        if node.alive and node.pid is not None:
            pids.add(node.pid)
        return {pid for pid in pids if _alive(pid)}

    def _cgroup_dirs(self, node: Node) -> list[Path]:
        """The node's cgroup parent in every hierarchy, and everything under it, deepest first."""
        tops = [CGROUP_ROOT / node.cgroup_parent]
        if CGROUP_ROOT.is_dir():
            tops += [h / node.cgroup_parent for h in CGROUP_ROOT.iterdir() if h.is_dir() and not h.is_symlink()]
        found: list[Path] = []
        for top in tops:
            if top.is_dir():
                found += [Path(d) for d, _, _ in os.walk(top)]
        return sorted(set(found), key=lambda p: len(p.parts), reverse=True)

    def _cgroup_pids(self, node: Node) -> set[int]:
        pids: set[int] = set()
        for directory in self._cgroup_dirs(node):
            try:
                pids |= {int(p) for p in (directory / "cgroup.procs").read_text().split()}
            except (OSError, ValueError):
                pass
        return pids

    def memory(self) -> dict[str, dict[str, float]]:
        """{node: {"rss_mib", "pss_mib", "processes"}} over node_pids (daemons, shims, tasks)."""
        out: dict[str, dict[str, float]] = {}
        for name in self.nodes:
            pids = self.node_pids(name)
            out[name] = {"rss_mib": sum(_rss_kib(p) for p in pids) / 1024,
                         "pss_mib": sum(_pss_kib(p) for p in pids) / 1024, "processes": len(pids)}
        return out

    # -- faults ----------------------------------------------------------------------------------
    def kill_node(self, name: str, timeout: float = 15) -> list[int]:
        """A real node loss: SIGKILL the node's dockerd, containerd, shims and its containers'
        processes (found by namespace and cgroup), at once. Returns the pids killed."""
        node = self.node(name)
        killed = self._kill_all(node, timeout)
        if node.proc is not None:
            node.proc.wait(timeout=timeout)
        return killed

    def _kill_all(self, node: Node, timeout: float) -> list[int]:
        killed: set[int] = set()
        deadline = time.monotonic() + timeout
        while True:
            pids = self.node_pids(node.name)
            if not pids:
                node.mnt_ns = None  # its namespace is gone; the inode number may be reused
                return sorted(killed)
            if time.monotonic() > deadline:
                raise SwarmLabError(f"{node.name}: processes still alive after SIGKILL: {sorted(pids)}")
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
                except ProcessLookupError:
                    pass
            if node.proc is not None:
                node.proc.poll()  # reap dockerd (our child) so it stops counting
            time.sleep(0.05)

    def restart_node(self, name: str, timeout: float = 60, wait_ready: bool = True) -> float:
        """Start the node's dockerd again (same data root, address and swarm identity; a running
        one is stopped with SIGTERM first). Waits until it answers and, unless wait_ready=False,
        until the manager lists it Ready (for the manager: all nodes Ready). Returns the seconds
        taken."""
        node = self.node(name)
        began = time.monotonic()
        if node.alive:
            self._terminate(node, timeout)
        self._launch(node, timeout)
        if wait_ready:
            def back_in_swarm() -> bool:
                client = node.client(timeout=5)
                try:
                    return client.info()["Swarm"]["LocalNodeState"] == "active"
                finally:
                    client.close()

            poll(back_in_swarm, timeout=timeout, what=f"{name} back in the swarm")
            if node.role == "manager":
                self.wait_ready(timeout)  # the workers show "unknown" until they report again
            else:
                self.wait_node_state(name, "ready", timeout=timeout)
        return time.monotonic() - began

    def heal(self, timeout: float = 60) -> list[str]:
        """Restart every node whose dockerd is not running, then wait until all are Ready.
        Returns the names restarted (for a fixture that hands a healthy lab to each test)."""
        restarted = [n.name for n in self.nodes.values() if not n.alive]
        for name in restarted:
            if self.node_pids(name):
                self._kill_all(self.node(name), timeout)
            self.restart_node(name, timeout, wait_ready=False)
        self.wait_ready(timeout)
        return restarted

    def _terminate(self, node: Node, timeout: float) -> None:
        """SIGTERM to the node's dockerd (it stops its tasks and its containerd), SIGKILL after
        timeout, then SIGKILL whatever of the node is still alive."""
        if node.alive and node.proc is not None:
            cmdline = _cmdline(node.proc.pid)
            if str(node.data_root) in cmdline:  # it is our dockerd, not a recycled pid
                node.proc.send_signal(signal.SIGTERM)
                try:
                    node.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait(timeout=10)
        self._kill_all(node, 15)

    # -- teardown --------------------------------------------------------------------------------
    def stop(self, grace: float = 20) -> list[str]:
        """Tear down everything the lab started: the daemons (SIGTERM, then SIGKILL), anything
        left in the nodes' namespaces and cgroups, the cgroups, the namespaces (veths and bridge go
        with them), the lab's directory, and /run/netns when the lab created it and it is empty.
        Returns what could not be cleaned (empty when all went)."""
        began = time.monotonic()
        problems: list[str] = []
        with self._lock:
            self._parallel(lambda node: self._safe(problems, f"stopping {node.name}", self._terminate, node, grace),
                           self.nodes.values())
            for node in self.nodes.values():
                left = self.node_pids(node.name)
                if left:
                    problems.append(f"{node.name}: processes left: {sorted(left)}")
                for directory in self._cgroup_dirs(node):
                    try:
                        directory.rmdir()
                    except OSError as exc:
                        problems.append(f"rmdir {directory}: {exc}")
            for name in reversed(self._netns_made):
                proc = _run(["ip", "netns", "del", name], check=False)
                if proc.returncode != 0 and (NETNS_DIR / name).exists():
                    problems.append(f"ip netns del {name}: {proc.stderr.strip()}")
            self._netns_made = [n for n in self._netns_made if (NETNS_DIR / n).exists()]
            for point in self.host_mounts():
                proc = _run(["umount", "-l", point], check=False)
                if proc.returncode != 0:
                    problems.append(f"umount {point}: {proc.stderr.strip()}")
            keep = os.environ.get("SWARMLAB_KEEP_LOGS")
            if keep:  # e.g. CI: the daemons' logs outlive the lab
                Path(keep).mkdir(parents=True, exist_ok=True)
                for node in self.nodes.values():
                    if node.log.exists():
                        shutil.copyfile(node.log, Path(keep) / f"swarmlab-{self.tag}-{node.name}.log")
            if not problems and self.root.exists():
                shutil.rmtree(self.root, ignore_errors=True)
                if self.root.exists():
                    problems.append(f"could not remove {self.root}")
            if self._created_netns_dir and NETNS_DIR.is_dir() and not any(NETNS_DIR.iterdir()):
                _run(["umount", str(NETNS_DIR)], check=False)
                try:
                    NETNS_DIR.rmdir()
                except OSError:
                    pass  # someone else uses it now
        self.timings["stop"] = time.monotonic() - began
        if not problems:
            atexit.unregister(self._stop_at_exit)
        return problems

    @classmethod
    def reap_stale(cls, base: Path | str = "/tmp") -> dict[str, list[str]]:
        """Tear down the labs under base whose owning process is gone (a pytest killed hard).
        Labs whose owner still runs are left alone. Returns {lab root: problems}."""
        reaped: dict[str, list[str]] = {}
        for state_file in sorted(Path(base).glob("dsl-*/lab.json")):
            try:
                state = json.loads(state_file.read_text())
                tag, owner, owner_start = state["tag"], int(state["owner"]), state["owner_start"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if _alive(owner) and _start_time(owner) == owner_start:
                continue
            lab = cls(root=state_file.parent, tag=tag)
            lab._netns_made = [n for n in state.get("netns", []) if (NETNS_DIR / n).exists()]
            for node in lab.nodes.values():
                for pid in _all_pids():
                    argv = _cmdline(pid)
                    if argv and argv[0].endswith("dockerd") and str(node.data_root) in argv:
                        node.mnt_ns = _ns_inode(f"/proc/{pid}/ns/mnt")
            reaped[str(lab.root)] = lab.stop()
        return reaped

    @staticmethod
    def _safe(problems: list[str], what: str, func: Callable[..., Any], *args: Any) -> None:
        try:
            func(*args)
        except Exception as exc:
            problems.append(f"{what}: {exc}")

    def host_mounts(self) -> list[str]:
        """Mount points in the host's mount table inside the lab's directory (deepest first)."""
        points = []
        try:
            lines = Path("/proc/self/mountinfo").read_text().splitlines()
        except OSError:
            return []
        root = str(self.root)
        for line in lines:
            fields = line.split()
            if len(fields) > 4:
                point = fields[4].encode().decode("unicode_escape")
                if point == root or point.startswith(root + "/"):
                    points.append(point)
        return sorted(set(points), key=len, reverse=True)

    def leftovers(self) -> dict[str, list[str]]:
        """What of the lab still exists (all lists empty after a clean stop())."""
        return {
            "processes": [f"{n}: {sorted(self.node_pids(n))}" for n in self.nodes if self.node_pids(n)],
            "netns": [n for n in [self.switch_netns, *(x.netns for x in self.nodes.values())] if (NETNS_DIR / n).exists()],
            "cgroups": [str(d) for node in self.nodes.values() for d in self._cgroup_dirs(node)],
            "mounts": self.host_mounts(),
            "files": [str(self.root)] if self.root.exists() else [],
        }


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["reap"]:
        for root, problems in SwarmLab.reap_stale().items():
            print(f"reaped {root}" + (f"; left: {'; '.join(problems)}" if problems else ""))
    elif sys.argv[1:] == ["up"]:
        lab = SwarmLab()
        lab.start()
        for node in lab.nodes.values():
            print(f"{node.name}: DOCKER_HOST={node.docker_host} id={node.node_id} addr={node.address} labels={node.labels}")
        print(f"up in {lab.timings['start']:.2f}s; Ctrl-C tears it down")
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        print("left:", lab.stop() or "nothing")
    else:
        print("usage: python3 -m tests.support.swarmlab up | reap", file=sys.stderr)
        sys.exit(2)
