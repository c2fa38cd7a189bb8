"""The hostile-input corpus: hypothesis strategies that mutate a valid manifest set (as data,
as YAML text, as bytes). Used by tests/reliability/test_hostile_input.py (validate never crashes
or forges a problem line) and tests/unit/test_fastpath.py (the fast path agrees with the located
one on every mutated set).

Importing it points hypothesis's home (its example database and failure patches, ./.hypothesis
by default) at a temporary directory, so the test runs write nothing into the repository.
"""

from __future__ import annotations

import atexit
import copy
import shutil
import tempfile
from typing import Any

import yaml
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="hypothesis-home-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)

# --- the valid starting point: a Fleet and two bots in one file (cross-document checks run) -----

VALID: list[dict[str, Any]] = [
    {
        "apiVersion": "botmaker/v1", "kind": "Fleet", "metadata": {"name": "prod"},
        "spec": {"secretsDir": "/srv/botmaker/secrets",
                 "defaults": {"image": "ghcr.io/openclaw/openclaw:2026.2.26", "user": "1000",
                              "env": {"LOG_LEVEL": "info"}}},
    },
    {
        "apiVersion": "botmaker/v1", "kind": "Bot",
        "metadata": {"name": "support-bot", "labels": {"team": "support"}},
        "spec": {
            "provider": {"name": "anthropic", "model": "claude-sonnet-4-5"},
            "channels": [{"type": "telegram"}],
            "secrets": ["ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"],
            "env": {"LOG_LEVEL": "debug", "GREETING": "hi"},
            "ports": [{"containerPort": 18789, "hostPort": 18801}],
            "volumes": [{"source": "/srv/botmaker/state/support-bot", "target": "/home/node/.openclaw"}],
            "resources": {"memory": "1g", "cpus": 1},
            "restart": "unless-stopped",
            "state": "running",
            "healthcheck": {"test": ["CMD", "wget", "-qO-", "http://127.0.0.1:18789/healthz"], "interval": "10s"},
        },
    },
    {
        "apiVersion": "botmaker/v1", "kind": "Bot", "metadata": {"name": "ops-bot"},
        "spec": {"provider": {"name": "openai"}, "secrets": ["OPENAI_API_KEY"],
                 "command": ["node", "gateway.js"], "restart": {"policy": "on-failure", "maxRetries": 3},
                 "ports": [{"containerPort": 18789, "hostPort": 18802, "hostIP": "127.0.0.1"}],
                 "network": "bots", "pullPolicy": "IfNotPresent"},
    },
]

# --- strategies ----------------------------------------------------------------------------------

no_surrogates = st.characters(blacklist_categories=("Cs",))
short_text = st.text(no_surrogates, max_size=40)
tricky_text = st.sampled_from([
    "", " ", "~", "null", "yes", "on", "0x1F", "1e400", "-.inf", ".nan", "0o17", "2001-12-14", "12:30:00",
    "../../etc/passwd", "a/../b", "a\0b", "\t", "\r\n", "\n", "\x85", "\u2028", "\ufeff", "é", "😀", "\u202e",
    "botmaker.fleet", "ghcr.io/x:latest", "x" * 64, "A_TOKEN", "PASSWORD", "/run/secrets", "0.0.0.0", "::",
    "%0A", "::error file=x::y", "${HOME}", "`id`", "$(id)", "{{ x }}", "*alias", "&anchor", "!!python/object:os.system",
])


@st.composite
def huge_text(draw):
    unit = draw(st.sampled_from(["a", "é", "😀", " ", "\n", ":", "- ", "\\", "'", '"', "x" * 7 + "\n"]))
    return unit * draw(st.integers(1_000, 100_000 // len(unit)))


def nested(depth: int, leaf: Any, as_map: bool) -> Any:
    for _ in range(depth):
        leaf = {"k": leaf} if as_map else [leaf]
    return leaf


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2 ** 80), max_value=2 ** 80),
    st.floats(), short_text, tricky_text,
)
values = st.one_of(
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                 | st.dictionaries(st.one_of(short_text, tricky_text, st.integers()), inner, max_size=4),
                 max_leaves=12),
    huge_text(),
    st.builds(nested, st.integers(1, 150), scalars, st.booleans()),
)


