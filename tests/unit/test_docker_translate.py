"""The Docker translation (deployer/backends/docker/translate.py) against answers recorded from the
real engine (tests/unit/data/inspect, made by `python3 -m tests.support.inspect_cases` from the
bots in that module, created with DockerEngine.create): inspect -> UnitStatus and live spec, list
rows -> observed containers and markers, and BotSpec -> the exact Engine API bodies. A container
fresh from create must show no drift."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from deployer.backends.base import Marker, UnitStatus
from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.backends.docker.translate import (
    create_body,
    health_from_status,
    live_spec,
    marker_from_row,
    observed_from_row,
    restart_policy,
    status_from_inspect,
    update_body,
)
from deployer.core.labels import bot_labels
from deployer.core.model import BotSpec, ObservedContainer
from deployer.core.spec import container_spec, spec_hash
from deployer.plan.planner import _drift
from tests.support.engine_harness import STAND_IN_IMAGE
from tests.support.inspect_cases import FLEET, MARKER, ROOT, cases, fake_id, load, load_row

CASES = cases()
IMAGE_ID = "sha256:" + "1" * 64  # the scrubbed image id
IMAGE_LABELS = {"deployer-test.recipe": "0" * 16, "deployer-test.version": "1"}  # the stand-in's own
IMAGE_ENV = {"PATH": "/bin:/usr/bin:/usr/local/bin", "HOME": "/home/node"}
IMAGE_CMD = ["/usr/local/bin/bot-entrypoint"]
MIB = 1024 * 1024
SECOND = 1_000_000_000


def labels_of(case: str) -> dict[str, str]:
    """The labels the deployer's create path gives the case's bot, plus the image's."""
    bot, secrets_dir = CASES[case]
    spec = container_spec(bot, secrets_dir)
    return {**IMAGE_LABELS, **bot_labels(bot, fleet=FLEET, spec=spec, spec_hash=spec_hash(spec))}


EXPECTED_LIVE: dict[str, dict[str, Any]] = {
    "full": {
        "image": STAND_IN_IMAGE,
        "hostname": "rec-full",
        "command": IMAGE_CMD,
        "env": {"LOG_LEVEL": "info", "EMPTY": "", **IMAGE_ENV},
        "user": "1000",
        "ports": ["0.0.0.0:47812:9000/udp", "127.0.0.1:47811:18789/tcp"],
        "volumes": [f"{ROOT}/data/rec-full:/data:ro", "botmaker-rec-full-data:/home/node/.openclaw:rw"],
        "secrets_mount": f"{ROOT}/secrets/rec-full:/run/secrets:ro",
        "network": "bridge",
        "healthcheck": {"test": ["CMD", "wget", "-qO-", "http://127.0.0.1:18789/healthz"], "interval": SECOND,
                        "timeout": SECOND, "retries": 3, "startPeriod": SECOND},
        "labels": labels_of("full"),
        "memory": 64 * MIB,
        "cpus": 0.5,
        "restart": "on-failure:3",
    },
    "exited": {
        "image": STAND_IN_IMAGE,
        "hostname": fake_id("exited")[:12],  # Docker's default: the short container id
        "command": ["sh", "-c", "echo bye; exit 3"],
        "env": {"MODE": "once", **IMAGE_ENV},
        "user": "0",
        "ports": [],
        "volumes": [],
        "secrets_mount": None,
        "network": "none",
        "healthcheck": None,
        "labels": labels_of("exited"),
        "memory": None,
        "cpus": None,
        "restart": "no",
    },
    "defaults": {  # nothing set: command, user and env come from the image
        "image": STAND_IN_IMAGE,
        "hostname": fake_id("defaults")[:12],
        "command": IMAGE_CMD,
        "env": IMAGE_ENV,
        "user": "1000",
        "ports": [],
        "volumes": [],
        "secrets_mount": None,
        "network": "bridge",
        "healthcheck": None,
        "labels": labels_of("defaults"),
        "memory": None,
        "cpus": None,
        "restart": "unless-stopped",
    },
}

