"""`deployer plan --format json|markdown|github` when no plan can be made: the problems are on
stdout in the chosen format (a PR comment or an annotation shows them), not only on stderr.

No engine: manifest problems stop the plan before any engine is asked (DOCKER_HOST points nowhere
to prove it); an unreachable engine is said the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "plan.schema.json"
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
VALID = ["examples/fleet.yaml", "examples/bots"]
FLEET = """\
apiVersion: botmaker/v1
kind: Fleet
metadata: {name: prs}
spec:
  defaults: {runtime: container}
"""
PORT_BOT = """\
apiVersion: botmaker/v1
kind: Bot
metadata: {name: %s}
spec:
  image: ghcr.io/openclaw/openclaw:2026.2.26
  ports:
    - {containerPort: 8080, hostPort: 18820}
"""


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A fleet whose two bots publish the same host port: manifests/b.yaml:7:39 is the problem."""
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "fleet.yaml").write_text(FLEET)
    for name in ("a", "b"):
        (tmp_path / "manifests" / f"{name}.yaml").write_text(PORT_BOT % f"prs-{name}")
    return tmp_path


def deployer(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deployer", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **NO_ENGINE})


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


PORT_PROBLEM = "host port 127.0.0.1:18820/tcp is also published by bot prs-a (manifests/a.yaml:7)"


def test_json_holds_the_errors_and_every_located_problem(broken: Path):
    result = deployer("plan", "--format", "json", "manifests", cwd=broken)
    assert result.returncode == 1, result
    doc = json.loads(result.stdout)
    assert not list(_validator().iter_errors(doc)), doc
    assert doc["actions"] == [] and doc["fleet"] == ""  # the plan could not be made: no fleet to name
    assert doc["errors"] == [f"manifests/b.yaml:7:39: $.spec.ports[0].hostPort: {PORT_PROBLEM}"]
    assert doc["problems"] == [{"file": "manifests/b.yaml", "line": 7, "column": 39, "path": "$.spec.ports[0].hostPort",
                                "severity": "error", "message": PORT_PROBLEM}]
    # stderr says it as before
    assert result.stderr.splitlines()[-1] == "error: 1 manifest error(s)"


def test_markdown_is_a_caution_block_for_the_pr_comment(broken: Path):
    result = deployer("plan", "--format", "markdown", "manifests", cwd=broken)
    assert result.returncode == 1, result
    assert result.stdout.splitlines() == [
        "### deployer plan", "", "> [!CAUTION]", "> No plan: 1 manifest error(s):",
        "> - `manifests/b.yaml:7:39`: `$.spec.ports[0].hostPort`: " + PORT_PROBLEM,
    ]


def test_github_annotates_the_manifest_line(broken: Path):
    result = deployer("plan", "--format", "github", "manifests", cwd=broken)
    assert result.returncode == 1, result
    assert result.stdout.splitlines() == [
        "::error file=manifests/b.yaml,line=7,col=39,title=$.spec.ports[0].hostPort::" + PORT_PROBLEM,
        "No plan: 1 manifest error(s)",
    ]


def test_text_keeps_the_problems_on_stderr_and_stdout_empty(broken: Path):
    result = deployer("plan", "manifests", cwd=broken)
    assert (result.returncode, result.stdout) == (1, "")
    assert f"manifests/b.yaml:7:39: $.spec.ports[0].hostPort: {PORT_PROBLEM}" in result.stderr


def test_an_unreachable_engine_is_said_in_the_format_too():
    md = deployer("plan", "--format", "markdown", *VALID)
    assert md.returncode == 1, md
    assert md.stdout.startswith("### deployer plan for fleet demo\n\n> [!CAUTION]\n> No plan: ")
    assert "cannot reach the Docker engine" in md.stdout
    gh = deployer("plan", "--format", "github", *VALID)
    assert gh.returncode == 1, gh
    first, last = gh.stdout.splitlines()
    assert first.startswith("::error::") and "cannot reach the Docker engine" in first and last == "No plan."
    doc = json.loads(deployer("plan", "--format", "json", *VALID).stdout)
    assert doc["fleet"] == "demo" and doc["problems"] == [] and "cannot reach the Docker engine" in doc["errors"][0]
