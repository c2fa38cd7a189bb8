"""Review-oriented renderers: plan as markdown (PR comment) and GitHub workflow commands,
problems as GitHub annotations and markdown, and the optional colour of the text plan.

Plans are built by hand from the model's plain data; expected outputs are written out literally."""

from __future__ import annotations

import io

import click
import pytest

from deployer.cli.render import (
    MARKDOWN_VALUE_LIMIT,
    render_plan,
    render_plan_github,
    render_plan_markdown,
    render_problems,
    use_color,
)
from deployer.core.model import Action, BotSpec, Change, Plan
from deployer.core.problems import WARNING, Problem

IMAGE_OLD = "ghcr.io/openclaw/openclaw:2026.2.19"
IMAGE_NEW = "ghcr.io/openclaw/openclaw:2026.2.26"


def _support() -> Action:
    return Action(
        bot="support",
        action="replace",
        reasons=("env changed", "image changed"),
        changes=(
            Change("env", {"LOG_LEVEL": "info", "GREETING": "a|b"}, {"LOG_LEVEL": "debug", "NEW": "x"},
                   forces_replacement=True),
            Change("image", IMAGE_OLD, IMAGE_NEW, forces_replacement=True),
        ),
        container_id="c1",
        desired=BotSpec(name="support", image=IMAGE_NEW, source_file="manifests/bots/support.yaml"),
    )


def _plan() -> Plan:
    return Plan(
        fleet="demo",
        actions=(
            _support(),
            Action("ops", "update", ("memory changed (in place)",), (Change("memory", 536870912, 1073741824),),
                   container_id="c2"),
            Action("quiet", "noop", container_id="c3"),
            Action("community", "create", ("no container",),
                   desired=BotSpec(name="community", image=IMAGE_NEW, source_file="manifests/bots/community.yaml")),
            Action("legacy", "orphan",
                   ("container botmaker-legacy belongs to fleet demo but no manifest declares bot 'legacy'",),
                   container_id="c4"),
        ),
        foreign_managed_count=1,
    )


# --- markdown -----------------------------------------------------------------------------------

EXPECTED_MARKDOWN = r"""### deployer plan for fleet demo

| Action | Count |
| --- | ---: |
| create | 1 |
| replace | 1 |
| update | 1 |
| start | 0 |
| stop | 0 |
| remove | 0 |
| orphans | 1 |

<details><summary><code>-/+</code> <b>support</b>: replace (env, image)</summary>

| Field | Before | After |
| --- | --- | --- |
| `env["GREETING"]` | `"a\|b"` | *(absent)* |
| `env["LOG_LEVEL"]` | `"info"` | `"debug"` |
| `env["NEW"]` | *(absent)* | `"x"` |
| `image` | `"ghcr.io/openclaw/openclaw:2026.2.19"` | `"ghcr.io/openclaw/openclaw:2026.2.26"` |

- env changed
- image changed

</details>

<details><summary><code>~</code> <b>ops</b>: update (memory)</summary>

| Field | Before | After |
| --- | --- | --- |
| `memory` | `512m` | `1g` |

- memory changed (in place)

</details>

<details><summary><code>+</code> <b>community</b>: create</summary>

- no container

</details>

<details><summary><code>?</code> <b>legacy</b>: orphan</summary>

- container botmaker-legacy belongs to fleet demo but no manifest declares bot 'legacy'

</details>

1 orphan container(s) of fleet demo listed above; `--prune` removes them.
1 managed container(s) of other fleets or tools seen and left alone."""


def test_markdown_plan_exact() -> None:
    assert render_plan_markdown(_plan()) == EXPECTED_MARKDOWN


def test_markdown_no_changes() -> None:
    plan = Plan("demo", (Action("quiet", "noop", container_id="c3"),))
    assert render_plan_markdown(plan) == (
        "### deployer plan for fleet demo\n"
        "\n"
        "**No changes.** Fleet `demo` matches its manifests."
    )


def test_markdown_errors_are_a_caution_block() -> None:
    plan = Plan(
        "demo",
        (Action("gone", "remove", ("container botmaker-gone belongs to fleet demo but no manifest declares bot 'gone'",),
                container_id="c9"),),
        errors=("refusing to remove 1 containers: more than --max-removals 0",),
    )
    assert render_plan_markdown(plan) == r"""### deployer plan for fleet demo

> [!CAUTION]
> The plan has errors; apply will refuse it and change nothing:
> - refusing to remove 1 containers: more than --max-removals 0

| Action | Count |
| --- | ---: |
| create | 0 |
| replace | 0 |
| update | 0 |
| start | 0 |
| stop | 0 |
| remove | 1 |

<details><summary><code>-</code> <b>gone</b>: remove</summary>

- container botmaker-gone belongs to fleet demo but no manifest declares bot 'gone'

</details>

Removals run last, and only if every other change succeeds; volumes and secrets are kept."""


