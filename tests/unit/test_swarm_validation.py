"""Backend-specific checks, located as usual: what a swarm service cannot do, and placement on a
single Docker engine."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from deployer.manifests.fastpath import load_and_validate
from deployer.manifests.load import load_paths
from deployer.manifests.validation import validate_documents

FLEET = """
apiVersion: botmaker/v1
kind: Fleet
metadata: {name: f}
spec:
  backend: %s
"""


def problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str, bot_spec: str) -> list[str]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleet.yaml").write_text(textwrap.dedent(FLEET % backend).lstrip())
    (tmp_path / "bot.yaml").write_text("apiVersion: botmaker/v1\nkind: Bot\nmetadata: {name: b}\nspec:\n"
                                       + textwrap.indent(textwrap.dedent(bot_spec).strip(), "  ") + "\n")
    documents, load_problems = load_paths(["fleet.yaml", "bot.yaml"])
    slow = [p.format() for p in validate_documents(documents, load_problems).problems]
    fast = [p.format() for p in load_and_validate(["fleet.yaml", "bot.yaml"]).problems]
    assert fast == slow  # the fast path compiles the same schemas and runs the same checks
    return slow


def test_a_swarm_bot_cannot_publish_on_one_host_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = problems(tmp_path, monkeypatch, "swarm", """
        image: deployer-test/openclaw:1
        runtime: container
        ports:
          - {containerPort: 18789, hostPort: 28080}
          - {containerPort: 18790, hostPort: 28081, hostIP: 127.0.0.1}
          - {containerPort: 18791, hostPort: 28082, hostIP: 0.0.0.0}
    """)
    assert len(out) == 2
    assert out[0].startswith("bot.yaml:8:7: $.spec.ports[0]: a swarm service cannot publish on host address 127.0.0.1 "
                             "(the default)")
    assert "set hostIP: 0.0.0.0" in out[0] and "overlay network" in out[0]
    assert out[1].startswith("bot.yaml:9:") and "spec.ports[1].hostIP" in out[1]


def test_openclaw_runtime_is_refused_on_swarm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = problems(tmp_path, monkeypatch, "swarm", "image: deployer-test/openclaw:1")
    assert len(out) == 1 and "$.spec.runtime: runtime openclaw is not supported on the swarm backend yet" in out[0]
    assert "set runtime: container" in out[0]


def test_placement_on_the_docker_backend_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = problems(tmp_path, monkeypatch, "docker", """
        image: deployer-test/openclaw:1
        runtime: container
        placement: {constraints: [node.labels.region==eu]}
    """)
    assert len(out) == 1 and "$.spec.placement: warning: placement is used only by the swarm backend" in out[0]


def test_a_valid_swarm_bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(tmp_path, monkeypatch, "swarm", """
        image: deployer-test/openclaw:1
        runtime: container
        placement:
          constraints: [node.role==worker, "node.labels.region != us"]
          preferences: [{spread: node.labels.region}]
        ports: [{containerPort: 18789, hostPort: 28080, hostIP: 0.0.0.0}]
    """) == []
    fleet = load_and_validate(["fleet.yaml", "bot.yaml"]).fleet
    assert fleet is not None and fleet.backend == "swarm"
    assert fleet.bots[0].placement_constraints == ("node.role==worker", "node.labels.region != us")
    assert fleet.bots[0].placement_preferences == ("node.labels.region",)


def test_bad_backend_and_placement_are_schema_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = problems(tmp_path, monkeypatch, "kubernetes", """
        image: deployer-test/openclaw:1
        runtime: container
        placement: {constraints: ["region eu"], preferences: [{spread: region}]}
    """)
    assert any("fleet.yaml:5:" in p and "spec.backend" in p for p in out)
    assert any("spec.placement.constraints[0]" in p for p in out)
    assert any("spec.placement.preferences[0].spread" in p for p in out)


def test_a_bind_mount_on_swarm_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = problems(tmp_path, monkeypatch, "swarm", """
        image: deployer-test/openclaw:1
        runtime: container
        volumes: [{source: /srv/b, target: /data}, {source: cache, target: /cache}]
    """)
    assert len(out) == 1 and "$.spec.volumes[0].source: warning: bind source /srv/b must exist on every node" in out[0]
