"""Find manifest files and parse them into plain data that remembers where every node came from.

YAML is composed into nodes (C parser when available) and converted here, not by PyYAML's
constructor, so that every mapping key and value keeps its line and column, duplicate keys are
reported instead of silently overwritten, and hostile input (alias bombs, deep nesting, huge
files, binary data) is refused with a located error instead of eating memory.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deployer.core.encodings import scalar_text
from deployer.core.problems import Problem

try:  # the C parser is several times faster; fall back to pure Python where it is missing
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES_PER_FILE = 200_000  # after aliases expand; ~60 MB to convert at most
# nodes (and documents) as written, before any alias expands: composing costs some 300 bytes
# per node, and 8 MB of `[0,0,0,...]` holds 4 million of them
MAX_PARSED_NODES_PER_FILE = 200_000

JsonPath = tuple[str | int, ...]

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"

# YAML 1.2's core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), not PyYAML's 1.1
# rules: `22:30` stays text (1.1: the sexagesimal 1350), `0123` is 123 (1.1: the octal 83), octal
# is written 0o17, `yes`/`on`/`no` are text, and there are no implicit timestamps. An unquoted
# number that does not print back as written (`0123`, `1.10`) is recorded on the document
# (Document.reshaped) so validation can warn where the value becomes text.
_CORE_RULES: list[tuple[str, re.Pattern[str], str]] = [
    (_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), "~nN"),
    (_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), "tTfF"),
    (_INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), "-+0123456789"),
    (_FLOAT, re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), "-+.0123456789"),
]


class _Loader(_BaseLoader):
    """The composer with YAML 1.2 core-schema tag resolution for plain scalars."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}


for _tag, _regexp, _first in _CORE_RULES:
    _Loader.add_implicit_resolver(_tag, _regexp, list(_first) + ([""] if _tag == _NULL else []))
_Loader.add_implicit_resolver(_MERGE, re.compile(r"^<<$"), ["<"])  # refused with its own message


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class Document:
    """One YAML document: its data, and the source location of every path in it."""

    file: str
    index: int  # 0-based position of the document in its file
    data: Any
    locations: dict[JsonPath, Location] = field(default_factory=dict)
    key_locations: dict[JsonPath, Location] = field(default_factory=dict)
    # plain (unquoted) numbers that do not print as written: path -> the text in the file (the
    # plain loader tracks no paths and records them under ())
    reshaped: dict[JsonPath, str] = field(default_factory=dict)

    def locate(self, path: JsonPath, *, key: bool = False) -> Location:
        """Best location for a path: the node itself, else its nearest located ancestor."""
        table = self.key_locations if key else self.locations
        probe = tuple(path)
        if key and probe in table:
            return table[probe]
        while probe not in self.locations and probe:
            probe = probe[:-1]
        return self.locations.get(probe, Location(self.file, 1, 1))


class _Refused(Exception):
    def __init__(self, message: str, mark: yaml.Mark | None):
        super().__init__(message)
        self.message = message
        self.mark = mark


def find_manifest_files(paths: list[str]) -> tuple[list[Path], list[Problem]]:
    """Expand files and directories (recursively, sorted) into manifest files."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        p = Path(raw)
        if "\0" in raw:
            problems.append(Problem(raw.replace("\0", "\\0"), 0, 0, "", "path contains a NUL byte"))
        elif p.is_dir():
            found = _walk(p)
            if not found:
                problems.append(Problem(str(p), 0, 0, "", "directory contains no *.yaml or *.yml manifests"))
            files.extend(found)
        elif p.is_file():
            files.append(p)
        elif p.exists():
            problems.append(Problem(str(p), 0, 0, "", "not a regular file or directory"))
        else:
            problems.append(Problem(str(p), 0, 0, "", "no such file or directory"))
    # the same file named twice (a dir and a file in it) is read once
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, problems


IGNORE_FILE = ".deployerignore"


def _walk(root: Path) -> list[Path]:
    """*.yaml / *.yml below root, sorted. Hidden directories (.git, .github) and hidden files
    (.gitlab-ci.yml, .pre-commit-config.yaml) are skipped, and so
    is whatever a .deployerignore file lists (one glob per line, relative to its directory, a
    trailing / for directories); a path named on the command line is always read."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        ignored = _ignore_patterns(here / IGNORE_FILE)
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(".") and not any(fnmatch.fnmatch(d + "/", pat) for pat in ignored)
        )
        for name in filenames:
            if (name.endswith((".yaml", ".yml")) and not name.startswith(".")
                    and not any(fnmatch.fnmatch(name, pat) for pat in ignored)):
                path = here / name
                if path.is_file():
                    found.append(path)
    return sorted(found)