def test_markdown_escapes_pipes_backticks_and_markup() -> None:
    # a value holding backticks gets a longer fence; a pipe is escaped even inside a code span (GFM)
    plan = Plan("demo", (Action(
        "support", "replace", ("drift: *env* on the engine <differs> | from [the] manifest",),
        (Change("command", ["sh", "-c", "a | b `x`"], ["sh", "-c", "b"]),),
    ),))
    out = render_plan_markdown(plan)
    assert r'| `command` | ``["sh", "-c", "a \| b `x`"]`` | `["sh", "-c", "b"]` |' in out
    assert r"- drift: \*env\* on the engine \<differs\> \| from \[the\] manifest" in out


def test_markdown_truncates_long_values() -> None:
    long = "x" * 500
    plan = Plan("demo", (Action("support", "replace", ("env changed",), (Change("user", long, "1000"),)),))
    out = render_plan_markdown(plan)
    shown = '"' + "x" * (MARKDOWN_VALUE_LIMIT - 1) + "\u2026"
    assert f"| `user` | `{shown}` | `\"1000\"` |" in out
    assert "x" * MARKDOWN_VALUE_LIMIT not in out


def test_markdown_newlines_in_values_and_reasons_stay_on_one_line() -> None:
    plan = Plan("demo", (Action("support", "replace", ("first\nsecond",), (Change("user", "a\nb", "c"),)),))
    out = render_plan_markdown(plan)
    assert '| `user` | `"a\\nb"` | `"c"` |' in out
    assert "- first second" in out


def test_markdown_leaves_out_sections_past_the_size_limit() -> None:
    actions = tuple(Action(f"bot-{i:03}", "create", ("no container",)) for i in range(200))
    out = render_plan_markdown(Plan("demo", actions), max_length=3000)
    assert len(out) <= 3000
    assert "<b>bot-000</b>" in out
    assert "<b>bot-199</b>" not in out
    assert "more bot(s) not shown" in out
    assert "| create | 200 |" in out


def test_markdown_orphans_only_and_leftovers() -> None:
    plan = Plan("demo", (
        Action("quiet", "noop", ("leftover copies from an interrupted apply will be removed",), leftovers=("old1",)),
    ))
    assert render_plan_markdown(plan).endswith(
        "| remove | 0 |\n"
        "\n"
        "<details><summary><b>quiet</b>: remove leftover copies</summary>\n"
        "\n"
        "- leftover copies from an interrupted apply will be removed\n"
        "\n"
        "</details>"
    )
    orphan_only = Plan("demo", (Action("legacy", "orphan", ("no manifest",)),))
    out = render_plan_markdown(orphan_only)
    assert out.startswith("### deployer plan for fleet demo\n\n**No changes.** Fleet `demo` does not match its "
                          "manifests: orphans run (listed below).\n\n"
                          "| Action | Count |\n")
    assert "| orphans | 1 |" in out
    assert "<details><summary><code>?</code> <b>legacy</b>: orphan</summary>" in out


def test_markdown_code_span_padding_for_edge_backticks() -> None:
    plan = Plan("demo", (Action("support", "replace", (), (Change("`odd` name", "`", 1),)),))
    assert "| `` `odd` name `` | ``\"`\"`` | `1` |" in render_plan_markdown(plan)


def test_markdown_shows_only_the_plan() -> None:
    # Everything in the comment is a function of the Plan value: same plan, same comment.
    assert render_plan_markdown(_plan()) == render_plan_markdown(_plan())
    assert "c1" not in render_plan_markdown(_plan())  # container ids are not shown


# --- GitHub workflow commands -------------------------------------------------------------------

def test_github_plan_exact() -> None:
    plan = Plan(
        "demo",
        _plan().actions + (Action("gone", "remove", ("no manifest declares bot 'gone'",), container_id="c9"),),
        errors=("refusing to remove 1 containers: more than --max-removals 0",),
    )
    out = render_plan_github(plan, {"ops": "manifests/bots/ops.yaml", "support": "ignored.yaml"})
    assert out == (
        "::notice file=manifests/bots/support.yaml::bot support: replace (env changed; image changed)\n"
        "::notice file=manifests/bots/ops.yaml::bot ops: update (memory changed (in place))\n"
        "::notice file=manifests/bots/community.yaml::bot community: create (no container)\n"
        "::warning::bot legacy: orphan (container botmaker-legacy belongs to fleet demo but no manifest "
        "declares bot 'legacy')\n"
        "::warning::bot gone: remove (no manifest declares bot 'gone')\n"
        "::error::refusing to remove 1 containers: more than --max-removals 0\n"
        "Plan: 1 to create, 1 to replace, 1 to update, 0 to start, 0 to stop, 1 to remove."
    )


