"""Problems located at YAML nodes: the reporter every check writes to, where a path of a bot's
merged spec is written (the bot's own document, or the Fleet defaults it came from), and reading
a path of a document's data."""

from __future__ import annotations

from typing import Any

from deployer.core.problems import ERROR, Problem, json_path
from deployer.manifests.load import Document, JsonPath

# every character str.splitlines() breaks on -> its escape sequence (backslash n, x85, u2028, ...)
_ESCAPE_LINE_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})
MAX_MESSAGE_CHARS = 2000


class Reporter:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, doc: Document, path: JsonPath, message: str, *, severity: str = ERROR, key: bool = False) -> None:
        loc = doc.locate(path, key=key)
        # messages quote keys and values of the manifest: a line break in one must not start a
        # forged `FILE:LINE:COL: ...` line in the text output, so it is escaped; and a huge value
        # (or one expanded from aliases) must not turn a small file into megabytes of output
        message = message.translate(_ESCAPE_LINE_BREAKS)
        if len(message) > MAX_MESSAGE_CHARS:
            cut = len(message) - MAX_MESSAGE_CHARS
            message = f"{message[:MAX_MESSAGE_CHARS - 300]} [...{cut} characters cut...] {message[-300:]}"
        self.problems.append(Problem(loc.file, loc.line, loc.column, json_path(path), message, severity))


class Where:
    """Locates a path of a merged spec: in the bot's document if it sets it, else the fleet defaults."""

    def __init__(self, doc: Document, fleet_doc: Document | None):
        self.doc, self.fleet_doc = doc, fleet_doc

    def report(self, report: Reporter, path: JsonPath, message: str, *, severity: str = ERROR) -> None:
        if has_in(self.doc.data, ("spec",) + path) or self.fleet_doc is None or not has_in(
            self.fleet_doc.data, ("spec", "defaults") + path
        ):
            report.add(self.doc, ("spec",) + path, message, severity=severity)
        else:
            name = get_in(self.doc.data, ("metadata", "name"))
            report.add(self.fleet_doc, ("spec", "defaults") + path, f"bot {name}: {message}", severity=severity)


_MISSING = object()


def _lookup(data: Any, path: JsonPath) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return _MISSING
    return data


def get_in(data: Any, path: JsonPath) -> Any:
    """The value at `path` (map keys and list indices), None where there is none."""
    value = _lookup(data, path)
    return None if value is _MISSING else value


def has_in(data: Any, path: JsonPath) -> bool:
    return _lookup(data, path) is not _MISSING