def containers(node: Any, path: tuple = (), seen: set[int] | None = None) -> list[tuple]:
    """Paths of every dict and list in the document (where a mutation can act); a shared or
    self-containing object (made by the share / recurse mutations) is walked once."""
    seen = set() if seen is None else seen
    if not isinstance(node, (dict, list)) or id(node) in seen:
        return []
    seen.add(id(node))
    found = [path]
    for k, v in (node.items() if isinstance(node, dict) else enumerate(node)):
        found += containers(v, path + (k,), seen)
    return found


def at(root: Any, path: tuple) -> Any:
    for part in path:
        root = root[part]
    return root


@st.composite
def mutated_data(draw) -> list[Any]:
    docs = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(docs) - 1))
        targets = containers(docs[i])
        if not targets:  # the document itself was replaced by a scalar
            docs[i] = draw(values)
            continue
        target = at(docs[i], draw(st.sampled_from(targets)))
        op = draw(st.sampled_from(["set", "set", "delete", "add", "share", "recurse", "replace_doc"]))
        if op == "replace_doc":
            docs[i] = draw(values)
            continue
        if isinstance(target, dict):
            keys = list(target)
            key = draw(st.sampled_from(keys)) if keys and op != "add" else draw(st.one_of(short_text, tricky_text))
        else:
            key = draw(st.integers(0, len(target) - 1)) if target and op != "add" else None
        if op == "delete" and key is not None and (not isinstance(target, dict) or key in target):
            del target[key]
        elif op == "share":  # the same object twice: yaml.dump writes an anchor and an alias
            other = at(docs[i], draw(st.sampled_from(targets)))
            if isinstance(target, dict):
                target[key] = other
            elif key is not None:
                target[key] = other
        elif op == "recurse" and isinstance(target, list):  # an alias to its own anchor
            target.append(target)
        elif isinstance(target, dict):
            target[key] = draw(values)
        elif key is not None:
            target[key] = draw(values)
        else:
            target.append(draw(values))
    return docs


TEXT_SNIPPETS = [
    "<<: *id001", "<<: {a: 1}", "&a x: *a", "*undefined", "? [a, b]\n: c", "? {a: 1}\n: b",
    "!!python/object/apply:os.system [ls]", "!!binary aGVsbG8=", "!custom {a: 1}", "%YAML 1.1\n---",
    "--- !Fleet", "...", "\t- tab", "key: value\nkey: value", "  duplicate: 1\n  duplicate: 2",
    "x: &big [1, 2, 3]\ny: [*big, *big, *big, *big]", "a: 'unterminated", 'b: "\\xZZ"', "- - - - -",
    "{", "]", "? ", ": ", "|\n  block", ">-\n  folded", "k: !!str", "k: !!int abc", "k: !!float x",
    "k: 0b101", "k: 1_000", "k: 2001-12-14t21:59:43.10-05:00", "\ufeffk: v",
]


@st.composite
def hostile_file(draw) -> bytes:
    docs = draw(mutated_data())
    try:
        text = yaml.safe_dump_all(docs, allow_unicode=draw(st.booleans()), sort_keys=False,
                                  default_flow_style=draw(st.sampled_from([False, True, None])),
                                  width=draw(st.sampled_from([80, 10, 10 ** 6])))
    except (yaml.YAMLError, RecursionError, ValueError):
        text = yaml.safe_dump_all(VALID, sort_keys=False)
    lines = text.split("\n")
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["dup", "snippet", "delete", "indent", "swap"]))
        n = draw(st.integers(0, max(0, len(lines) - 1)))
        if op == "dup" and lines:
            lines.insert(n, lines[n])
        elif op == "snippet":
            indent = " " * draw(st.sampled_from([0, 2, 4]))
            lines.insert(n, indent + draw(st.sampled_from(TEXT_SNIPPETS)))
        elif op == "delete" and lines:
            del lines[n]
        elif op == "indent" and lines:
            lines[n] = " " + lines[n]
        elif op == "swap" and len(lines) > 1:
            m = draw(st.integers(0, len(lines) - 1))
            lines[n], lines[m] = lines[m], lines[n]
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = data.replace(b"\n", draw(st.sampled_from([b"\r\n", b"\r", b"\n"])))
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from(["insert", "overwrite", "truncate", "bom"]))
        pos = draw(st.integers(0, len(data)))
        if op == "insert":
            data = data[:pos] + draw(st.binary(min_size=1, max_size=32)) + data[pos:]
        elif op == "overwrite":
            junk = draw(st.binary(min_size=1, max_size=16))
            data = data[:pos] + junk + data[pos + len(junk):]
        elif op == "truncate":
            data = data[:pos]
        else:
            data = b"\xef\xbb\xbf" + data
    return data
