"""The manifest loader: discovery, located data, and refusal of broken or hostile input."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import yaml

from deployer.manifests import load as manifest
from deployer.manifests.load import Document, Location, find_manifest_files, load_bytes, load_file, load_paths


def load_text(text: str, name: str = "m.yaml") -> tuple[list[Document], list[str]]:
    documents, problems = load_bytes(textwrap.dedent(text).lstrip("\n").encode(), name)
    return documents, [p.format() for p in problems]


# --- located data --------------------------------------------------------------------------------

def test_locations_of_nested_nodes():
    (doc,), problems = load_text("""
        apiVersion: botmaker/v1
        kind: Bot
        metadata:
          name: support-bot
        spec:
          ports:
            - containerPort: 18789
              hostPort: 18801
            - {containerPort: 18790, hostPort: 18802}
          env:
            TZ: UTC
    """)
    assert problems == []
    assert doc.file == "m.yaml" and doc.index == 0
    assert doc.data["spec"]["ports"][1] == {"containerPort": 18790, "hostPort": 18802}
    loc = doc.locations
    assert loc[()] == Location("m.yaml", 1, 1)
    assert loc[("metadata", "name")] == Location("m.yaml", 4, 9)
    assert loc[("spec", "ports")] == Location("m.yaml", 7, 5)
    assert loc[("spec", "ports", 0)] == Location("m.yaml", 7, 7)
    assert loc[("spec", "ports", 0, "hostPort")] == Location("m.yaml", 8, 17)
    assert loc[("spec", "ports", 1, "hostPort")] == Location("m.yaml", 9, 40)
    assert loc[("spec", "env", "TZ")] == Location("m.yaml", 11, 9)
    keys = doc.key_locations
    assert keys[("spec",)] == Location("m.yaml", 5, 1)
    assert keys[("spec", "ports", 1, "hostPort")] == Location("m.yaml", 9, 30)
    assert keys[("spec", "env", "TZ")] == Location("m.yaml", 11, 5)


def test_locate_falls_back_to_the_nearest_ancestor():
    (doc,), _ = load_text("""
        spec:
          env:
            TZ: UTC
    """)
    assert doc.locate(("spec", "env", "TZ")) == Location("m.yaml", 3, 9)
    assert doc.locate(("spec", "env", "TZ"), key=True) == Location("m.yaml", 3, 5)
    assert doc.locate(("spec", "env", "MISSING")) == Location("m.yaml", 3, 5)  # the env mapping
    assert doc.locate(("spec", "ports", 3, "hostPort")) == Location("m.yaml", 2, 3)  # the spec mapping
    assert doc.locate(()) == Location("m.yaml", 1, 1)


def test_multi_document_file():
    documents, problems = load_text("""
        # leading comment
        apiVersion: botmaker/v1
        kind: Fleet
        ---
        apiVersion: botmaker/v1
        kind: Bot
        ---
        ---
        - a list
        ...
    """)
    assert problems == []
    assert [d.index for d in documents] == [0, 1, 2, 3]
    assert [d.data for d in documents] == [
        {"apiVersion": "botmaker/v1", "kind": "Fleet"},
        {"apiVersion": "botmaker/v1", "kind": "Bot"},
        None,  # an empty document: validation says so, with its location
        ["a list"],
    ]
    assert documents[1].locate(("kind",)) == Location("m.yaml", 6, 7)
    assert documents[3].locate(()) == Location("m.yaml", 9, 1)


def test_documents_before_a_syntax_error_are_kept():
    documents, problems = load_text("""
        kind: Fleet
        ---
        kind: [Bot
    """)
    assert [d.data for d in documents] == [{"kind": "Fleet"}]
    assert problems == [
        "m.yaml:4:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 3)"
    ]


@pytest.mark.skipif(manifest._Loader is not yaml.CSafeLoader, reason="messages are libyaml's")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [1, 2\nb: 3\n", "m.yaml:2:2: YAML syntax error: did not find expected ',' or ']' "
                              "(while parsing a flow sequence at line 1)"),
        ("a: b: c\n", "m.yaml:1:5: YAML syntax error: mapping values are not allowed in this context"),
        ("a: 'unterminated\n", "m.yaml:2:1: YAML syntax error: found unexpected end of stream "
                                "(while scanning a quoted scalar at line 1)"),
        ("a:\n\tb: 1\n", "m.yaml:2:1: YAML syntax error: found character that cannot start any token "
                         "(while scanning for the next token)"),
        ("a: *nowhere\n", "m.yaml:1:4: YAML syntax error: found undefined alias"),
    ],
)
def test_syntax_errors_are_located(text, expected):
    assert load_bytes(text.encode(), "m.yaml") == ([], [manifest.Problem("m.yaml", *_parse(expected))])


def _parse(formatted: str) -> tuple[int, int, str, str]:
    _, line, column, message = formatted.split(":", 3)
    return int(line), int(column), "", message.strip()


def test_scalars_are_json_types_and_keys_are_strings():
    (doc,), problems = load_text("""
        int: 18789
        float: 0.5
        true: true
        bool: False
        null: ~
        empty:
        on: off
        yes: no
        1: one
        date: 2026-02-26
        text: "18789"
        octal: 0o17
        tagged: !custom value
    """)
    assert problems == []
    assert doc.data == {
        "int": 18789,
        "float": 0.5,
        "true": True,
        "bool": False,
        "null": None,
        "empty": None,
        "on": "off",  # YAML 1.1's yes/no/on/off stay text (`restart: no` is a policy)
        "yes": "no",
        "1": "one",
        "date": "2026-02-26",  # timestamps stay text
        "text": "18789",
        "octal": 15,  # YAML 1.2 core: 0o17 is octal (issue 24; YAML 1.1 left it text)
        "tagged": "value",
    }


def test_utf8_bom_is_ignored():
    (doc,), problems = load_bytes("\ufeffkind: Bot\n".encode(), "m.yaml")
    assert problems == [] and doc.data == {"kind": "Bot"}


# --- refused input ---------------------------------------------------------------------------------

def test_duplicate_keys_name_both_lines():
    documents, problems = load_text("""
        apiVersion: botmaker/v1
        kind: Bot
        metadata:
          name: a
        spec:
          image: one:1
          state: running
          image: two:2
        ---
        kind: Fleet
    """)
    assert problems == ["m.yaml:8:3: duplicate key 'image' (first defined at line 6)"]
    assert [d.data for d in documents] == [{"kind": "Fleet"}]  # the other document is still loaded
    assert documents[0].index == 1


def test_duplicate_keys_in_a_flow_mapping():
    _, problems = load_text("ports: [{hostPort: 1, hostPort: 2}]\n")
    assert problems == ["m.yaml:1:23: duplicate key 'hostPort' (first defined at line 1)"]


def test_merge_keys_and_complex_keys_are_refused():
    _, problems = load_text("""
        base: &base {a: 1}
        spec:
          <<: *base
    """)
    assert problems == ["m.yaml:3:3: YAML merge keys (<<) are not supported; write the fields out"]
    _, problems = load_text("? [a, b]\n: c\n")
    assert problems == ["m.yaml:1:3: mapping keys must be plain scalars"]


def _alias_bomb(levels: int, width: int) -> bytes:
    lines = ["a: &a [" + ", ".join(['"lol"'] * width) + "]"]
    names = [chr(ord("a") + i) for i in range(levels)]
    for prev, name in zip(names, names[1:]):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * width) + "]")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(("levels", "width", "line"), [(9, 9, 6), (10, 10, 6)])
def test_alias_bomb_is_refused(levels, width, line):
    # The classic "billion laughs": width**levels strings from a few hundred bytes.
    documents, problems = load_bytes(_alias_bomb(levels, width), "bomb.yaml")
    assert documents == []
    assert [p.format() for p in problems] == [
        f"bomb.yaml:{line}:4: document expands to more than {manifest.MAX_NODES_PER_FILE} nodes (YAML alias bomb?)"
    ]


def test_aliases_within_the_limit_are_expanded():
    (doc,), problems = load_text("""
        a: &a [1, 2]
        b: [*a, *a]
    """)
    assert problems == []
    assert doc.data == {"a": [1, 2], "b": [[1, 2], [1, 2]]}
    assert doc.locations[("b", 1, 0)] == Location("m.yaml", 1, 8)  # aliased content points at the anchor


def test_node_budget_is_per_file_not_per_document(monkeypatch):
    monkeypatch.setattr(manifest, "MAX_NODES_PER_FILE", 10)
    text = "a: [1, 2, 3]\n---\nb: [1, 2, 3]\n---\nc: [1, 2, 3]\n"  # 5 nodes each
    documents, problems = load_bytes(text.encode(), "m.yaml")
    assert [d.data for d in documents] == [{"a": [1, 2, 3]}, {"b": [1, 2, 3]}]
    assert [p.format() for p in problems] == [
        "m.yaml:5:4: document expands to more than 10 nodes (YAML alias bomb?)"
    ]


def test_recursive_alias_is_refused():
    _, problems = load_text("a: &a [*a]\n")
    assert problems == [f"m.yaml:1:4: document is nested too deeply (limit {manifest.MAX_DEPTH} levels)"]


@pytest.mark.parametrize("depth", [100, 10_000, 200_000])
def test_deep_nesting_is_one_error(depth):
    # libyaml's composer recurses in C: without the pre-scan, 50,000 levels crash the interpreter
    documents, problems = load_bytes(b"[" * depth + b"]" * depth, "deep.yaml")
    assert documents == []
    assert [p.format() for p in problems] == [
        f"deep.yaml:1:{manifest.MAX_DEPTH + 2}: document is nested too deeply (limit {manifest.MAX_DEPTH} levels)"
    ]


def test_aliases_that_nest_too_deeply_are_refused():
    # each half is within the limit as written; expanding *a inside b goes past it
    text = "a: &a " + "[" * 40 + "1" + "]" * 40 + "\nb: " + "[" * 40 + "*a" + "]" * 40 + "\n"
    documents, problems = load_bytes(text.encode(), "m.yaml")
    assert documents == []
    assert [p.format() for p in problems] == [
        f"m.yaml:1:31: document is nested too deeply (limit {manifest.MAX_DEPTH} levels)"
    ]


def test_deep_block_nesting_is_one_error():
    text = "".join("  " * i + f"k{i}:\n" for i in range(1000)) + "  " * 1000 + "leaf\n"
    documents, problems = load_bytes(text.encode(), "deep.yaml")
    assert documents == []
    assert [p.format() for p in problems] == [
        f"deep.yaml:{manifest.MAX_DEPTH + 2}:{2 * manifest.MAX_DEPTH + 3}: document is nested too deeply "
        f"(limit {manifest.MAX_DEPTH} levels)"
    ]


def test_nesting_up_to_the_limit_is_fine():
    depth = manifest.MAX_DEPTH
    (doc,), problems = load_bytes(b"[" * depth + b"1" + b"]" * depth, "m.yaml")
    assert problems == []
    value = doc.data
    for _ in range(depth):
        (value,) = value
    assert value == 1


def test_non_utf8_bytes():
    documents, problems = load_bytes(b"kind: Bot\nmetadata:\n  name: caf\xe9\n", "latin1.yaml")
    assert documents == []
    assert [p.format() for p in problems] == ["latin1.yaml:3:12: file is not valid UTF-8 text"]


@pytest.mark.parametrize("raw", [b"kind: Bot\x00\n", b"\x7fELF\x02\x01\x01\x00\x00\x00", bytes(range(256))])
def test_nul_bytes_mean_binary(raw):
    documents, problems = load_bytes(raw, "binary.yaml")
    assert documents == []
    assert [p.format() for p in problems] == ["binary.yaml: binary file (contains NUL bytes), not YAML"]


@pytest.mark.parametrize("raw", [b"", b"\n\n", b"   \t\n", "\ufeff".encode()])
def test_empty_file(raw):
    assert [p.format() for p in load_bytes(raw, "empty.yaml")[1]] == ["empty.yaml: file is empty"]


def test_file_with_only_comments():
    documents, problems = load_text("""
        # apiVersion: botmaker/v1
        # kind: Bot
    """)
    assert documents == []
    assert problems == ["m.yaml: file contains no YAML documents"]


def test_too_big_file(tmp_path, monkeypatch):
    monkeypatch.setattr(manifest, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.yaml"
    path.write_text("# padding\n" * 11)
    assert [p.format() for p in load_file(path)[1]] == [f"{path}: file is 110 bytes; manifests are limited to 100 bytes"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.yaml"
    path.write_text("kind: Bot\n")
    path.chmod(0)
    assert [p.format() for p in load_file(path)[1]] == [f"{path}: cannot read file: Permission denied"]


# --- discovery ------------------------------------------------------------------------------------

def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("kind: Bot\n")


def test_recursive_sorted_discovery_of_yaml_and_yml(tmp_path):
    _touch(tmp_path, "b.yaml", "a.yml", "bots/z.yaml", "bots/a/deep.yml", "bots/m.yaml",
           "README.md", "bots/notes.txt", "x.json", "bots/backup.yaml.bak", "c.YAML")
    (tmp_path / "dir.yaml").mkdir()  # a directory named like a manifest is not a file
    files, problems = find_manifest_files([str(tmp_path)])
    assert problems == []
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "a.yml", "b.yaml", "bots/a/deep.yml", "bots/m.yaml", "bots/z.yaml",
    ]


def test_files_and_directories_in_argument_order_each_file_once(tmp_path):
    _touch(tmp_path, "fleet.yaml", "bots/a.yaml", "bots/b.yaml")
    files, problems = find_manifest_files(
        [str(tmp_path / "fleet.yaml"), str(tmp_path / "bots"), str(tmp_path / "bots" / "a.yaml"), str(tmp_path)]
    )
    assert problems == []
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["fleet.yaml", "bots/a.yaml", "bots/b.yaml"]


def test_a_file_named_explicitly_need_not_end_in_yaml(tmp_path):
    path = tmp_path / "bot.manifest"
    path.write_text("kind: Bot\n")
    assert find_manifest_files([str(path)]) == ([path], [])


def test_directory_with_no_manifests(tmp_path):
    _touch(tmp_path, "README.md", "sub/config.json")
    files, problems = find_manifest_files([str(tmp_path)])
    assert files == []
    assert [p.format() for p in problems] == [f"{tmp_path}: directory contains no *.yaml or *.yml manifests"]


def test_nonexistent_path(tmp_path):
    missing = tmp_path / "nope.yaml"
    documents, problems = load_paths([str(missing), str(tmp_path / "nope-dir")])
    assert documents == []
    assert [p.format() for p in problems] == [
        f"{missing}: no such file or directory",
        f"{tmp_path / 'nope-dir'}: no such file or directory",
    ]


def test_path_with_nul_byte():
    assert [p.format() for p in find_manifest_files(["bad\0.yaml"])[1]] == ["bad\\0.yaml: path contains a NUL byte"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_file(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert [p.format() for p in find_manifest_files([str(fifo)])[1]] == [f"{fifo}: not a regular file or directory"]
    assert find_manifest_files([str(tmp_path)])[0] == []  # skipped, not opened, when found in a directory


def test_load_paths_collects_documents_and_problems_from_every_file(tmp_path):
    (tmp_path / "a.yaml").write_text("kind: Fleet\n---\nkind: Bot\n")
    (tmp_path / "b.yaml").write_text("kind: [\n")
    (tmp_path / "c.yml").write_bytes(b"\x00")
    (tmp_path / "d.yaml").write_text("kind: Bot\n")
    documents, problems = load_paths([str(tmp_path)])
    assert [(Path(d.file).name, d.index, d.data) for d in documents] == [
        ("a.yaml", 0, {"kind": "Fleet"}),
        ("a.yaml", 1, {"kind": "Bot"}),
        ("d.yaml", 0, {"kind": "Bot"}),
    ]
    assert [p.format() for p in problems] == [
        f"{tmp_path / 'b.yaml'}:2:1: YAML syntax error: did not find expected node content (while parsing a flow node)",
        f"{tmp_path / 'c.yml'}: binary file (contains NUL bytes), not YAML",
    ]


def test_directory_walk_skips_hidden_dirs_and_deployerignore(tmp_path):
    from deployer.manifests.load import find_manifest_files

    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    (tmp_path / "invalid").mkdir()
    (tmp_path / "invalid" / "bad.yaml").write_text("x: 1\n")
    (tmp_path / "bots").mkdir()
    (tmp_path / "bots" / "a.yaml").write_text("a: 1\n")
    (tmp_path / "scratch.yml").write_text("a: 1\n")
    (tmp_path / ".deployerignore").write_text("# comment\ninvalid/\nscratch.yml\n")
    files, problems = find_manifest_files([str(tmp_path)])
    assert problems == []
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["bots/a.yaml"]
    # naming the ignored directory reads it
    files, _ = find_manifest_files([str(tmp_path / "invalid")])
    assert [f.name for f in files] == ["bad.yaml"]


def test_scalars_follow_yaml_1_2_core_not_1_1():
    """Issue 24: 22:30 is text (1.1: sexagesimal 1350), 0123 is 123 (1.1: octal 83), and numbers
    that do not print as written are recorded with the text the file had."""
    (doc,), problems = load_text("""
        time: 22:30
        chat: 0123
        version: 1.10
        port: 8080
        hex: 0x1F
        quoted: "0123"
        stamp: 2026-12-03
        answer: yes
    """)
    assert problems == []
    assert doc.data == {"time": "22:30", "chat": 123, "version": 1.1, "port": 8080, "hex": 31,
                        "quoted": "0123", "stamp": "2026-12-03", "answer": "yes"}
    assert doc.reshaped == {("chat",): "0123", ("version",): "1.10", ("hex",): "0x1F"}


def test_hidden_files_in_a_directory_are_not_manifests(tmp_path):
    """Issue 24: .gitlab-ci.yml and .pre-commit-config.yaml sit beside manifests; hidden
    directories were skipped already, hidden files were read. Named on the command line, a
    hidden file is still read."""
    (tmp_path / "bot.yaml").write_text("a: 1\n")
    (tmp_path / ".gitlab-ci.yml").write_text("stages: [x\n")
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    files, problems = manifest.find_manifest_files([str(tmp_path)])
    assert [f.name for f in files] == ["bot.yaml"] and problems == []
    files, _ = manifest.find_manifest_files([str(tmp_path / ".gitlab-ci.yml")])
    assert [f.name for f in files] == [".gitlab-ci.yml"]
