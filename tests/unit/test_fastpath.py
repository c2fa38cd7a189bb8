"""The fast path (deployer/manifests/fastpath.py) gives the located path's answer, or defers to it.

For every manifest in examples/ (valid, invalid, CI), the schema and header cases of
test_validation.py and the hostile-input corpus of tests/support/hostile_corpus.py:
- load_file_plain returns data equal to load_file's exactly when load_file reports nothing;
- validate_plain returns a result exactly when the located path finds no problem at all (no
  error, no warning), and then the same result (the same FleetSpec);
- load_and_validate returns what validate_documents(*load_paths(...)) returns, problem for
  problem.
And the compiled validator never accepts what jsonschema refuses.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployer.manifests import fastpath
from deployer.manifests import load as manifest
from deployer.manifests.load import load_bytes, load_bytes_plain, load_file, load_file_plain, load_paths
from deployer.manifests.schema import SCHEMA_DIR
from deployer.manifests.schema import validators as _validators
from deployer.manifests.validation import validate_documents
from tests.support import hostile_corpus as hostile  # the strategies of the hostile-input corpus
from tests.unit.test_validation import HEADER_CASES, IMAGE, SCHEMA_CASES, bot

REPO = Path(__file__).resolve().parent.parent.parent

EXAMPLE_FILES = sorted(str(p.relative_to(REPO)) for p in (REPO / "examples").rglob("*.y*ml"))
EXAMPLE_SETS = [["examples"], ["examples/invalid"], ["examples/fleet.yaml", "examples/invalid"],
                ["examples/ci"], ["examples/fleet.yaml", "examples/bots/ops-bot.yaml"]]


def located(paths: list[str]):
    return validate_documents(*load_paths(paths))


def assert_agree(paths: list[str]) -> None:
    """The three properties of the module docstring, for one manifest set."""
    slow = located(paths)
    files, find_problems = manifest.find_manifest_files(paths)
    fast = None if find_problems else fastpath.validate_plain(files)
    assert (fast is not None) == (not slow.problems), (paths, [p.format() for p in slow.problems])
    if fast is not None:
        assert fast.fleet == slow.fleet and fast.problems == []
    both = fastpath.load_and_validate(paths)
    assert both.problems == slow.problems
    assert both.fleet == slow.fleet


def assert_loaders_agree(raw: bytes, name: str) -> None:
    documents, problems = load_bytes(raw, name)
    plain = load_bytes_plain(raw, name)
    if problems or not documents:
        assert plain is None, [p.format() for p in problems]
    else:
        assert plain is not None, f"plain loader refused what load_bytes took: {raw[:300]!r}"
        assert [(d.file, d.index, d.data) for d in plain] == [(d.file, d.index, d.data) for d in documents]


@pytest.mark.parametrize("path", EXAMPLE_FILES)
def test_example_file_loads_the_same(path, monkeypatch):
    monkeypatch.chdir(REPO)
    documents, problems = load_file(Path(path))
    plain = load_file_plain(Path(path))
    assert (plain is None) == bool(problems)
    if plain is not None:
        assert [d.data for d in plain] == [d.data for d in documents]


@pytest.mark.parametrize("path", EXAMPLE_FILES)
def test_example_file_alone_agrees(path, monkeypatch):
    monkeypatch.chdir(REPO)
    assert_agree([path])


@pytest.mark.parametrize("paths", EXAMPLE_SETS, ids=lambda ps: "+".join(ps))
def test_example_sets_agree(paths, monkeypatch):
    monkeypatch.chdir(REPO)
    assert_agree(paths)


def test_the_example_fleet_takes_the_fast_path(monkeypatch):
    """The valid example set has no warning: the fast path answers alone (a test that the
    agreement above is not met by always deferring)."""
    monkeypatch.chdir(REPO)
    files, _ = manifest.find_manifest_files(["examples"])
    result = fastpath.validate_plain(files)
    assert result is not None and result.fleet is not None and len(result.fleet.bots) == 3


def _write(tmp_path: Path, files: dict[str, str]) -> list[str]:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip("\n"))
    return sorted(files)


@pytest.mark.parametrize(("files", "expected"), SCHEMA_CASES)
def test_schema_cases_agree(tmp_path, monkeypatch, files, expected):
    monkeypatch.chdir(tmp_path)
    assert_agree(_write(tmp_path, files))


@pytest.mark.parametrize(("text", "expected"), HEADER_CASES)
def test_header_cases_agree(tmp_path, monkeypatch, text, expected):
    monkeypatch.chdir(tmp_path)
    assert_agree(_write(tmp_path, {"bot.yaml": text}))


FLEET = f"""\
apiVersion: botmaker/v1
kind: Fleet
metadata: {{name: demo}}
spec:
  defaults:
    image: {IMAGE}
    healthcheck: {{test: [CMD, "true"], interval: 5s}}
    restart: {{policy: on-failure, maxRetries: 2}}
