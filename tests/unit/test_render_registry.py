"""The renderer registry: one Reporter class per format, the CLI's --format choices taken from it,
and the drift and status reports rendered from plain data (expected outputs written out literally)."""

from __future__ import annotations

import json

import click
import pytest

from deployer.cli import render
from deployer.cli.render import (
    REPORTERS,
    Reporter,
    UnknownFormat,
    formats,
    render_drift,
    render_plan,
    render_plan_github,
    render_plan_markdown,
    render_problems,
    render_status,
    reporter,
)
from deployer.core.model import Action, BotSpec, Change, Plan
from deployer.core.problems import WARNING, Problem
from deployer.flows.status import StatusReport, StatusRow, last_apply, utc_second


def test_the_registry_holds_one_reporter_per_format_text_first() -> None:
    assert list(REPORTERS) == ["text", "json", "markdown", "github"]
    for name, cls in REPORTERS.items():
        assert issubclass(cls, Reporter) and cls.name == name


@pytest.mark.parametrize("kind, expected", [
    ("problems", ["text", "json", "markdown", "github"]),
    ("plan", ["text", "json", "markdown", "github"]),
    ("drift", ["text", "json"]),
    ("status", ["text", "json"]),
    ("history", ["text", "json"]),  # review of issue 24: history renders through the registry too
])
def test_formats_are_those_whose_reporter_renders_the_kind(kind: str, expected: list[str]) -> None:
    assert formats(kind) == expected


def test_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown kind of report 'plans'"):
        formats("plans")


@pytest.mark.parametrize("command, kind", [
    ("validate", "problems"), ("plan", "plan"), ("drift", "drift"), ("status", "status"), ("history", "history"),
])
def test_the_cli_offers_exactly_the_registry_formats(command: str, kind: str) -> None:
    from deployer.cli import main

    option = next(p for p in main.commands[command].params if p.name == "fmt")
    assert isinstance(option.type, click.Choice)
    assert list(option.type.choices) == formats(kind)
    assert option.default == "text"


def test_an_unknown_format_and_a_kind_a_format_lacks_are_refused_by_name() -> None:
    with pytest.raises(UnknownFormat, match="unknown format 'yaml'; one of text, json, markdown, github"):
        reporter("yaml")
    with pytest.raises(UnknownFormat, match="format markdown does not render drift"):
        render_drift(Plan("f", ()), "markdown")
    with pytest.raises(UnknownFormat, match="format github does not render status"):
        render_status(StatusReport("f", [], None), "github")


def _plan() -> Plan:
    return Plan("f", (
        Action("a", "replace", ("image changed",), (Change("image", "x:1", "x:2"),), container_id="c1",
               desired=BotSpec(name="a", image="x:2", source_file="m/a.yaml")),
        Action("b", "noop", leftovers=("l1",)),
        Action("c", "orphan", container_id="c3"),
        Action("d", "noop"),
    ), errors=("conflict x",))


def test_the_front_doors_are_the_registered_reporters() -> None:
    p = _plan()
    assert render_plan(p, "markdown") == render_plan_markdown(p) == render.MarkdownReporter().plan(p)
    assert render_plan(p, "github") == render_plan_github(p) == render.GithubReporter().plan(p)
    assert json.loads(render_plan(p, "json")) == render.plan_document(p)
    assert render_plan(p, "text", color=True) == render.TextReporter(color=True).plan(p) != render_plan(p, "text")
    problems = [Problem("f.yaml", 3, 4, "$.spec", "bad"), Problem("a.yaml", 0, 0, "", "odd", WARNING)]
    assert render_problems(problems, "github", bots=2) == (
        "::warning file=a.yaml::odd\n::error file=f.yaml,line=3,col=4,title=$.spec::bad\n1 error(s), 1 warning(s)")


def test_drift_text_lists_desired_against_actual() -> None:
    assert render_drift(_plan()) == """\
bot a: drifted (apply will replace)
    # image changed
    image: desired "x:2", actual "x:1"
bot b: drifted (apply will remove the extra copies)
bot c: drifted (an orphan: apply --prune removes it)
! conflict x
Drift: 3 bot(s) of fleet f differ from their manifests."""
    assert render_drift(Plan("f", (Action("d", "noop"),))) == "No drift: fleet f matches its manifests."


