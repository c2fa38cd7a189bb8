"""The shape of each document: its header (apiVersion, kind), then the JSON Schema of its kind,
every error located at its YAML node. The JSON Schemas in schemas/ are the single source of truth
for shape; the fast path (fastpath.py) asks a compiled validator of the same files first."""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from deployer.manifests.load import Document, JsonPath
from deployer.manifests.report import Reporter, get_in

API_VERSION = "botmaker/v1"
SCHEMA_DIR = Path(__file__).parents[1] / "schemas"  # deployer/schemas: a link to the repository's schemas/, copied when installed
SCHEMA_FILES = {"Bot": "bot.schema.json", "Fleet": "fleet.schema.json"}

# (document, kind, report, fleet defaults) -> None: reports the document's schema errors
SchemaCheck = Callable[[Document, str, Reporter, "dict[str, Any] | None"], None]


@functools.cache
def validators() -> dict[str, Any]:
    """kind -> jsonschema validator of schemas/<kind>.schema.json, $refs resolved among the files."""
    # jsonschema is imported here so that `deployer --help` stays fast.
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    registry = Registry().with_resources(resources)
    out = {}
    for kind, filename in SCHEMA_FILES.items():
        schema = json.loads((SCHEMA_DIR / filename).read_text())
        out[kind] = Draft202012Validator(
            schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
    return out


def check_header(doc: Document, report: Reporter) -> str | None:
    """The document's kind when its apiVersion and kind are ours, else None (and why, reported)."""
    data = doc.data
    if not isinstance(data, dict):
        what = "empty" if data is None else type(data).__name__.replace("str", "a string").replace("list", "a list")
        report.add(doc, (), f"document is {what}, not a mapping with apiVersion, kind, metadata and spec")
        return None
    ok = True
    api = data.get("apiVersion")
    if api is None:
        report.add(doc, (), f"missing apiVersion (expected {API_VERSION})")
        ok = False
    elif api != API_VERSION:
        report.add(doc, ("apiVersion",), f"unknown apiVersion {api!r}; expected {API_VERSION}")
        ok = False
    kind = data.get("kind")
    if kind is None:
        report.add(doc, (), "missing kind (expected Bot or Fleet)")
        return None
    if not isinstance(kind, str) or kind not in SCHEMA_FILES:  # a list or map kind is unhashable
        report.add(doc, ("kind",), f"unknown kind {kind!r}; expected Bot or Fleet")
        return None
    return kind if ok else None


def schema_check(doc: Document, kind: str, report: Reporter, defaults: dict[str, Any] | None = None) -> None:
    """Every schema error of one document, located (jsonschema's iter_errors)."""
    validator = validators()[kind]
    for error in validator.iter_errors(doc.data):
        if defaults and _supplied_by_defaults(error, defaults):
            continue
        for path, message, at_key in _explain(error):
            report.add(doc, path, message, key=at_key)


def _supplied_by_defaults(error: Any, defaults: dict[str, Any]) -> bool:
    """A bot's map may set only some keys of a field the Fleet defaults complete (maps merge key
    by key): a `required` error inside spec is no error when the defaults have that key."""
    path = tuple(error.absolute_path)
    if error.validator != "required" or path[:1] != ("spec",) or any(isinstance(p, int) for p in path):
        return False
    base = get_in(defaults, path[1:])
    missing = [k for k in error.validator_value if isinstance(error.instance, dict) and k not in error.instance]
    return isinstance(base, dict) and bool(missing) and all(k in base for k in missing)


def _explain(error: Any) -> Iterator[tuple[JsonPath, str, bool]]:
    """One schema error → located messages, keeping list indices and the validator's meaning."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        for key in error.instance:
            if key not in known:
                hint = difflib.get_close_matches(str(key), known, n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(known)}"
                yield path + (key,), f"unknown field {key!r}{extra}", True
        return
    if error.validator in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match

        # The deepest error in a branch is the specific one ({policy: on-failure, maxRetries: -1}
        # -> maxRetries); when every branch fails at the value itself, the shallowest (the enum) reads best.
        best = best_match([error])
        if best is error:
            best = best_match(error.context)
        if best is not None and best is not error:
            yield from _explain(best)
            return
    if len(error.schema_path) >= 2 and error.schema_path[-2] == "propertyNames":
        # jsonschema reports a bad key as the key's own pattern/length error, located at the mapping
        yield path + (error.instance,), f"invalid key: {error.message}", True
        return
    if error.validator == "pattern" and path and path[-1] == "name":
        yield path, f"{error.instance!r} is not a valid name: use lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit", False
        return
    yield path, error.message, False
