"""The swarm backend's translation, as pure functions of plain data: BotSpec -> ServiceSpec, and
recorded `docker service inspect` + task answers (tests/unit/data/swarm/, captured from the 3-node
test swarm: a running bot with a rotated secret, a stopped bot, a bot whose image no node has)
-> the planner's and status's views."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deployer.backends.swarm import translate
from deployer.backends.swarm.traits import SWARM_TRAITS
from deployer.core.model import BotSpec, Port, Volume, fingerprint_label
from deployer.core.spec import container_spec, spec_hash
from deployer.core.vocabulary import LABEL_SECRETS
from deployer.plan.planner import _drift

DATA = Path(__file__).parent / "data" / "swarm"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def bot(**kw: Any) -> BotSpec:
    base: dict[str, Any] = dict(name="b1", image="deployer-test/openclaw:1", env=(("MODE", "one"),),
                                secrets=("TELEGRAM_BOT_TOKEN",))
    base.update(kw)
    return BotSpec(**base)


def build(b: BotSpec, **kw: Any) -> dict[str, Any]:
    spec = container_spec(b, "/s")
    refs = [translate.SecretRef("sid1", "botmaker-f-b1-TELEGRAM_BOT_TOKEN-abcdefabcdef", "TELEGRAM_BOT_TOKEN", 1000, 1000)]
    return translate.service_spec(b, fleet="f", spec=spec, spec_hash=spec_hash(spec),
                                  extra_labels={LABEL_SECRETS: fingerprint_label({"TELEGRAM_BOT_TOKEN": "abcdef" * 4})},
                                  secrets=refs if b.secrets else [], **kw)


def test_service_spec_runs_one_stop_first_replica_without_a_vip() -> None:
    s = build(bot(ports=(Port(18789, 28080, "0.0.0.0"),)))
    assert s["Name"] == "botmaker-b1"
    assert s["Mode"] == {"Replicated": {"Replicas": 1}}
    assert s["UpdateConfig"]["Order"] == "stop-first" and s["UpdateConfig"]["FailureAction"] == "rollback"
    assert s["UpdateConfig"]["Monitor"] == translate.DEFAULT_MONITOR_NS
    assert s["RollbackConfig"]["Order"] == "stop-first"
    assert s["EndpointSpec"] == {"Mode": "dnsrr", "Ports": [
        {"Protocol": "tcp", "TargetPort": 18789, "PublishedPort": 28080, "PublishMode": "host"}]}
    labels = s["Labels"]
    assert labels["botmaker.managed"] == "true" and labels["botmaker.fleet"] == "f" and labels["botmaker.bot-id"] == "b1"
    assert json.loads(labels["botmaker.spec"]) == container_spec(bot(ports=(Port(18789, 28080, "0.0.0.0"),)), "/s")
    container = s["TaskTemplate"]["ContainerSpec"]
    assert container["Env"] == ["MODE=one"]
    assert container["Labels"]["botmaker.spec-hash"] == labels["botmaker.spec-hash"]
    assert container["Secrets"] == [{"File": {"Name": "TELEGRAM_BOT_TOKEN", "UID": "1000", "GID": "1000", "Mode": 0o400},
                                     "SecretID": "sid1", "SecretName": "botmaker-f-b1-TELEGRAM_BOT_TOKEN-abcdefabcdef"}]


def test_a_stopped_bot_has_no_replica() -> None:
    assert build(bot(state="stopped"))["Mode"] == {"Replicated": {"Replicas": 0}}


@pytest.mark.parametrize("policy,retries,condition", [
    ("no", 0, {"Condition": "none"}), ("always", 0, {"Condition": "any"}),
    ("unless-stopped", 0, {"Condition": "any"}), ("on-failure", 3, {"Condition": "on-failure", "MaxAttempts": 3}),
])
def test_restart_policies_map_to_swarm_conditions(policy: str, retries: int, condition: dict[str, Any]) -> None:
    b = bot(restart_policy=policy, restart_max_retries=retries)
    assert build(b)["TaskTemplate"]["RestartPolicy"] == condition
    # and back, canonical again (swarm's "any" is whichever of always/unless-stopped was recorded)
    svc = {"ID": "x", "Spec": build(b)}
    assert translate.live_spec(svc)["restart"] == container_spec(b, "/s")["restart"]


def test_placement_limits_command_volumes_and_network() -> None:
    b = bot(placement_constraints=("node.labels.region==eu",), placement_preferences=("node.labels.zone",),
            memory_bytes=64 << 20, nano_cpus=500_000_000, command=("sh", "-c", "exit 3"),
            volumes=(Volume("/data/b1", "/data"), Volume("cache", "/cache", True)), network="botnet")
    t = build(b)["TaskTemplate"]
    assert t["Placement"] == {"Constraints": ["node.labels.region==eu"],
                              "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}]}
    assert t["Resources"] == {"Limits": {"MemoryBytes": 64 << 20, "NanoCPUs": 500_000_000}}
    assert t["ContainerSpec"]["Args"] == ["sh", "-c", "exit 3"]  # the image's entrypoint stays, as with docker's Cmd
    assert t["ContainerSpec"]["Mounts"] == [
        {"Type": "bind", "Source": "/data/b1", "Target": "/data", "ReadOnly": False},
        {"Type": "volume", "Source": "cache", "Target": "/cache", "ReadOnly": True}]
    assert t["Networks"] == [{"Target": "botnet"}]
    live = translate.live_spec({"ID": "x", "Spec": build(b)})
    want = container_spec(b, "/s")
    for key in ("image", "command", "memory", "cpus", "volumes", "placement", "network", "secrets_mount"):
        assert live[key] == (want["secrets"]["mount"] if key == "secrets_mount" else want[key]), key


def test_placement_is_in_the_canonical_spec_only_when_set() -> None:
    """So the hash of every bot without placement (all docker-backend bots) is what it was."""
    assert "placement" not in container_spec(bot())
    assert container_spec(bot(placement_constraints=("node.role==worker",)))["placement"] == {
        "constraints": ["node.role==worker"], "preferences": []}


def test_recorded_running_service_is_a_running_unit_in_sync() -> None:
    data = recorded("running")
    svc, tasks, nodes = data["service"], data["tasks"], data["nodes"]
    observed = translate.observed_from_service(svc)
    assert observed.state == "running" and observed.running and observed.bot == "swdev-b"
    assert observed.image_id == ""  # the nodes keep their own images: no ID to compare
    st = translate.status_from_service(svc, tasks, nodes)
    assert st.status == "running" and st.running and st.restart_count == 0
    assert st.node in ("worker1", "worker2")
    assert st.image == "deployer-test/openclaw:1"
    # the live spec matches the recorded canonical spec: drift finds nothing
    want = json.loads(svc["Spec"]["Labels"]["botmaker.spec"])
    replace: list[Any] = []
    reasons: list[str] = []
    _drift(want, st.live, replace, reasons)
    assert (replace, reasons) == ([], [])


def test_a_secret_swapped_by_hand_is_drift() -> None:
    svc = json.loads(json.dumps(recorded("running")["service"]))
    ref = svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"][0]
    ref["SecretName"] = ref["SecretName"].rsplit("-", 1)[0] + "-000000000000"
    want = json.loads(svc["Spec"]["Labels"]["botmaker.spec"])
    replace: list[Any] = []
    reasons: list[str] = []
    _drift(want, translate.live_spec(svc), replace, reasons)
    assert [c.field for c in replace] == ["secrets"]


def test_the_previous_spec_keeps_its_secret_referenced() -> None:
    svc = recorded("running")["service"]
    now, before = translate.secret_refs_of(svc["Spec"]), translate.secret_refs_of(svc["PreviousSpec"])
    assert now and before  # a rollback must still find the secret the previous spec mounts


def test_recorded_stopped_service() -> None:
    data = recorded("stopped")
    observed = translate.observed_from_service(data["service"])
    assert observed.state == "exited" and not observed.running
    st = translate.status_from_service(data["service"], data["tasks"], data["nodes"])
    assert st.status == "stopped" and not st.running


def test_a_task_rejected_for_a_missing_image_is_found() -> None:
    data = recorded("no-image")
    rejected = translate.no_such_image(data["tasks"])
    assert rejected is not None and "No such image" in rejected["Status"]["Err"]
    assert translate.no_such_image(recorded("running")["tasks"]) is None


def test_scaled_by_hand_is_not_running() -> None:
    svc = json.loads(json.dumps(recorded("running")["service"]))
    svc["Spec"]["Mode"]["Replicated"]["Replicas"] = 3
    assert translate.observed_from_service(svc).state == "scaled to 3"
    assert translate.replicas(translate.with_replicas(svc["Spec"], 1)) == 1
    # with_replicas changes nothing else of the stored spec
    back = translate.with_replicas(svc["Spec"], 3)
    assert back == svc["Spec"]


def test_names_fit_swarms_64_characters() -> None:
    long_fleet, long_bot = "f" * 63, "b" * 60
    name = translate.secret_object_name(long_fleet, long_bot, "TELEGRAM_BOT_TOKEN", "0123456789abcdef" * 2)
    assert len(name) <= 64 and name.endswith("-0123456789ab")
    assert name == translate.secret_object_name(long_fleet, long_bot, "TELEGRAM_BOT_TOKEN", "0123456789abcdef" * 2)
    assert translate.secret_object_name("f", "b", "T", "0123456789abcdef") == "botmaker-f-b-T-0123456789ab"
    short = translate.marker_config_name("botmaker-lock." + long_fleet + ".beat.abcdefabcdef.12")
    assert len(short) <= 64 and short != translate.marker_config_name("botmaker-lock." + long_fleet + ".beat.abcdefabcdef.13")
    assert translate.marker_config_name("botmaker-record.f") == "botmaker-record.f"


def test_marker_from_a_recorded_config() -> None:
    cfg = recorded("record-config")[0]
    m = translate.marker_from_config(cfg)
    assert m.name == "botmaker-record.swdev" and m.labels["botmaker.record"] == "swdev"
    assert m.created == float(int(translate.parse_time(cfg["CreatedAt"]))) and m.created > 1.7e9


def test_parse_time_keeps_the_nanoseconds_it_can() -> None:
    assert translate.parse_time("2026-12-02T00:45:37.433199002Z") == pytest.approx(1796172337.433199, abs=1e-5)
    assert translate.parse_time("") == 0.0 and translate.parse_time("garbage") == 0.0


def test_swarm_traits() -> None:
    assert SWARM_TRAITS.aside_mark is None and SWARM_TRAITS.in_place_fields == frozenset()
    assert SWARM_TRAITS.secret_delivery == "engine-secrets" and SWARM_TRAITS.unit_noun == "service"


def test_a_placement_only_change_forces_a_new_task() -> None:
    """Never send swarmkit 20.10 a spec that differs from its tasks only in placement (its
    IsTaskDirty dereferences the task's node, nil for a pending task: the manager panics)."""
    stored = recorded("running")["service"]["Spec"]
    new = json.loads(json.dumps(stored))
    new["TaskTemplate"]["ContainerSpec"].pop("Isolation", None)
    new["TaskTemplate"].pop("ForceUpdate", None)
    new["TaskTemplate"]["Placement"] = {"Constraints": ["node.labels.region==us"]}
    assert translate.avoid_placement_only_update(stored, new)
    assert new["TaskTemplate"]["ForceUpdate"] == int(stored["TaskTemplate"].get("ForceUpdate") or 0) + 1
    other = json.loads(json.dumps(new))
    other["TaskTemplate"].pop("ForceUpdate")
    other["TaskTemplate"]["ContainerSpec"]["Env"] = ["MODE=two"]  # a real change: no bump needed
    assert not translate.avoid_placement_only_update(stored, other) and "ForceUpdate" not in other["TaskTemplate"]
    assert not translate.avoid_placement_only_update(stored, json.loads(json.dumps(stored)))


def test_a_slot_scaled_away_is_neither_the_unit_nor_a_restart() -> None:
    data = recorded("running")
    svc, task = data["service"], next(t for t in data["tasks"] if t["DesiredState"] == "running")
    extra = json.loads(json.dumps(task))
    extra.update(ID="slot2", Slot=2, DesiredState="shutdown", CreatedAt="2999-01-01T00:00:00Z")
    extra["Status"]["State"] = "complete"
    st = translate.status_from_service(svc, data["tasks"] + [extra], data["nodes"])
    assert st.status == "running" and st.restart_count == 0
    crashed = json.loads(json.dumps(task))
    crashed.update(ID="crash1", DesiredState="shutdown", CreatedAt="1999-01-01T00:00:00Z")
    crashed["Status"].update(State="failed", Err="task: non-zero exit (3)")
    assert translate.status_from_service(svc, data["tasks"] + [crashed], data["nodes"]).restart_count == 1