def test_drift_json_is_the_versioned_document() -> None:
    assert json.loads(render_drift(_plan(), "json")) == {
        "format_version": "1",
        "fleet": "f",
        "drifted": [
            {"bot": "a", "repair": "replace", "reasons": ["image changed"],
             "fields": [{"field": "image", "desired": "x:2", "actual": "x:1"}]},
            {"bot": "b", "repair": "noop", "reasons": [], "fields": []},
            {"bot": "c", "repair": "orphan", "reasons": [], "fields": []},
        ],
        "errors": ["conflict x"],
    }


ROWS = [
    StatusRow("a", "running", "running", "healthy", "x:1", "2026-01-01 00:00:00", 2, "abc", True, ""),
    StatusRow("bb", "stopped", "missing", "-", "-", "-", 0, "-", False, "create"),
]
RECORD = {"revision": "", "applied_at": "t", "applied_by": "me", "summary": "{}", "result": "ok", "ci_job": ""}


def test_status_text_is_an_aligned_table_under_the_last_apply() -> None:
    assert render_status(StatusReport("f", ROWS, RECORD, engine="unix:///x")) == """\
Fleet f:
  engine: unix:///x
  last apply: revision - at t by me: ok
  BOT  DESIRED  ACTUAL   HEALTH   RESTARTS  STARTED              REVISION  SYNC            IMAGE
  a    running  running  healthy  2         2026-01-01 00:00:00  abc       in sync         x:1
  bb   stopped  missing  -        0         -                    -         pending create  -"""
    assert render_status(StatusReport("f", ROWS[:1], None)) == """\
Fleet f:
  last apply: none recorded
  BOT  DESIRED  ACTUAL   HEALTH   RESTARTS  STARTED              REVISION  SYNC     IMAGE
  a    running  running  healthy  2         2026-01-01 00:00:00  abc       in sync  x:1"""


def test_status_json_has_the_engine_last_when_known() -> None:
    text = render_status(StatusReport("f", ROWS[:1], None, engine="e"), "json")
    doc = json.loads(text)
    # issue 24: a format_version first
    assert list(doc) == ["format_version", "fleet", "last_apply", "bots", "engine"] and doc["format_version"] == "1"
    assert doc["bots"] == [{"bot": "a", "desired_state": "running", "actual_state": "running", "health": "healthy",
                            "image": "x:1", "started_at": "2026-01-01 00:00:00", "restart_count": 2,
                            "revision": "abc", "in_sync": True, "pending": ""}]
    assert "engine" not in json.loads(render_status(StatusReport("f", ROWS, RECORD), "json"))


def test_status_json_says_absent_values_as_null_and_times_in_utc() -> None:
    """Issue 24: health was "-", started_at had no zone, the summary was JSON inside a string."""
    row = StatusRow("b", "running", "missing", None, None, None, 0, None, False, "create")
    started = StatusRow("a", "running", "running", None, "x:1", utc_second("2026-03-04T05:06:07.123456789Z"), 1,
                        "abc", True, "")
    record = last_apply({**RECORD, "summary": '{"create": 1, "replace": 0}'})
    doc = json.loads(render_status(StatusReport("f", [started, row], record), "json"))
    assert doc["bots"][0]["started_at"] == "2026-03-04T05:06:07Z" and doc["bots"][0]["health"] is None
    assert {k: doc["bots"][1][k] for k in ("health", "image", "started_at", "revision")} == dict.fromkeys(
        ("health", "image", "started_at", "revision"))
    assert doc["last_apply"]["summary"] == {"create": 1, "replace": 0}
    # the text table is unchanged: "-" for nothing, the time without its zone letter
    lines = render_status(StatusReport("f", [started, row], None)).splitlines()
    assert lines[-2].split() == ["a", "running", "running", "-", "1", "2026-03-04", "05:06:07", "abc", "in", "sync",
                                 "x:1"]
    assert lines[-1].split() == ["b", "running", "missing", "-", "0", "-", "-", "pending", "create", "-"]


@pytest.mark.parametrize("stamp, utc", [
    ("2026-03-04T05:06:07.123456789Z", "2026-03-04T05:06:07Z"),
    ("2026-03-04T05:06:07Z", "2026-03-04T05:06:07Z"),
    ("2026-03-04T07:06:07.5+02:00", "2026-03-04T05:06:07Z"),
    ("0001-01-01T00:00:00Z", None), ("", None), ("garbage", None),
])
def test_engine_times_become_utc_seconds(stamp: str, utc: str | None) -> None:
    assert utc_second(stamp) == utc


def test_an_unreadable_summary_is_null() -> None:
    assert last_apply({**RECORD, "summary": "not json"})["summary"] is None  # type: ignore[index]
    assert last_apply(None) is None