EXPECTED_STATUS: dict[str, dict[str, Any]] = {
    "full": dict(status="running", running=True, exit_code=0, health="healthy", started_at="2026-01-01T00:00:01.000000000Z",
                 memory_bytes=64 * MIB, nano_cpus=500_000_000, restart_policy="on-failure", restart_max_retries=3),
    "exited": dict(status="exited", running=False, exit_code=3, health=None, started_at="2026-01-01T00:00:01.000000000Z",
                   memory_bytes=0, nano_cpus=0, restart_policy="no", restart_max_retries=0),
    "defaults": dict(status="created", running=False, exit_code=0, health=None, started_at="0001-01-01T00:00:00Z",
                     memory_bytes=0, nano_cpus=0, restart_policy="unless-stopped", restart_max_retries=0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_live_spec_of_a_recorded_inspect(case):
    assert live_spec(load(case)) == EXPECTED_LIVE[case]


@pytest.mark.parametrize("case", sorted(CASES))
def test_status_of_a_recorded_inspect(case):
    bot, _ = CASES[case]
    assert status_from_inspect(load(case)) == UnitStatus(
        id=fake_id(case), name=bot.container_name, restart_count=0, image=STAND_IN_IMAGE, image_id=IMAGE_ID,
        labels=labels_of(case), live=EXPECTED_LIVE[case], **EXPECTED_STATUS[case])


@pytest.mark.parametrize("case", sorted(CASES))
def test_observed_from_a_recorded_list_row(case):
    bot, _ = CASES[case]
    state = EXPECTED_STATUS[case]["status"]
    # the list row shows the healthcheck's verdict too (the inspect's, for the same container)
    health = EXPECTED_STATUS[case]["health"]
    assert observed_from_row(load_row(case)) == ObservedContainer(
        id=fake_id(case), name=bot.container_name, image=STAND_IN_IMAGE, image_id=IMAGE_ID, state=state,
        labels=labels_of(case), health=health, created=1767225600.0)


@pytest.mark.parametrize("status, health", [
    ("Up 2 minutes (healthy)", "healthy"), ("Up 3 seconds (health: starting)", "starting"),
    ("Up 1 second (unhealthy)", "unhealthy"), ("Up 5 seconds", None), ("Up 3 seconds (Paused)", None),
    ("Exited (0) 2 seconds ago", None), ("Created", None), ("", None),
])
def test_the_health_a_list_row_shows(status, health):
    assert health_from_status(status) == health


def test_marker_from_a_recorded_list_row():
    assert marker_from_row(load_row("marker")) == Marker(
        fake_id("marker"), MARKER, {"botmaker.lock": "rec", "botmaker.marker-image": "1"}, 1767225600.0)


# --- a fresh container shows no drift --------------------------------------------------------------

IN_PLACE = ("memory", "cpus", "restart")


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_container_fresh_from_create_shows_no_drift(case):
    """What planner._drift compares, and the in-place fields, read back equal to the canonical
    spec the container was created from."""
    bot, secrets_dir = CASES[case]
    want = container_spec(bot, secrets_dir)
    live = live_spec(load(case))
    replace: list = []
    reasons: list[str] = []
    _drift(want, live, replace, reasons)
    assert replace == [] and reasons == []
    assert {f: live[f] for f in IN_PLACE} == {f: want[f] for f in IN_PLACE}
    assert set(IN_PLACE) == set(DOCKER_TRAITS.in_place_fields)


@pytest.mark.parametrize("case", sorted(CASES))
def test_fields_the_manifest_sets_are_read_back_exactly(case):
    """The same, field by field, without the planner: a guard on the test above."""
    bot, secrets_dir = CASES[case]
    want = container_spec(bot, secrets_dir)
    live = live_spec(load(case))
    for key in ("image", "ports", "volumes", "network"):
        assert live[key] == want[key], key
    assert live["secrets_mount"] == want["secrets"]["mount"]
    assert {k: live["env"][k] for k in want["env"]} == want["env"]
    assert {k: live["labels"][k] for k in want["labels"]} == want["labels"]
    for key in ("command", "user", "hostname", "healthcheck"):
        if want.get(key) is not None:
            assert live[key] == want[key], key


def mount(data: dict[str, Any], destination: str) -> dict[str, Any]:
    return next(m for m in data["Mounts"] if m["Destination"] == destination)


@pytest.mark.parametrize("edit, field", [
    (lambda d: d["HostConfig"]["PortBindings"]["18789/tcp"][0].update(HostPort="47899"), "ports"),
    (lambda d: mount(d, "/run/secrets").update(RW=True), "secrets"),
    (lambda d: mount(d, "/data").update(RW=True), "volumes"),
    (lambda d: d["Config"].update(Image="deployer-test/openclaw:2"), "image"),
    (lambda d: d["Config"]["Env"].remove("EMPTY="), "env"),
    (lambda d: d["Config"]["Healthcheck"].update(Retries=4), "healthcheck"),
    (lambda d: d["HostConfig"].update(NetworkMode="host"), "network"),
    (lambda d: d["Config"].update(Hostname="other"), "hostname"),
])
def test_a_changed_container_does_show_drift(edit, field):
    """The no-drift test above can fail: one edit of the recorded answer is one drifted field."""
    bot, secrets_dir = CASES["full"]
    data = copy.deepcopy(load("full"))
    edit(data)
    replace: list = []
    _drift(container_spec(bot, secrets_dir), live_spec(data), replace, [])
    assert [c.field for c in replace] == [field]


# --- BotSpec -> Engine API bodies ------------------------------------------------------------------

def test_create_body_of_a_fully_specified_bot():
    bot, secrets_dir = CASES["full"]
    spec = container_spec(bot, secrets_dir)
    body = create_body(bot, fleet=FLEET, spec=spec, spec_hash=spec_hash(spec), secrets_dir=secrets_dir)
    assert body == {
        "Image": STAND_IN_IMAGE,
        "Env": ["LOG_LEVEL=info", "EMPTY="],
        "User": "1000",
        "Labels": bot_labels(bot, fleet=FLEET, spec=spec, spec_hash=spec_hash(spec)),
        "Hostname": "rec-full",
        "ExposedPorts": {"18789/tcp": {}, "9000/udp": {}},
        "Healthcheck": {"Test": ["CMD", "wget", "-qO-", "http://127.0.0.1:18789/healthz"], "Interval": SECOND,
                        "Timeout": SECOND, "Retries": 3, "StartPeriod": SECOND},
        "HostConfig": {
            "Mounts": [
                {"Target": "/home/node/.openclaw", "Source": "botmaker-rec-full-data", "Type": "volume",
                 "ReadOnly": False},
                {"Target": "/data", "Source": f"{ROOT}/data/rec-full", "Type": "bind", "ReadOnly": True},
                {"Target": "/run/secrets", "Source": f"{ROOT}/secrets/rec-full", "Type": "bind", "ReadOnly": True},
            ],
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "NetworkMode": "bridge",
            "PortBindings": {"18789/tcp": [{"HostIp": "127.0.0.1", "HostPort": "47811"}],
                             "9000/udp": [{"HostIp": "0.0.0.0", "HostPort": "47812"}]},
            "Memory": 64 * MIB,
            "MemorySwap": 64 * MIB,
            "NanoCpus": 500_000_000,
        },
    }


@pytest.mark.parametrize("case", ["exited", "defaults"])
def test_create_body_sends_only_what_the_bot_sets(case):
    bot, secrets_dir = CASES[case]
    spec = container_spec(bot, secrets_dir)
    body = create_body(bot, fleet=FLEET, spec=spec, spec_hash=spec_hash(spec), secrets_dir=secrets_dir)
    expected_top = {"Image", "Env", "User", "Labels", "HostConfig"} | ({"Cmd"} if bot.command else set())
    assert set(body) == expected_top
    assert set(body["HostConfig"]) == {"Mounts", "RestartPolicy", "NetworkMode"}
    assert body["HostConfig"]["Mounts"] == []
    assert body["User"] == (bot.user or "")  # "": the image's user


def test_a_recorded_container_kept_what_create_body_sent():
    """The engine stored the create body as sent (the mounts without their false ReadOnly)."""
    bot, secrets_dir = CASES["full"]
    spec = container_spec(bot, secrets_dir)
    body = create_body(bot, fleet=FLEET, spec=spec, spec_hash=spec_hash(spec), secrets_dir=secrets_dir)
    data = load("full")
    host = data["HostConfig"]
    for key in ("RestartPolicy", "NetworkMode", "PortBindings", "Memory", "MemorySwap", "NanoCpus"):
        assert host[key] == body["HostConfig"][key], key
    assert host["Mounts"] == [{k: v for k, v in m.items() if not (k == "ReadOnly" and v is False)}
                              for m in body["HostConfig"]["Mounts"]]
    for key in ("Image", "User", "Hostname", "Healthcheck", "ExposedPorts"):
        assert data["Config"][key] == body[key], key
    assert data["Config"]["Env"][:len(body["Env"])] == body["Env"]  # then the image's
    assert data["Config"]["Labels"] == {**IMAGE_LABELS, **body["Labels"]}


@pytest.mark.parametrize("policy, retries, expected", [
    ("no", 0, {"Name": ""}),
    ("always", 0, {"Name": "always"}),
    ("unless-stopped", 0, {"Name": "unless-stopped"}),
    ("on-failure", 5, {"Name": "on-failure", "MaximumRetryCount": 5}),
])
def test_restart_policy_encoding(policy, retries, expected):
    assert restart_policy(BotSpec(name="a", image="i", restart_policy=policy, restart_max_retries=retries)) == expected


def test_update_body_carries_exactly_the_in_place_fields():
    full, _ = CASES["full"]
    assert update_body(full) == {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
                                 "Memory": 64 * MIB, "MemorySwap": 64 * MIB, "NanoCpus": 500_000_000}
    defaults, _ = CASES["defaults"]
    assert update_body(defaults) == {"RestartPolicy": {"Name": "unless-stopped"}}
    field_of = {"RestartPolicy": "restart", "Memory": "memory", "MemorySwap": "memory", "NanoCpus": "cpus"}
    assert {field_of[k] for k in update_body(full)} == DOCKER_TRAITS.in_place_fields
