"""The shape of each document: its header (apiVersion, kind), then the JSON Schema of its kind,
every error located at its YAML node. The JSON Schemas in schemas/ are the single source of truth
for shape; the fast path (fastpath.py) asks a compiled validator of the same files first.
Messages are in plain words, from one table per schema keyword (MESSAGES) and per pattern
(PATTERN_WORDS): what the field accepts, and what the manifest has instead."""

from __future__ import annotations

import difflib
import functools
import json
import re
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
        # another version of ours is no typo: say which one this deployer reads
        typo = not (isinstance(api, str) and re.fullmatch(r"botmaker/v[0-9]+", api))
        hint = _did_you_mean(api, [API_VERSION]) if typo else ""
        report.add(doc, ("apiVersion",), f"unknown apiVersion {show(api)}{hint or f'; expected {API_VERSION}'}")
        ok = False
    kind = data.get("kind")
    if kind is None:
        report.add(doc, (), "missing kind (expected Bot or Fleet)")
        return None
    if not isinstance(kind, str):  # a list or map kind
        report.add(doc, ("kind",), f"must be Bot or Fleet, not {show(kind)}")
        return None
    if kind not in SCHEMA_FILES:
        hint = _did_you_mean(kind, list(SCHEMA_FILES))
        report.add(doc, ("kind",), f"unknown kind {show(kind)}{hint or '; expected Bot or Fleet'}")
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
    """One schema error → located messages in plain words (see MESSAGES), keeping list indices."""
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
        fitting = _fitting_branch_errors(error)
        if fitting:  # the value has the kind of one form ({policy: x}): what is wrong inside it
            for inner in fitting:
                yield from _explain(inner)
        else:  # no form fits ('on-failure:3'): name them all
            yield path, _alternatives_message(error), False
        return
    if len(error.schema_path) >= 2 and error.schema_path[-2] == "propertyNames":
        # jsonschema reports a bad key as the key's own pattern/length error, located at the mapping
        message = _message(error)
        yield path + (error.instance,), message if error.validator == "pattern" else f"invalid key: {message}", True
        return
    yield path, _message(error), False


# --- messages ------------------------------------------------------------------------------------
# One table from schema keyword to message, so that no regex, Python repr or jsonschema wording
# reaches the operator. tests/unit/test_validation.py checks that every keyword and every pattern
# the schemas use has its entry here.

# pattern -> what a matching value is, in words ("'1gb' is not <words>")
SIZE_PATTERN = "^[0-9]{1,15}[bkmgBKMG]?$"
DNS_LABEL = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
PATTERN_WORDS = {
    DNS_LABEL: "a valid name: use lower-case letters, digits and '-', at most 63 characters, "
               "starting and ending with a letter or digit",
    SIZE_PATTERN: "a size such as 512m or 1g (bytes, or a number followed by b, k, m or g)",
    "^/": "an absolute path (one that starts with /)",
    "^([0-9]{1,6}(ms|s|m|h))+$": "a duration such as 500ms, 10s, 1m or 1h30m",
    "^[0-9]{1,10}(:[0-9]{1,10})?$": "a uid or uid:gid, such as 1000 or 1000:1000",
    "^[a-z0-9][a-z0-9._/:@-]*$": "an image reference in lower case, such as ghcr.io/openclaw/openclaw:2026.2.26",
    "^[a-z0-9][a-z0-9-]{0,62}$": "a provider name: lower-case letters, digits and '-', such as anthropic",
    "^[a-z][a-z0-9-]{0,62}$": "a channel type: lower-case letters, digits and '-', such as telegram",
    "^[A-Z][A-Z0-9_]{0,63}$": "a secret name: upper-case letters, digits and '_', starting with a letter, "
                              "such as OPENAI_API_KEY",
    "^[A-Za-z_][A-Za-z0-9_]{0,254}$": "a valid environment variable name: letters, digits and '_', "
                                      "not starting with a digit",
    "^[A-Za-z0-9][A-Za-z0-9._/-]*$": "a valid label key: letters, digits, '.', '_', '/' and '-', "
                                     "starting with a letter or digit",
    "^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$": "a network name: letters, digits, '_', '.' and '-', "
                                          "starting with a letter or digit",
    "^[A-Za-z0-9_.-]+ *(==|!=) *[^ ].{0,250}$": "a constraint <attribute>==<value> or <attribute>!=<value>, "
                                                "such as node.labels.region==eu",
    "^node\\.[A-Za-z0-9_.-]{1,250}$": "a node attribute such as node.labels.region",
}
FORMAT_WORDS = {"ipv4": "an IPv4 address such as 127.0.0.1", "ipv6": "an IPv6 address such as ::1"}
TYPE_WORDS = {"string": "text", "number": "a number", "integer": "a whole number", "boolean": "true or false",
              "object": "a mapping", "array": "a list", "null": "empty"}