def test_github_plan_without_file_mapping() -> None:
    plan = Plan("demo", (Action("ops", "start", ("container is exited, manifest says running",)),))
    assert render_plan_github(plan) == (
        "::notice::bot ops: start (container is exited, manifest says running)\n"
        "Plan: 0 to create, 0 to replace, 0 to update, 1 to start, 0 to stop."
    )


def test_github_plan_no_changes() -> None:
    assert render_plan_github(Plan("demo", (Action("quiet", "noop"),))) == (
        "Plan: 0 to create, 0 to replace, 0 to update, 0 to start, 0 to stop."
    )


def test_github_escaping_of_message_and_properties() -> None:
    plan = Plan(
        "demo",
        (Action("support", "update", ("cpus 50% higher, now: 2\r\nsecond line",),
                desired=BotSpec(name="support", image=IMAGE_NEW, source_file="dir,x/a:b%.yaml")),),
        errors=("bad: 100%\nnext, line",),
    )
    lines = render_plan_github(plan).split("\n")
    assert lines == [
        "::notice file=dir%2Cx/a%3Ab%25.yaml::bot support: update (cpus 50%25 higher, now: 2%0D%0Asecond line)",
        "::error::bad: 100%25%0Anext, line",
        "Plan: 0 to create, 0 to replace, 1 to update, 0 to start, 0 to stop.",
    ]


# --- problems -----------------------------------------------------------------------------------

PROBLEMS = [
    Problem("manifests/bots/b.yaml", 0, 0, "", "file contains no YAML documents", WARNING),
    Problem("manifests/bots/a.yaml", 7, 11, "$.spec.ports[0].hostPort", "port 18789 is also used by bot ops"),
    Problem("manifests/bots/a.yaml", 3, 9, "$.spec.env.NOTE", "50% off, see: x | y\nsecond line", WARNING),
]


def test_problems_github_exact() -> None:
    assert render_problems(PROBLEMS, "github") == (
        "::warning file=manifests/bots/a.yaml,line=3,col=9,title=$.spec.env.NOTE::50%25 off, see: x | y%0Asecond line\n"
        "::error file=manifests/bots/a.yaml,line=7,col=11,title=$.spec.ports[0].hostPort::"
        "port 18789 is also used by bot ops\n"
        "::warning file=manifests/bots/b.yaml::file contains no YAML documents\n"
        "1 error(s), 2 warning(s)"
    )


def test_problems_github_escapes_properties() -> None:
    p = Problem("a,b:c.yaml", 1, 1, "$['a:b,c']", "m")
    assert render_problems([p], "github", bots=1).split("\n") == [
        "::error file=a%2Cb%3Ac.yaml,line=1,col=1,title=$['a%3Ab%2Cc']::m",
        "1 error(s), 0 warning(s)",
    ]


def test_problems_github_valid() -> None:
    assert render_problems([], "github", bots=3) == "3 bot(s) valid, 0 warning(s)"


def test_problems_markdown_exact() -> None:
    assert render_problems(PROBLEMS, "markdown", bots=2) == r"""| Location | Path | Severity | Message |
| --- | --- | --- | --- |
| `manifests/bots/a.yaml:3:9` | `$.spec.env.NOTE` | warning | 50% off, see: x \| y<br>second line |
| `manifests/bots/a.yaml:7:11` | `$.spec.ports[0].hostPort` | error | port 18789 is also used by bot ops |
| `manifests/bots/b.yaml` |  | warning | file contains no YAML documents |

**1 error(s), 2 warning(s)**"""


def test_problems_markdown_valid() -> None:
    warning_only = [PROBLEMS[0]]
    assert render_problems([], "markdown", bots=3) == "**3 bot(s) valid, 0 warning(s)**"
    assert render_problems(warning_only, "markdown", bots=3).endswith("\n\n**3 bot(s) valid, 1 warning(s)**")


def test_problems_text_and_json_unchanged() -> None:
    assert render_problems(PROBLEMS, "text") == (
        "manifests/bots/a.yaml:3:9: $.spec.env.NOTE: warning: 50% off, see: x | y\nsecond line\n"
        "manifests/bots/a.yaml:7:11: $.spec.ports[0].hostPort: port 18789 is also used by bot ops\n"
        "manifests/bots/b.yaml: warning: file contains no YAML documents\n"
        "1 error(s), 2 warning(s)"
    )
    assert render_problems([], "text", bots=2) == "2 bot(s) valid, 0 warning(s)"


# --- colour -------------------------------------------------------------------------------------

