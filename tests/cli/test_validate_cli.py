"""`deployer validate` as an operator runs it: a subprocess, exit codes, output lines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
VALID_EXAMPLES = ["examples/fleet.yaml", "examples/bots"]
LOCATED = re.compile(r"^[^:]+:\d+:\d+: ")
FILE_LEVEL = re.compile(r"^[^:]+: (?!\$)\S")
SUMMARY = re.compile(r"^(\d+ error\(s\), \d+ warning\(s\)|(\d+ bot\(s\) )?valid, \d+ warning\(s\))$")
PROBLEM_KEYS = {"file", "line", "column", "path", "severity", "message"}

BOT = """\
    apiVersion: botmaker/v1
    kind: Bot
    metadata:
      name: bot-a
    spec:
      image: ghcr.io/openclaw/openclaw:2026.2.26
"""


def deployer(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deployer", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text))
    return path


# --- the examples ---------------------------------------------------------------------------------

def test_valid_examples_pass():
    result = deployer("validate", *VALID_EXAMPLES)
    assert (result.returncode, result.stdout, result.stderr) == (0, "3 bot(s) valid, 0 warning(s)\n", "")


def test_each_valid_example_file_names_its_schema():
    files = [EXAMPLES / "fleet.yaml", *sorted((EXAMPLES / "bots").glob("*.yaml"))]
    assert len(files) == 4
    for path in files:
        first = path.read_text().splitlines()[0]
        schema = "fleet" if path.name == "fleet.yaml" else "bot"
        match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert match, path
        assert (path.parent / match.group(1)).resolve() == ROOT / "schemas" / f"{schema}.schema.json"


def test_invalid_examples_fail_with_every_problem_located():
    result = deployer("validate", "examples/invalid")
    assert result.returncode == 1
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert SUMMARY.match(lines[-1]) and lines[-1].endswith("error(s), 1 warning(s)"), lines[-1]
    for line in lines[:-1]:
        assert LOCATED.match(line) or FILE_LEVEL.match(line), line
        assert line.startswith("examples/invalid/"), line
    # every broken example contributes at least one problem
    named = {line.split(":", 1)[0] for line in lines[:-1]}
    expected = {f"examples/invalid/{p.name}" for p in (EXAMPLES / "invalid").glob("*.yaml")}
    expected -= {"examples/invalid/duplicate-name-1.yaml"}  # the first of the two is the one pointed at
    assert named == expected


def test_invalid_examples_show_each_kind_of_problem():
    out = deployer("validate", "examples/invalid").stdout
    for needle in [
        "unknown field 'imgae'; did you mean 'image'?",
        "must be a whole number, not the text '18789' (write it without quotes)",
        "must be no, always, unless-stopped or on-failure, or a mapping such as {policy: on-failure, maxRetries: 3}",
        "env OPENAI_API_KEY looks like a secret",
        "provider anthropic needs the secret ANTHROPIC_API_KEY",
        "channel slack needs the secret SLACK_APP_TOKEN",
        "duplicate bot name 'twin-bot'",
        "more than one Fleet document",
        "unknown apiVersion 'botmaker/v2'",
        "unknown kind 'Deployment'",
        "host port 127.0.0.1:18820/tcp is also published by bot port-bot-a",
        "host path '/srv/botmaker/state/shared' is also mounted by bot state-bot-a",
        "relative bind source './state/relative-bot'",
        "warning: image 'ghcr.io/openclaw/openclaw:latest' has no pinned tag",
        "YAML syntax error:",
        "document is a list, not a mapping",
    ]:
        assert needle in out, needle


def test_invalid_readme_lists_every_file():
    readme = (EXAMPLES / "invalid" / "README.md").read_text()
    for path in (EXAMPLES / "invalid").glob("*.yaml"):
        assert f"`{path.name}`" in readme, path.name


def test_json_format():
    result = deployer("validate", "--format", "json", "examples/invalid")
    assert result.returncode == 1
    problems = json.loads(result.stdout)
    assert isinstance(problems, list) and problems
    for problem in problems:
        assert isinstance(problem, dict) and set(problem) == PROBLEM_KEYS
        assert problem["severity"] in ("error", "warning")
        assert isinstance(problem["line"], int) and isinstance(problem["column"], int)
        assert problem["file"].startswith("examples/invalid/")
    assert sum(p["severity"] == "warning" for p in problems) == 1
    text = deployer("validate", "examples/invalid").stdout.splitlines()
    assert len(problems) == len(text) - 1  # the same problems as the text format, less the summary


def test_json_format_of_valid_manifests_is_an_empty_list():
    result = deployer("validate", "--format=json", *VALID_EXAMPLES)
    assert result.returncode == 0
    assert json.loads(result.stdout) == []


# --- exit codes and one-line errors -----------------------------------------------------------------

def test_warnings_alone_exit_zero(tmp_path):
    write(tmp_path / "bot.yaml", BOT.replace(":2026.2.26", ":latest"))
    result = deployer("validate", "bot.yaml", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "bot.yaml:6:10: $.spec.image: warning: image 'ghcr.io/openclaw/openclaw:latest' has no pinned tag: "
        "'latest' moves under you; pin a version such as :2026.2.26",
        "1 bot(s) valid, 1 warning(s)",
    ]


def test_one_error_exits_one(tmp_path):
    write(tmp_path / "bot.yaml", BOT + "      colour: blue\n")
    result = deployer("validate", "bot.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "bot.yaml:7:3: $.spec.colour: unknown field 'colour'; allowed: image, pullPolicy, provider, channels, "
        "secrets, env, command, user, ports, volumes, resources, restart, state, healthcheck, placement, network, "
        "runtime, gateway, openclaw",
        "1 error(s), 0 warning(s)",
    ]


def _alias_bomb() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefghi", "bcdefghij"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


BAD_INPUTS = [
    pytest.param("missing.yaml", None, "missing.yaml: no such file or directory", id="nonexistent"),
    pytest.param("empty-dir", "DIR", "empty-dir: directory contains no *.yaml or *.yml manifests", id="empty-dir"),
    pytest.param("empty.yaml", "", "empty.yaml: file is empty", id="empty-file"),
    pytest.param("comments.yaml", "# nothing\n# here\n", "comments.yaml: file contains no YAML documents", id="comments"),
    pytest.param("binary.yaml", b"\x7fELF\x02\x01\x01\x00", "binary.yaml: binary file (contains NUL bytes), not YAML",
                 id="binary"),
    pytest.param("latin1.yaml", b"kind: caf\xe9\n", "latin1.yaml:1:10: file is not valid UTF-8 text", id="not-utf8"),
    pytest.param("syntax.yaml", "kind: [Bot\n", "syntax.yaml:2:1: YAML syntax error: did not find expected ',' or ']' "
                 "(while parsing a flow sequence at line 1)", id="syntax"),
    pytest.param("dup.yaml", "kind: Bot\nkind: Fleet\n", "dup.yaml:2:1: duplicate key 'kind' (first defined at line 1)",
                 id="duplicate-key"),
    pytest.param("deep.yaml", "[" * 100_000 + "]" * 100_000,
                 "deep.yaml:1:66: document is nested too deeply (limit 64 levels)", id="deep-nesting"),
    pytest.param("bomb.yaml", _alias_bomb(),
                 "bomb.yaml:6:4: document expands to more than 200000 nodes (YAML alias bomb?)", id="alias-bomb"),
    pytest.param("scalar.yaml", "hello\n",
                 "scalar.yaml:1:1: $: document is a string, not a mapping with apiVersion, kind, metadata and spec",
                 id="scalar-document"),
    pytest.param("kind.yaml", "apiVersion: botmaker/v1\nkind: [Bot]\n",
                 "kind.yaml:2:7: $.kind: must be Bot or Fleet, not a list", id="kind-not-a-string"),
    pytest.param("bot.yaml", "apiVersion: botmaker/v1\nkind: Bot\nmetadata: {name: a}\nspec:\n",
                 "bot.yaml:4:6: $.spec: must be a mapping, not empty", id="null-spec"),
]


@pytest.mark.parametrize(("name", "content", "line"), BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_one(tmp_path, name, content, line):
    if content == "DIR":
        (tmp_path / name).mkdir()
    elif content is not None:
        write(tmp_path / name, content)
    result = deployer("validate", name, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr == ""
    assert result.stdout.splitlines() == [line, "1 error(s), 0 warning(s)"]
    as_json = json.loads(deployer("validate", "--format", "json", name, cwd=tmp_path).stdout)
    assert len(as_json) == 1 and set(as_json[0]) == PROBLEM_KEYS and as_json[0]["severity"] == "error"


def test_bad_and_good_inputs_together_report_everything(tmp_path):
    write(tmp_path / "bots" / "a.yaml", BOT)
    write(tmp_path / "bots" / "b.yaml", b"\x00")
    result = deployer("validate", "bots", "missing", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "bots/b.yaml: binary file (contains NUL bytes), not YAML",
        "missing: no such file or directory",
        "2 error(s), 0 warning(s)",
    ]


@pytest.mark.parametrize(
    "args",
    [("validate",), ("validate", "--format", "yaml", "x.yaml"), ("validate", "--no-such-option", "x.yaml"), ("nope",)],
)
def test_usage_errors_are_short(args):
    result = deployer(*args)
    assert result.returncode == 1  # issue 24: a usage error exits 1, as in Terraform (2 is "changes found")
    assert "Traceback" not in result.stderr
    assert "Error:" in result.stderr
    assert result.stdout == ""


def test_help_and_version():
    result = deployer("--help")
    assert result.returncode == 0 and "validate" in result.stdout
    result = deployer("validate", "--help")
    assert result.returncode == 0 and "--format" in result.stdout
    result = deployer("--version")
    assert result.returncode == 0 and result.stdout.startswith("deployer, version ")


# --- no Docker client for validation ---------------------------------------------------------------

NO_DOCKER = """\
import sys
import deployer.cli
try:
    deployer.cli.main.main(args={args!r}, prog_name="deployer", standalone_mode=False)
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print("DOCKER-IMPORTED" if "docker" in sys.modules else "NO-DOCKER", code)
"""


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["validate", *VALID_EXAMPLES], 0),
        (["validate", "examples/invalid"], 1),
        (["validate", "--format", "json", "examples/invalid"], 1),
        (["--help"], 0),
        (["validate", "--help"], 0),
        # secrets are checked on the host only; the examples' secretsDir does not exist here
        (["validate", "--secrets", *VALID_EXAMPLES], 1),
        (["plan", "--help"], 0),
        (["apply", "--help"], 0),
    ],
)
def test_validate_and_help_do_not_import_docker(args, code):
    result = subprocess.run(
        [sys.executable, "-c", NO_DOCKER.format(args=args)], cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout.splitlines()[-1] == f"NO-DOCKER {code}"


def test_an_unknown_backend_is_one_line_naming_where_it_came_from():
    result = subprocess.run([sys.executable, "-m", "deployer", "unlock", "some-fleet"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "DEPLOYER_BACKEND": "swarmm"})
    assert result.returncode == 1
    assert result.stderr == "error: unknown backend 'swarmm' (known: docker, swarm) (DEPLOYER_BACKEND)\n"
    assert "Traceback" not in result.stdout + result.stderr


def test_yaml_1_1_numbers_are_kept_as_written_or_warned(tmp_path):
    """Issue 24: `22:30`, `0123`, `1.10` validated with 0 warnings and reached the container as
    1350, 83 and 1.1. Now 22:30 is text (YAML 1.2), and each number that does not reach the
    container as written is a located warning naming the value to quote."""
    write(tmp_path / "bot.yaml", BOT.replace("image:", "env: {QUIET_HOURS_START: 22:30, CHAT_ID: 0123, "
                                             "VERSION: 1.10, PORT: 8080}\n      image:"))
    (tmp_path / ".gitlab-ci.yml").write_text("stages: [broken\n")  # hidden: not a manifest
    out = deployer("validate", str(tmp_path), "--format", "json")
    assert out.returncode == 0, out.stderr
    problems = json.loads(out.stdout)
    assert [(p["path"], p["severity"]) for p in problems] == [
        ("$.spec.env.CHAT_ID", "warning"), ("$.spec.env.VERSION", "warning")]
    assert "gets '123'" in problems[0]["message"] and '"0123"' in problems[0]["message"]
    assert "gets '1.1'" in problems[1]["message"]


def test_schema_messages_are_plain_words_with_the_accepted_form(tmp_path):
    """Issue 24: schema messages showed regexes and Python reprs (`'1gb' does not match
    '^[0-9]{1,15}[bkmgBKMG]?$'`, `True is not of type 'string', 'number'`, `'on-failure:3' is not one
    of [...]` without the mapping form, `kind: bot` without a suggestion)."""
    write(tmp_path / "bot.yaml", BOT + "      resources: {memory: 1gb}\n      env: {DEBUG: true}\n"
                                       "      restart: on-failure:3\n")
    write(tmp_path / "typo.yaml", BOT.replace("kind: Bot", "kind: bot"))
    result = deployer("validate", "bot.yaml", "typo.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "bot.yaml:7:23: $.spec.resources.memory: '1gb' is not a size such as 512m or 1g (bytes, or a number "
        "followed by b, k, m or g)",
        'bot.yaml:8:16: $.spec.env.DEBUG: must be text or a number, not true (quote it for the text: "true")',
        "bot.yaml:9:12: $.spec.restart: must be no, always, unless-stopped or on-failure, or a mapping such as "
        "{policy: on-failure, maxRetries: 3}, not 'on-failure:3'",
        "typo.yaml:2:7: $.kind: unknown kind 'bot'; did you mean 'Bot'?",
        "4 error(s), 0 warning(s)",
    ]