def _ignore_patterns(path: Path) -> list[str]:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def load_file(path: Path) -> tuple[list[Document], list[Problem]]:
    """Parse every document of one file; problems are located, never raised."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return [], [Problem(name, 0, 0, "", f"file is {size} bytes; manifests are limited to {MAX_FILE_BYTES} bytes")]
        raw = path.read_bytes()
    except OSError as exc:
        return [], [Problem(name, 0, 0, "", f"cannot read file: {exc.strerror or exc}")]
    return load_bytes(raw, name)


def load_bytes(raw: bytes, name: str) -> tuple[list[Document], list[Problem]]:
    if b"\0" in raw:
        return [], [Problem(name, 0, 0, "", "binary file (contains NUL bytes), not YAML")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return [], [Problem(name, line, col, "", "file is not valid UTF-8 text")]
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        return [], [Problem(name, 0, 0, "", "file is empty")]

    refused = _prescan(text)
    if refused is not None:
        return [], [_problem_at(name, *refused)]

    documents: list[Document] = []
    problems: list[Problem] = []
    budget = [0]  # nodes converted so far in this file, aliases expanded
    loader = _Loader(text)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there was one
                break
            doc = Document(name, index, None)
            try:
                _expanded_size(node, {}, MAX_NODES_PER_FILE - budget[0])
                doc.data = _convert(node, (), doc, 0, budget)
            except _Refused as exc:
                problems.append(_problem_at(name, exc.mark, exc.message))
                index += 1
                continue
            documents.append(doc)
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context:  # e.g. "did not find expected ',' or ']' (while parsing a flow sequence at line 7)"
            start = exc.context_mark
            at = f" at line {start.line + 1}" if start is not None and mark is not None and start.line != mark.line else ""
            message = f"{exc.problem} ({exc.context}{at})"
        problems.append(_problem_at(name, mark, f"YAML syntax error: {message}"))
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (control characters, ...)
        problems.append(_reader_problem(name, text, exc))
    except yaml.YAMLError as exc:
        problems.append(Problem(name, 0, 0, "", "YAML error: " + " ".join(str(exc).split())))  # one line
    except RecursionError:
        problems.append(Problem(name, 0, 0, "", f"document is nested too deeply (limit {MAX_DEPTH} levels)"))
    finally:
        loader.dispose()
    if not documents and not problems:
        problems.append(Problem(name, 0, 0, "", "file contains no YAML documents"))
    return documents, problems


def _prescan(text: str) -> tuple[Any, str] | None:  # Any: the C parser's marks are yaml._yaml.Mark
    """Where (and why) the text is refused before composing, from the parser's events: the first
    collection nested deeper than _convert allows, or the first node over MAX_PARSED_NODES_PER_FILE.

    Runs before composing because libyaml's composer recurses in C (deep nesting crashes the
    process) and its scanner slows down with the square of the depth, and because composing
    a file under the size limit can still take gigabytes (one node per two bytes); so this
    stops at the first event over a limit. Syntax errors are left to the composing pass."""
    loader = _Loader(text)
    depth = 0
    nodes = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.NodeEvent, yaml.DocumentStartEvent)):
                nodes += 1
                if nodes > MAX_PARSED_NODES_PER_FILE:
                    return event.start_mark, (f"file holds more than {MAX_PARSED_NODES_PER_FILE} YAML nodes; "
                                              "split it into several manifest files")
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH + 1:  # the root collection is depth 0 for _convert
                    return event.start_mark, f"document is nested too deeply (limit {MAX_DEPTH} levels)"
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    return None


def _expanded_size(node: yaml.Node, sizes: dict[int, int], limit: int, depth: int = 0) -> int:
    """How many nodes _convert will visit (aliases expanded; mapping keys not counted), computed
    once per distinct node, so an alias bomb is refused at once instead of after converting
    `limit` nodes. Refuses at the smallest subtree that goes over `limit`."""
    if id(node) in sizes:
        return sizes[id(node)]
    if depth > MAX_DEPTH:  # aliases can nest deeper than the text does
        raise _Refused(f"document is nested too deeply (limit {MAX_DEPTH} levels)", node.start_mark)
    sizes[id(node)] = 0  # a recursive alias; _convert refuses it by depth
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [value for _, value in node.value]
    else:
        children = []
    total = 1
    for child in children:
        total += _expanded_size(child, sizes, limit, depth + 1)
        if total > limit:
            raise _Refused(
                f"document expands to more than {MAX_NODES_PER_FILE} nodes (YAML alias bomb?)", node.start_mark
            )
    sizes[id(node)] = total
    return total


def _reader_problem(name: str, text: str, exc: yaml.reader.ReaderError) -> Problem:
    """One located line for a character YAML refuses (PyYAML's own message spans two lines)."""
    data: str | bytes = text if _Loader is yaml.SafeLoader else text.encode("utf-8")  # libyaml counts bytes
    pos = max(0, min(int(exc.position), len(data)))
    newline = "\n" if isinstance(data, str) else b"\n"
    line = data.count(newline, 0, pos) + 1  # type: ignore[arg-type]
    head = data[data.rfind(newline, 0, pos) + 1:pos]  # type: ignore[arg-type]
    column = len(head.decode("utf-8", "replace") if isinstance(head, bytes) else head) + 1
    char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
    return Problem(name, line, column, "", f"YAML error: unacceptable character {char}: {exc.reason}")


def _problem_at(name: str, mark: yaml.Mark | None, message: str) -> Problem:
    if mark is None:
        return Problem(name, 0, 0, "", message)
    return Problem(name, mark.line + 1, mark.column + 1, "", message)


def _loc(doc: Document, node: yaml.Node) -> Location:
    return Location(doc.file, node.start_mark.line + 1, node.start_mark.column + 1)


def _convert(node: yaml.Node, path: JsonPath, doc: Document, depth: int, budget: list[int]) -> Any:
    """Node tree → plain data. Aliased nodes are converted again each time they are used, so
    a count of converted nodes bounds alias bombs; positions of aliased content point at the
    anchor's definition."""
    if depth > MAX_DEPTH:
        raise _Refused(f"document is nested too deeply (limit {MAX_DEPTH} levels)", node.start_mark)
    budget[0] += 1
    if budget[0] > MAX_NODES_PER_FILE:
        raise _Refused(
            f"document expands to more than {MAX_NODES_PER_FILE} nodes (YAML alias bomb?)", node.start_mark
        )
    doc.locations.setdefault(path, _loc(doc, node))
    if isinstance(node, yaml.ScalarNode):
        value = _scalar(node)
        if not node.style and reshaped(value, node.value):
            doc.reshaped[path] = node.value
        return value
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path + (i,), doc, depth + 1, budget) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                raise _Refused("YAML merge keys (<<) are not supported; write the fields out", key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused("mapping keys must be plain scalars", key_node.start_mark)
            key = _scalar(key_node)
            if not isinstance(key, str):
                key = key_node.value  # YAML 1.1 would make `on`/`yes`/`1` non-strings; keys are names
            if key in result:
                first = doc.key_locations.get(path + (key,))
                where = f" (first defined at line {first.line})" if first else ""
                raise _Refused(f"duplicate key {key!r}{where}", key_node.start_mark)
            doc.key_locations[path + (key,)] = _loc(doc, key_node)
            result[key] = _convert(value_node, path + (key,), doc, depth + 1, budget)
        return result
    raise _Refused("unsupported YAML node", node.start_mark)  # pragma: no cover


def _scalar(node: yaml.ScalarNode) -> Any:
    """A scalar by YAML 1.2's core schema; only JSON-compatible types (explicit tags such as
    !!timestamp or !!binary stay text)."""
    tag, text = node.tag, node.value
    if tag == _STR or tag not in (_INT, _FLOAT, _BOOL, _NULL):
        return text
    if tag == _NULL:
        return None if _CORE_RULES[0][1].match(text) else text
    if tag == _BOOL:
        lowered = text.lower()
        return lowered == "true" if lowered in ("true", "false") else text
    try:
        if tag == _INT:
            if text.startswith(("0o", "0x")):
                return int(text[2:], 8 if text[1] == "o" else 16)
            return int(text)
        value = float(text.replace(".inf", "inf").replace(".Inf", "inf").replace(".INF", "inf")
                      .replace(".nan", "nan").replace(".NaN", "nan").replace(".NAN", "nan"))
    except ValueError:  # an explicit !!int/!!float tag on text that is not one
        return text
    return value


def reshaped(value: Any, text: str) -> bool:
    """Whether a plain scalar's value prints differently from how it was written (`0123` -> 123,
    `1.10` -> 1.1, `1e3` -> 1000.0): where such a value becomes text, the text is not the file's."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return scalar_text(value) != text


def load_paths(paths: list[str]) -> tuple[list[Document], list[Problem]]:
    """Load every manifest below the given paths; all problems in one list."""
    files, problems = find_manifest_files(paths)
    return load_files(files, problems)


def load_files(files: list[Path], problems: list[Problem] | None = None) -> tuple[list[Document], list[Problem]]:
    """Load the given manifest files (from find_manifest_files), after its problems."""
    problems = list(problems or [])
    documents: list[Document] = []
    for f in files:
        docs, probs = load_file(f)
        documents.extend(docs)
        problems.extend(probs)
    return documents, problems


# --- the fast path: plain data, no locations -------------------------------------------------
# Most manifest sets are valid, and for them the located conversion above is wasted work. These
# functions return the very data load_bytes would, without locations, or None whenever
# load_bytes would report a problem; the caller then runs load_bytes for the located messages.

# Composing this deep is cheap (libyaml's scanner is quadratic in the flow depth: 2,000 levels
# take 30 ms, 10,000 take 0.5 s, and near 50,000 its composer overflows the C stack).
SAFE_COMPOSE_DEPTH = 1000


class _NotPlain(Exception):
    """load_bytes would refuse this (the reason is its to tell)."""


class _PlainLoader(_Loader):
    """The same loader, remembering each implicit scalar's tag: the resolver (pure Python, a
    regex per scalar) is a quarter of the composing time, and keys and common values repeat in
    every document. Exact: without path resolvers a scalar's tag depends only on its text and
    its implicit flags."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._tags: dict[tuple[str, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)
        return tag