YAML_1_1_BOOLEANS = {"yes", "no", "on", "off", "y", "n"}


def show(value: Any) -> str:
    """A manifest value in a message: text quoted (and cut when long), YAML spellings, no reprs."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:77] + "...")
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _flow(value: Any) -> str:
    """A value as YAML flow style: {policy: on-failure, maxRetries: 3}."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return show(value) if not isinstance(value, str) else value


def _either(words: list[str]) -> str:
    """a, b or c"""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _did_you_mean(value: Any, choices: list[Any]) -> str:
    """'; did you mean X?' for a near miss (case aside), else ''. A choice with more written after
    it ('on-failure:3', Docker's own syntax) is no typo of it: the message names the form instead."""
    if not isinstance(value, str):
        return ""
    lowered = {c.lower(): c for c in choices if isinstance(c, str)}
    hit = difflib.get_close_matches(value.lower(), list(lowered), n=1)
    if not hit or re.match(re.escape(hit[0]) + r"[^a-z0-9]", value.lower()):
        return ""
    return f"; did you mean {lowered[hit[0]]!r}?"


def _is_size(schema: dict[str, Any]) -> bool:
    return schema.get("pattern") == SIZE_PATTERN


def _bound(schema: dict[str, Any], number: Any) -> str:
    """A schema bound in the field's unit: 6291456 bytes (6m) for a size."""
    if _is_size(schema) and isinstance(number, int):
        for unit, factor in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
            if number % factor == 0:
                return f"{number} bytes ({number // factor}{unit})"
        return f"{number} bytes"
    return show(number)


def _form(schema: dict[str, Any]) -> str:
    """What a value of this (sub)schema is, in words."""
    if "enum" in schema:
        return _either([_flow(v) for v in schema["enum"]])
    if "const" in schema:
        return _flow(schema["const"])
    if schema.get("pattern") in PATTERN_WORDS:
        return PATTERN_WORDS[schema["pattern"]]
    if schema.get("format") in FORMAT_WORDS:
        return FORMAT_WORDS[schema["format"]]
    types = schema.get("type")
    if types == "object" and isinstance(schema.get("properties"), dict):
        examples = schema.get("examples")
        if examples:
            return f"a mapping such as {_flow(examples[0])}"
        return "a mapping {" + ", ".join(schema["properties"]) + "}"
    if types is not None:
        return _either([TYPE_WORDS.get(t, t) for t in ([types] if isinstance(types, str) else types)])
    return str(schema.get("description", "the form the schema describes")).rstrip(".")


def _type_message(error: Any) -> str:
    value, schema = error.instance, error.schema
    types = [error.validator_value] if isinstance(error.validator_value, str) else list(error.validator_value)
    words = _form(schema) if schema.get("pattern") in PATTERN_WORDS else _either([TYPE_WORDS[t] for t in types])
    message = f"must be {words}, not {'the text ' if isinstance(value, str) else ''}{show(value)}"
    if isinstance(value, str) and {"integer", "number"} & set(types):
        try:
            float(value)
        except ValueError:
            pass
        else:
            return message + " (write it without quotes)"
    if isinstance(value, str) and "boolean" in types and value.lower() in YAML_1_1_BOOLEANS:
        return message + " (yes, no, on and off are text in YAML 1.2)"
    if "string" in types and isinstance(value, bool):
        return message + f' (quote it for the text: "{show(value)}")'
    if "string" in types and value is None:
        return message + ' (write "" for empty text)'
    return message


