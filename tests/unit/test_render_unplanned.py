"""A plan that could not be made, in each format (issue 24, defect 6): expected outputs literal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployer.cli.render import REPORTERS, render_unplanned
from deployer.cli.render.markdown import unplanned_markdown
from deployer.core.problems import WARNING, Problem

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json"
PROBLEMS = [
    Problem("bots/b.yaml", 7, 39, "$.spec.ports[0].hostPort", "host port 18820/tcp is also published by bot a"),
    Problem("bots/a.yaml", 5, 10, "$.spec.image", "image 'x' has no pinned tag", WARNING),
    Problem("/srv/secrets/a/TOKEN", 0, 0, "", "bot a: secret TOKEN file is open to group or others (mode 0644)"),
]


def test_text_leaves_it_to_stderr() -> None:
    assert render_unplanned("demo", PROBLEMS, "2 manifest error(s)", "text") is None


def test_every_other_plan_format_says_it() -> None:
    assert [name for name, cls in REPORTERS.items() if cls.renders("plan")
            and render_unplanned("f", PROBLEMS, "e", name) is None] == ["text"]


def test_json() -> None:
    doc = json.loads(render_unplanned("demo", PROBLEMS, "2 error(s)", "json") or "")
    assert doc["errors"] == [
        "/srv/secrets/a/TOKEN: bot a: secret TOKEN file is open to group or others (mode 0644)",
        "bots/b.yaml:7:39: $.spec.ports[0].hostPort: host port 18820/tcp is also published by bot a",
    ]
    assert [p["file"] for p in doc["problems"]] == ["/srv/secrets/a/TOKEN", "bots/a.yaml", "bots/b.yaml"]
    assert doc["actions"] == [] and set(doc["summary"].values()) == {0} and doc["fleet"] == "demo"
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    assert not list(jsonschema.validators.validator_for(schema)(schema).iter_errors(doc))


def test_json_of_an_error_without_problems() -> None:
    doc = json.loads(render_unplanned("", [], "cannot reach the engine", "json") or "")
    assert (doc["fleet"], doc["errors"], doc["problems"]) == ("", ["cannot reach the engine"], [])


def test_markdown() -> None:
    assert render_unplanned("demo", PROBLEMS, "2 error(s)", "markdown") == (
        "### deployer plan for fleet demo\n"
        "\n"
        "> [!CAUTION]\n"
        "> No plan: 2 error(s):\n"
        "> - `/srv/secrets/a/TOKEN`: bot a: secret TOKEN file is open to group or others (mode 0644)\n"
        "> - `bots/a.yaml:5:10`: `$.spec.image`: warning: image 'x' has no pinned tag\n"
        "> - `bots/b.yaml:7:39`: `$.spec.ports[0].hostPort`: host port 18820/tcp is also published by bot a"
    )
    assert render_unplanned("", [], "no engine", "markdown") == "### deployer plan\n\n> [!CAUTION]\n> No plan: no engine"


def test_markdown_stays_under_the_size_limit() -> None:
    many = [Problem(f"bots/b{i:04}.yaml", 1, 1, "$.spec", "x" * 100) for i in range(2000)]
    text = unplanned_markdown("demo", many, "2000 manifest error(s)", max_length=60000)
    assert len(text) < 60000
    last = text.splitlines()[-1]
    shown = text.count("\n> - `bots/")
    assert last == (f"> - _{2000 - shown} more problem(s) not shown, to keep this comment under the size limit; "
                    "`deployer plan` prints them all._")


def test_github() -> None:
    assert render_unplanned("demo", PROBLEMS, "2 error(s)", "github") == (
        "::error file=/srv/secrets/a/TOKEN::bot a: secret TOKEN file is open to group or others (mode 0644)\n"
        "::warning file=bots/a.yaml,line=5,col=10,title=$.spec.image::image 'x' has no pinned tag\n"
        "::error file=bots/b.yaml,line=7,col=39,title=$.spec.ports[0].hostPort::host port 18820/tcp is also "
        "published by bot a\n"
        "No plan: 2 error(s)"
    )
    assert render_unplanned("demo", [], "no engine", "github") == "::error::no engine\nNo plan."