def load_file_plain(path: Path) -> list[Document] | None:
    """load_file's documents without locations, or None if load_file would report a problem."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        raw = path.read_bytes()
    except OSError:
        return None
    return load_bytes_plain(raw, str(path))


def load_bytes_plain(raw: bytes, name: str) -> list[Document] | None:
    """load_bytes's documents without locations, or None if load_bytes would report a problem.

    The same refusals in the same order, the same composer and the same scalar rules
    (`_scalar`); what is skipped is only what cannot matter for this input: the pre-composing
    scan when the text is provably too small and too shallow to hit its limits
    (`_cheap_to_compose`), and the alias sizing when there is no anchor (no '&' anywhere).
    """
    if b"\0" in raw:
        return None
    if b"&" in raw:  # maybe anchors, so maybe aliases: size their expansion exactly as load_bytes does
        loaded, problems = load_bytes(raw, name)
        return None if problems else loaded
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        return None
    if not _cheap_to_compose(raw) and _prescan(text) is not None:
        return None
    documents: list[Document] = []
    loader = _PlainLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            texts: list[str] = []
            doc = Document(name, len(documents), _plain(node, 0, texts))
            if texts:
                doc.reshaped[()] = texts[0]
            documents.append(doc)
    except (yaml.YAMLError, RecursionError, _NotPlain):
        return None
    finally:
        loader.dispose()
    return documents or None


def _cheap_to_compose(raw: bytes) -> bool:
    """True when the text cannot hold more than MAX_PARSED_NODES_PER_FILE nodes nor nest deeper
    than SAFE_COMPOSE_DEPTH, so _prescan could not refuse it and composing it is cheap.

    Nodes: each takes at least one byte of text except an empty value after a key, which
    comes with its key (so at most about one node per byte; half the limit leaves a margin).
    Depth: a flow level needs a bracket; a block collection starts at least one column right
    of its grandparent (a block sequence may share its parent mapping's column, its entries
    cannot), so block depth is at most twice the longest line plus two.
    """
    if len(raw) > MAX_PARSED_NODES_PER_FILE // 2:
        return False
    width = max(map(len, raw.splitlines()), default=0)
    return 2 * width + 2 + raw.count(b"[") + raw.count(b"{") <= SAFE_COMPOSE_DEPTH


def _plain(node: yaml.Node, depth: int, reshaped_texts: list[str]) -> Any:
    """_convert without locations: raises _NotPlain exactly where _convert refuses (no aliases here,
    and no more nodes than the budget, see _cheap_to_compose and _prescan). Unquoted numbers that
    do not print as written are collected in reshaped_texts (no paths here: the fast path then
    takes the located one, which knows where they are)."""
    if depth > MAX_DEPTH:
        raise _NotPlain
    kind = node.__class__
    if kind is yaml.ScalarNode:
        if node.tag == _STR:
            return node.value
        value = _scalar(node)  # type: ignore[arg-type]  # kind is ScalarNode
        if not node.style and reshaped(value, node.value):  # type: ignore[attr-defined]
            reshaped_texts.append(node.value)
        return value
    if kind is yaml.SequenceNode:
        return [_plain(item, depth + 1, reshaped_texts) for item in node.value]
    if kind is yaml.MappingNode:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not yaml.ScalarNode or key_node.tag == _MERGE:
                raise _NotPlain
            key = key_node.value if key_node.tag == _STR else _scalar(key_node)
            if not isinstance(key, str):
                key = key_node.value
            if key in result:
                raise _NotPlain
            result[key] = _plain(value_node, depth + 1, reshaped_texts)
        return result
    raise _NotPlain
