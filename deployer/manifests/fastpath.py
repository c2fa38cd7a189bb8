"""The fast path for the common case, a valid manifest set: plain data and a compiled validator.

`load_and_validate(paths)` gives exactly what `validate_documents(*load_paths(paths))` gives.
It first parses every file into plain data (manifests.load.load_file_plain: the C composer, no
locations) and runs the whole of validate_documents on it with a schema check that asks a
compiled validator (jsonschema-rs, built from the same schemas/ files) first and jsonschema
only when that one says no. Only when anything at all turns up (a load problem, a schema or
semantic error, or a warning) is the set loaded again with locations and validated as before,
so every message, and its FILE:LINE:COL, is the located path's own.

Why this is the same answer:
- load_file_plain returns data equal to load_file's, or None wherever load_file would report
  a problem (tests/unit/test_fastpath.py checks both over examples/ and the hostile corpus);
- no check (schema.py, rules.py) decides on locations, they only place the message;
- a document the compiled validator accepts has no jsonschema error either: the compiled
  validator is at least as strict (its regexes anchor `$` at the very end where Python's also
  allow a final newline, its numbers refuse NaN; formats are left to it only when
  VETTED_FORMATS says so, others are asked of jsonschema's own checker). When it refuses, the
  original jsonschema check decides, Fleet-defaults allowance included.
- a result with no problem is the result: the FleetSpec is built from data equal to the
  located path's.
"""

from __future__ import annotations

import functools
import gc
import json
from typing import Any

from deployer.manifests.load import Document, find_manifest_files, load_file_plain, load_files
from deployer.manifests.schema import SCHEMA_DIR, SCHEMA_FILES, schema_check
from deployer.manifests.validation import ValidationResult, validate_documents

# Formats the compiled validator checks itself: compared with jsonschema's checker on ~900,000
# generated addresses (and in tests/unit/test_fastpath.py) it never accepts what jsonschema
# refuses. Any other format a schema uses is delegated to jsonschema's FORMAT_CHECKER.
VETTED_FORMATS = frozenset({"ipv4", "ipv6"})


def load_and_validate(paths: list[str]) -> ValidationResult:
    """validate_documents(*load_paths(paths)), fast when there is nothing to report."""
    files, problems = find_manifest_files(paths)
    if not problems:
        result = validate_plain(files)
        if result is not None:
            return result
    documents, load_problems = load_files(files, problems)
    return validate_documents(documents, load_problems)


def validate_plain(files: list[Any]) -> ValidationResult | None:
    """The validation result of these files when it has no problem at all, else None.

    The cyclic garbage collector is paused meanwhile: the data built here is acyclic and all of
    it is kept, so its collections would only walk it again and again (10-20% of the fast
    path's time, measured with bench/run.py's 1,000-bot set)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        documents: list[Document] = []
        for path in files:
            docs = load_file_plain(path)
            if docs is None or any(doc.reshaped for doc in docs):  # a number not as written: maybe a warning
                return None
            documents.extend(docs)
        if not documents:
            return None
        result = validate_documents(documents, schema_check=fast_schema_check)
        return result if not result.problems and result.fleet is not None else None
    finally:
        if paused:
            gc.enable()


def fast_schema_check(doc: Document, kind: str, report: Any, defaults: dict[str, Any] | None = None) -> None:
    """The compiled validator's yes is final; on its no, jsonschema reports (and decides)."""
    validator = compiled_validators().get(kind)
    if validator is None or not _compiled_says_valid(validator, doc.data):
        schema_check(doc, kind, report, defaults)


def _compiled_says_valid(validator: Any, data: Any) -> bool:
    try:
        return bool(validator.is_valid(data))
    except Exception:  # noqa: BLE001 - a value it cannot take (an int past 64 bits, ...): ask jsonschema
        return False


@functools.cache
def compiled_validators() -> dict[str, Any]:
    """kind -> compiled validator of schemas/<kind>.schema.json, $refs resolved among the files
    of schemas/; {} when jsonschema-rs is not installed (then jsonschema checks every document)."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - a declared dependency; the slow path still works
        return {}
    contents = [json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob("*.schema.json"))]
    registry = jsonschema_rs.Registry([(c["$id"], c) for c in contents])
    formats = {name: _python_format(name) for name in schema_formats(contents) - VETTED_FORMATS}
    out = {}
    for kind, filename in SCHEMA_FILES.items():
        schema = json.loads((SCHEMA_DIR / filename).read_text())
        out[kind] = jsonschema_rs.Draft202012Validator(
            schema, registry=registry, validate_formats=True, formats=formats or None,
        )
    return out


def schema_formats(schemas: list[Any]) -> set[str]:
    """Every value of a `format` keyword in the schemas."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("format"), str):
                found.add(node["format"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    for schema in schemas:
        walk(schema)
    return found


def _python_format(name: str) -> Any:
    def conforms(value: Any) -> bool:
        from jsonschema import Draft202012Validator

        return Draft202012Validator.FORMAT_CHECKER.conforms(value, name)
    return conforms
