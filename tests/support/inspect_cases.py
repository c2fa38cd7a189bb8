"""The bots behind the recorded `docker inspect` answers in tests/unit/data/inspect/, and the
recorder that made them.

    python3 -m tests.support.inspect_cases            # (re)record them: needs the engine and the
                                                      # stand-in image (bash scripts/engine-up.sh), root

Each case is created the deployer's own way (DockerEngine.create, with the canonical spec and
labels the Applier gives it), brought to the state named by the case (running and healthy,
exited, never started), inspected with the plain API and written as <case>.json, its row of the
container list as <case>.row.json (and a lock marker's row as marker.row.json), after scrubbing
what varies between recordings and machines: the container id (and its short form, which is
also the default hostname), timestamps, pids, network addresses and sandbox ids, the storage
driver's paths, the stand-in image's id and recipe label; the mounts are sorted by destination
(the engine lists them in an order that varies). Names use a random token while
recording (the engine is shared) that is scrubbed to PREFIX, and the temporary host root to
ROOT, so that `cases()` rebuilds the very bots the fixtures show. The spec-hash label is the
hash of the scrubbed spec label, as the deployer would have written it for these names.

Everything the recorder creates carries the label deployer.test=<token>; it removes that, and the
named volumes of its bots, whatever happens.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.core.model import BotSpec, Healthcheck, Port, Volume
from deployer.core.spec import spec_hash
from deployer.core.vocabulary import LABEL_SPEC, LABEL_SPEC_HASH
from deployer.plan.planner import PlanOptions, desired_spec
from tests.support.engine_harness import BOT_UID, STAND_IN_IMAGE

DATA = Path(__file__).resolve().parent.parent / "unit" / "data" / "inspect"
PREFIX = "rec"  # the bot names' prefix in the fixtures
ROOT = "/srv/fixture"  # the host directory of the bind mounts and secrets in the fixtures
FLEET = "rec"
TEST_LABEL = "deployer.test"
STATES = {"full": "healthy", "exited": "exited", "defaults": "created"}  # what the recorder waits for
SECOND = 1_000_000_000


def cases(prefix: str = PREFIX, root: str = ROOT) -> dict[str, tuple[BotSpec, str | None]]:
    """case -> (the bot, its secrets dir)."""
    full = BotSpec(
        name=f"{prefix}-full",
        image=STAND_IN_IMAGE,
        labels=(("team", "support"),),
        secrets=("API_KEY",),
        env=(("LOG_LEVEL", "info"), ("EMPTY", "")),
        user=str(BOT_UID),
        ports=(Port(18789, 47811), Port(9000, 47812, host_ip="0.0.0.0", protocol="udp")),
        volumes=(Volume(f"botmaker-{prefix}-full-data", "/home/node/.openclaw"),
                 Volume(f"{root}/data/{prefix}-full", "/data", read_only=True)),
        memory_bytes=64 * 1024 * 1024,
        nano_cpus=500_000_000,
        restart_policy="on-failure",
        restart_max_retries=3,
        healthcheck=Healthcheck(("CMD", "wget", "-qO-", "http://127.0.0.1:18789/healthz"),
                                interval_ns=SECOND, timeout_ns=SECOND, retries=3, start_period_ns=SECOND),
        hostname=f"{prefix}-full",
    )
    exited = BotSpec(
        name=f"{prefix}-exited",
        image=STAND_IN_IMAGE,
        env=(("MODE", "once"),),
        command=("sh", "-c", "echo bye; exit 3"),
        user="0",
        restart_policy="no",
        network="none",
    )
    defaults = BotSpec(name=f"{prefix}-defaults", image=STAND_IN_IMAGE)  # the image's user, command, env
    return {"full": (full, f"{root}/secrets"), "exited": (exited, None), "defaults": (defaults, None)}


MARKER = f"botmaker-lock.{PREFIX}"  # the recorded marker's name


def load(case: str) -> dict[str, Any]:
    """The recorded inspect answer of a case."""
    return json.loads((DATA / f"{case}.json").read_text())


def load_row(case: str) -> dict[str, Any]:
    """The recorded list row of a case (or of the marker: case "marker")."""
    return json.loads((DATA / f"{case}.row.json").read_text())


def fake_id(case: str) -> str:
    return hashlib.sha256(f"inspect-fixture-{case}".encode()).hexdigest()


# --- recording -------------------------------------------------------------------------------------

_VARYING = {  # keys whose values differ between recordings: replaced by fixed ones
    "Created": "2026-01-01T00:00:00.000000000Z",
    "StartedAt": "2026-01-01T00:00:01.000000000Z",
    "SandboxID": "0" * 64, "SandboxKey": "/var/run/docker/netns/0000",
    "EndpointID": "", "NetworkID": "", "IPAddress": "", "Gateway": "", "MacAddress": "",
    "IPPrefixLen": 0, "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPv6Gateway": "",
    "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
}


def scrub(data: dict[str, Any], *, case: str, cid: str, token: str, root: str, image_id: str) -> dict[str, Any]:
    """The inspect answer with what varies replaced (see the module docstring)."""
    text = json.dumps(data)
    new_id = fake_id(case)
    text = text.replace(cid, new_id).replace(cid[:12], new_id[:12])
    text = text.replace(root, ROOT).replace(token, PREFIX).replace(image_id, "sha256:" + "1" * 64)
    out = json.loads(text)

    def fixed(key: str, value: Any) -> Any:
        if key == "Created" and isinstance(value, int):  # a list row's: unix seconds
            return 1767225600
        return _VARYING[key]

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (fixed(k, v) if k in _VARYING and v not in ("", None, "0001-01-01T00:00:00Z")
                        else walk(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out = walk(out)
    if "Names" in out:  # a list row: its human status ("Up 3 seconds") has the age in it
        out["Status"] = re.sub(r"(\d+|About an?|Less than a) (seconds?|minutes?|hours?)", "1 second",
                               out.get("Status", ""))
    state = out.get("State") if isinstance(out.get("State"), dict) else {}
    if state.get("Pid"):
        state["Pid"] = 4242
    if state.get("FinishedAt", "0001-01-01T00:00:00Z") != "0001-01-01T00:00:00Z":
        state["FinishedAt"] = "2026-01-01T00:00:02.000000000Z"
    if "Health" in state:
        state["Health"]["Log"] = []  # probe times and outputs
    if isinstance(out.get("Mounts"), list):  # the engine lists them in map order, which varies
        out["Mounts"].sort(key=lambda m: m.get("Destination", ""))
    if "GraphDriver" in out:
        out["GraphDriver"] = {"Name": (out.get("GraphDriver") or {}).get("Name", ""), "Data": None}
    labels = (out.get("Config") or out).get("Labels") or {}
    if "deployer-test.recipe" in labels:
        labels["deployer-test.recipe"] = "0" * 16
    labels.pop(TEST_LABEL, None)  # the recorder's own cleanup label
    if LABEL_SPEC in labels:
        labels[LABEL_SPEC_HASH] = spec_hash(json.loads(labels[LABEL_SPEC]))
    return out


def record(out_dir: Path = DATA) -> list[Path]:
    import docker

    from deployer.backends.docker.engine import DockerEngine
    from deployer.core.vocabulary import LABEL_LOCK, MARKER_IMAGE

    token = f"rec{secrets.token_hex(3)}"
    root = tempfile.mkdtemp(prefix="deployer-inspect-")
    client = docker.from_env(timeout=60)
    engine = DockerEngine()
    bots = cases(token, root)
    written: list[Path] = []
    try:
        image_id = client.images.get(STAND_IN_IMAGE).id
        ids: dict[str, str] = {}
        for case, (bot, secrets_dir) in bots.items():
            for v in bot.volumes:
                if v.is_bind:
                    os.makedirs(v.source, exist_ok=True)
            if secrets_dir:
                path = Path(secrets_dir) / bot.name
                path.mkdir(parents=True, mode=0o700)
                os.chown(path, BOT_UID, BOT_UID)
            spec = desired_spec(bot, PlanOptions(traits=DOCKER_TRAITS, secrets_dir=secrets_dir))
            ids[case] = engine.create(bot, fleet=FLEET, spec=spec, spec_hash=spec_hash(spec),
                                      secrets_dir=secrets_dir, extra_labels={TEST_LABEL: token})
            if STATES[case] != "created":
                engine.start(ids[case], bot.container_name)
        deadline = time.monotonic() + 60
        for case, cid in ids.items():
            while True:
                data = client.api.inspect_container(cid)
                state = data["State"]
                now = (state.get("Health") or {}).get("Status") if STATES[case] == "healthy" else state["Status"]
                if now == STATES[case]:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"{case}: still {now!r} after 60s, wanted {STATES[case]}")
                time.sleep(0.5)
            [row] = client.api.containers(all=True, filters={"id": cid})
            out_dir.mkdir(parents=True, exist_ok=True)
            for target, answer in ((out_dir / f"{case}.json", data), (out_dir / f"{case}.row.json", row)):
                clean = scrub(answer, case=case, cid=cid, token=token, root=root, image_id=image_id)
                target.write_text(json.dumps(clean, indent=2, sort_keys=True) + "\n")
                written.append(target)
        marker = engine.create_marker(f"botmaker-lock.{token}", {LABEL_LOCK: token, TEST_LABEL: token})
        [row] = client.api.containers(all=True, filters={"id": marker})
        marker_image = client.images.get(MARKER_IMAGE).id
        clean = scrub(row, case="marker", cid=marker, token=token, root=root, image_id=marker_image)
        (out_dir / "marker.row.json").write_text(json.dumps(clean, indent=2, sort_keys=True) + "\n")
        written.append(out_dir / "marker.row.json")
    finally:
        for row in client.api.containers(all=True, filters={"label": f"{TEST_LABEL}={token}"}):
            client.api.remove_container(row["Id"], force=True, v=True)
        for bot, _ in bots.values():
            for v in bot.volumes:
                if not v.is_bind:
                    try:
                        client.api.remove_volume(v.source, force=True)
                    except docker.errors.NotFound:
                        pass
        shutil.rmtree(root, ignore_errors=True)
        client.close()
    leftover = re.compile(re.escape(token) + "|" + re.escape(root))
    for path in written:
        assert not leftover.search(path.read_text()), f"{path} still names the recording's token or root"
    return written


if __name__ == "__main__":
    for path in record(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA):
        print(path)