"""


@pytest.mark.parametrize(("name", "files", "fast"), [
    # valid, no warning: the fast path answers
    ("restart-no-is-text", {"bot.yaml": bot(spec=f"image: {IMAGE}\nrestart: no")}, True),
    ("partial-map-completed-by-defaults",  # the compiled validator says no, jsonschema allows it
     {"fleet.yaml": FLEET, "bot.yaml": bot(spec="healthcheck: {interval: 10s}")}, True),
    # jsonschema (Python re) lets `$` match before a final newline; the compiled validator does not
    ("name-with-final-newline", {"bot.yaml": bot(name='"a\\n"')}, True),
    ("numbers-as-env-values", {"bot.yaml": bot(spec=f"image: {IMAGE}\nenv: {{A: 1, B: 2.5, C: 10}}")}, True),
    # issue 24: 1e3 reaches the container as 1000: a warning, so the located path answers
    ("number-not-as-written", {"bot.yaml": bot(spec=f"image: {IMAGE}\nenv: {{A: 1, B: 2.5, C: 1e3}}")}, False),
    ("yaml-1.2-time-is-text", {"bot.yaml": bot(spec=f"image: {IMAGE}\nenv: {{QUIET_HOURS_START: 22:30}}")}, True),
    ("anchors-and-aliases", {"bot.yaml": bot(spec=f"image: &i {IMAGE}\nenv: {{A: *i}}")}, True),
    ("ipv6-host", {"bot.yaml": bot(spec=f"image: {IMAGE}\nports: [{{containerPort: 1, hostPort: 2, hostIP: '::1'}}]")},
     True),
    ("port-past-64-bits", {"bot.yaml": bot(spec=f"image: {IMAGE}\nports: [{{containerPort: 1, hostPort: {2**70}}}]")},
     False),
    # problems: the located path answers
    ("latest-warning", {"bot.yaml": bot(spec="image: ghcr.io/openclaw/openclaw:latest")}, False),
    ("duplicate-key", {"bot.yaml": bot(spec=f"image: {IMAGE}\nimage: {IMAGE}")}, False),
    ("merge-key", {"bot.yaml": bot(spec=f"<<: {{image: {IMAGE}}}")}, False),
    ("deep", {"bot.yaml": bot(spec=f"image: {IMAGE}\nenv: {{A: {'[' * 70}1{']' * 70}}}")}, False),
    ("yes-is-text", {"bot.yaml": bot(spec=f"image: {IMAGE}\nrestart: yes")}, False),
    # jsonschema's bounds let NaN through (a semantic check refuses it); the compiled validator refuses it
    ("cpus-nan", {"bot.yaml": bot(spec=f"image: {IMAGE}\nresources: {{cpus: .nan}}")}, False),
])
def test_edge_cases_agree(tmp_path, monkeypatch, name, files, fast):
    monkeypatch.chdir(tmp_path)
    paths = _write(tmp_path, files)
    assert_agree(paths)
    found, _ = manifest.find_manifest_files(paths)
    assert (fastpath.validate_plain(found) is not None) == fast, name


def test_restart_no_stays_text_on_the_fast_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = _write(tmp_path, {"bot.yaml": bot(spec=f"image: {IMAGE}\nrestart: no")})
    (bot_spec,) = fastpath.validate_plain(manifest.find_manifest_files(paths)[0]).fleet.bots
    assert bot_spec.restart_policy == "no"


def test_big_files_are_prescanned_and_still_agree():
    """Over half the node limit in bytes, the pre-composing scan runs (and refuses the same)."""
    body = "".join(bot(name=f"b{i}", spec=f"image: {IMAGE}") + "---\n" for i in range(1200)).encode()
    assert len(body) > manifest.MAX_PARSED_NODES_PER_FILE // 2
    assert not manifest._cheap_to_compose(body)
    assert_loaders_agree(body, "big.yaml")
    dense = b"[" + b"0," * 200_001 + b"0]"
    assert load_bytes_plain(dense, "dense.yaml") is None


@pytest.mark.parametrize("text", [
    b"[" * 2000 + b"]" * 2000,  # deep flow: too deep to compose cheaply, prescan refuses
    b"a:\n" + b"".join(b" " * (2 * i) + b"- b:\n" for i in range(300)),  # deep block nesting
    b"- " * 600 + b"x\n",
    b"{" * 65 + b"}" * 65,
    b"[" * 64 + b"1" + b"]" * 64,
])
def test_deep_nesting_agrees(text):
    assert_loaders_agree(text, "deep.yaml")


def test_cheap_to_compose_bounds_the_depth():
    assert manifest._cheap_to_compose(b"a: [1, 2]\nb: {c: d}\n")
    assert not manifest._cheap_to_compose(b"[" * 999 + b"]" * 999)
    assert not manifest._cheap_to_compose(b"x" * 600 + b"\n")  # a long line could hide block nesting


# --- the hostile corpus ---------------------------------------------------------------------------

@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(data=hostile.hostile_file())
def test_hostile_corpus_agrees(tmp_path, data):
    path = tmp_path / "manifest.yaml"
    path.write_bytes(data)
    assert_loaders_agree(data, str(path))
    assert_agree([str(path)])


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(docs=hostile.mutated_data())
def test_mutated_documents_agree(tmp_path, docs):
    """The corpus before its text mutations: mostly well-formed YAML, so mostly schema and
    semantic cases rather than syntax errors."""
    try:
        text = yaml.safe_dump_all(docs, sort_keys=False)
    except (yaml.YAMLError, RecursionError, ValueError):
        return
    path = tmp_path / "manifest.yaml"
    path.write_text(text)
    assert_agree([str(path)])


# --- the compiled validator is at least as strict as jsonschema ------------------------------------

@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=hostile.hostile_file())
def test_compiled_validator_never_accepts_what_jsonschema_refuses(data):
    documents, _ = load_bytes(data, "m.yaml")
    compiled = fastpath.compiled_validators()
    for doc in documents:
        kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
        if not isinstance(kind, str) or kind not in compiled:
            continue
        if fastpath._compiled_says_valid(compiled[kind], doc.data):
            errors = [e.message for e in _validators()[kind].iter_errors(doc.data)]
            assert errors == [], doc.data


def test_every_schema_format_is_vetted_or_delegated():
    """A format the compiled validator has not been compared on is asked of jsonschema's checker,
    so a format the schemas gain later cannot make the fast path laxer."""
    schemas = [json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob("*.schema.json"))]
    used = fastpath.schema_formats(schemas)
    assert {"ipv4", "ipv6"} <= used
    import jsonschema_rs

    schema = {"format": "regex"}  # not vetted: delegated
    v = jsonschema_rs.Draft202012Validator(schema, validate_formats=True, formats={"regex": fastpath._python_format("regex")})
    assert v.is_valid("a+") and not v.is_valid("(")


ip_like = st.text(st.sampled_from("0123456789abcdefABCDEF:.%/ \n"), max_size=45) | st.ip_addresses().map(str)


@settings(max_examples=800, deadline=None, database=None)
@given(value=ip_like)
def test_vetted_formats_are_no_laxer_than_jsonschema(value):
    from jsonschema import Draft202012Validator

    compiled = fastpath.compiled_validators()
    assert compiled, "jsonschema-rs is a dependency"
    import jsonschema_rs

    for name in fastpath.VETTED_FORMATS:
        rust = jsonschema_rs.Draft202012Validator({"format": name}, validate_formats=True).is_valid(value)
        if rust:
            assert Draft202012Validator.FORMAT_CHECKER.conforms(value, name), (name, value)


def test_cpus_nan_is_one_located_error_not_a_traceback(tmp_path, monkeypatch):
    """Found by the agreement test: jsonschema's exclusiveMinimum/maximum let .nan through and
    building the model then raised ValueError."""
    monkeypatch.chdir(tmp_path)
    paths = _write(tmp_path, {"bot.yaml": bot(spec=f"image: {IMAGE}\nresources: {{cpus: .nan}}")})
    assert [p.format() for p in located(paths).problems] == [
        "bot.yaml:7:21: $.spec.resources.cpus: cpus is .nan, not a number; give a number of cores such as 0.5"]


def test_the_garbage_collector_is_running_again_afterwards(tmp_path, monkeypatch):
    import gc

    monkeypatch.chdir(tmp_path)
    good = _write(tmp_path, {"good.yaml": bot(spec=f"image: {IMAGE}")})
    bad = _write(tmp_path, {"bad.yaml": bot(spec=f"image: {IMAGE}\nimage: {IMAGE}")})
    for paths in (good, bad):
        fastpath.validate_plain(manifest.find_manifest_files(paths)[0])
        assert gc.isenabled()
    gc.disable()
    try:
        fastpath.validate_plain(manifest.find_manifest_files(good)[0])
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