def _enum_message(error: Any) -> str:
    choices = list(error.validator_value)
    return f"must be {_form(error.schema)}, not {show(error.instance)}{_did_you_mean(error.instance, choices)}"


def _alternatives_message(error: Any) -> str:
    """A value that fits none of a oneOf/anyOf's forms: each form, as the schema gives it."""
    forms = [_form(branch) for branch in error.validator_value]
    joined = ", or ".join(forms) if any(" or " in f or "," in f for f in forms) else _either(forms)
    choices = [c for branch in error.validator_value for c in branch.get("enum", [])]
    return f"must be {joined}, not {show(error.instance)}{_did_you_mean(error.instance, choices)}"


def _fitting_branch_errors(error: Any) -> list[Any]:
    """The errors of the one oneOf/anyOf branch whose kind the value has (it fails only inside,
    such as a bad maxRetries in the mapping form), else []."""
    path = tuple(error.absolute_path)
    branches: dict[Any, list[Any]] = {}
    for inner in error.context:
        branches.setdefault(inner.relative_schema_path[0], []).append(inner)
    kind_errors = ("type", "enum", "const", "format", "pattern")
    fitting = [errors for errors in branches.values()
               if not any(tuple(e.absolute_path) == path and e.validator in kind_errors for e in errors)]
    return fitting[0] if len(fitting) == 1 else []


def _unique_message(error: Any) -> str:
    seen: list[Any] = []
    for item in error.instance:
        if item in seen:
            return f"lists {show(item)} more than once"
        seen.append(item)
    return "lists an item more than once"


def _required_key(error: Any) -> str:
    """The one missing key of a `required` error (jsonschema makes one error per key, naming it
    only in its message: "'name' is a required property")."""
    match = re.fullmatch(r"('[^']*'|\"[^\"]*\") is a required property", error.message)
    return match.group(1) if match else _either([repr(k) for k in error.validator_value])


def _length(error: Any) -> int:
    return len(error.instance) if isinstance(error.instance, (str, list, dict)) else 0


MESSAGES: dict[str, Callable[[Any], str]] = {
    "type": _type_message,
    "enum": _enum_message,
    "const": lambda e: f"must be {_flow(e.validator_value)}, not {show(e.instance)}",
    "pattern": lambda e: f"{show(e.instance)} is not {_form(e.schema)}",
    "format": lambda e: f"must be {FORMAT_WORDS.get(e.validator_value, e.validator_value)}, not {show(e.instance)}",
    "required": lambda e: f"missing required field {_required_key(e)}",
    "minimum": lambda e: f"must be at least {_bound(e.schema, e.validator_value)}, not {show(e.instance)}",
    "maximum": lambda e: f"must be at most {_bound(e.schema, e.validator_value)}, not {show(e.instance)}",
    "exclusiveMinimum": lambda e: f"must be more than {show(e.validator_value)}, not {show(e.instance)}",
    "exclusiveMaximum": lambda e: f"must be less than {show(e.validator_value)}, not {show(e.instance)}",
    "minLength": lambda e: "must not be empty" if e.validator_value == 1
    else f"must be at least {e.validator_value} characters long, not {_length(e)}",
    "maxLength": lambda e: f"is {_length(e)} characters long; the limit is {e.validator_value}",
    "minItems": lambda e: "must list at least one item" if e.validator_value == 1
    else f"must list at least {e.validator_value} items, not {_length(e)}",
    "maxItems": lambda e: f"lists {_length(e)} items; the limit is {e.validator_value}",
    "uniqueItems": _unique_message,
}


def _message(error: Any) -> str:
    explain = MESSAGES.get(error.validator)
    return explain(error) if explain is not None else error.message