EXPECTED_TEXT = """\
  -/+ bot support must be replaced
        # env changed
        # image changed
        env: { GREETING: "a|b" -> (none); LOG_LEVEL: "info" -> "debug"; NEW: (none) -> "x" }  # forces replacement
        image: "ghcr.io/openclaw/openclaw:2026.2.19" -> "ghcr.io/openclaw/openclaw:2026.2.26"  # forces replacement

    ~ bot ops will be updated in place
        # memory changed (in place)
        memory: 512m -> 1g

    + bot community will be created
        # no container

    ? bot legacy is an orphan (no manifest); left alone without --prune
        # container botmaker-legacy belongs to fleet demo but no manifest declares bot 'legacy'

Plan: 1 to create, 1 to replace, 1 to update, 0 to start, 0 to stop.
1 orphan container(s) of fleet demo listed above; --prune removes them.
1 managed container(s) of other fleets or tools seen and left alone."""


def test_text_plan_without_colour_is_unchanged() -> None:
    plan = _plan()
    assert render_plan(plan) == EXPECTED_TEXT
    assert render_plan(plan, "text") == EXPECTED_TEXT
    assert render_plan(plan, "text", color=False) == EXPECTED_TEXT
    assert "\x1b[" not in render_plan(plan)


def test_text_plan_with_errors_and_removal_unchanged() -> None:
    plan = Plan("demo", (Action("gone", "remove", ("r",)), Action("x", "stop", ("s",))), errors=("boom",))
    assert render_plan(plan) == (
        "    - bot gone will be removed\n"
        "        # r\n"
        "\n"
        "    . bot x will be stopped\n"
        "        # s\n"
        "\n"
        "  ! boom\n"
        "\n"
        "Plan: 0 to create, 0 to replace, 0 to update, 0 to start, 1 to stop, 1 to remove.\n"
        "Removals run last, and only if every other change succeeds; volumes and secrets are kept."
    )


def test_text_plan_with_colour() -> None:
    plan = Plan("demo", _plan().actions + (Action("gone", "remove", ("r",)), Action("x", "start")),
                foreign_managed_count=1, errors=("boom",))
    coloured = render_plan(plan, "text", color=True)
    assert coloured != render_plan(plan)
    assert click.unstyle(coloured) == render_plan(plan)  # only styling is added
    lines = coloured.split("\n")
    assert lines[0] == ("  " + click.style("-", fg="red", bold=True) + click.style("/", fg="yellow")
                        + click.style("+", fg="green", bold=True) + " "
                        + click.style("bot support must be replaced", fg="yellow", bold=True))
    assert "    " + click.style("+", fg="green", bold=True) + " " + click.style(
        "bot community will be created", fg="green") in lines
    assert "    " + click.style("-", fg="red", bold=True) + " " + click.style(
        "bot gone will be removed", fg="red", bold=True) in lines
    assert "    " + click.style(">", fg="cyan", bold=True) + " " + click.style(
        "bot x will be started", fg="cyan") in lines
    assert "    " + click.style("~", fg="yellow", bold=True) + " " + click.style(
        "bot ops will be updated in place", fg="yellow") in lines
    assert click.style("  ! boom", fg="red", bold=True) in lines
    # reasons and summary stay plain
    assert "        # env changed" in lines
    assert lines[-1] == "1 managed container(s) of other fleets or tools seen and left alone."


def test_json_plan_ignores_colour() -> None:
    assert render_plan(_plan(), "json", color=True) == render_plan(_plan(), "json")


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.fixture
def colour_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    return monkeypatch


def test_use_color_on_a_terminal(colour_env: pytest.MonkeyPatch) -> None:
    assert use_color(False, _Stream(tty=True)) is True


def test_use_color_not_a_terminal(colour_env: pytest.MonkeyPatch) -> None:
    assert use_color(False, _Stream(tty=False)) is False
    assert use_color(False, None) is False
    assert use_color(False, object()) is False  # no isatty at all
    stream = io.StringIO()
    stream.close()
    assert use_color(False, stream) is False  # isatty on a closed stream raises ValueError


def test_use_color_flag(colour_env: pytest.MonkeyPatch) -> None:
    assert use_color(True, _Stream(tty=True)) is False


@pytest.mark.parametrize("value", ["1", "true", "0", "no", " "])
def test_no_color_any_non_empty_value_disables(colour_env: pytest.MonkeyPatch, value: str) -> None:
    colour_env.setenv("NO_COLOR", value)
    assert use_color(False, _Stream(tty=True)) is False


def test_no_color_empty_is_ignored(colour_env: pytest.MonkeyPatch) -> None:
    colour_env.setenv("NO_COLOR", "")
    assert use_color(False, _Stream(tty=True)) is True


def test_dumb_terminal_gets_no_colour(colour_env: pytest.MonkeyPatch) -> None:
    colour_env.setenv("TERM", "dumb")
    assert use_color(False, _Stream(tty=True)) is False
