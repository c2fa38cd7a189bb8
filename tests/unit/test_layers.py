"""The package tree is the architecture: each stage is a package, and imports point down only.

    cli > flows > runtime > (backends | manifests | secrets) > plan > openclaw > core

(`deployer/errors.py`, the DeployerError tree every stage raises, belongs to the bottom layer with
core; `__main__` sits on top of cli.)

Every import counts, also one inside a function or under TYPE_CHECKING (a lazy import is still a
dependency). A module may import its own package's modules and any lower layer; the three
packages of one tier do not import each other. And no circle anywhere in deployer/.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "deployer"

# top to bottom; a tuple is one tier of peers
LAYERS: list[tuple[str, ...]] = [
    ("__main__",),
    ("cli",),
    ("flows",),
    ("runtime",),
    ("backends", "manifests", "secrets"),
    ("plan",),
    ("openclaw",),
    ("core",),
]
PART_OF = {"errors": "core"}  # a top-level module that belongs to a package's layer
RANK = {top: rank for rank, tier in enumerate(LAYERS) for top in tier}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def edges(name: str) -> set[str]:
    """The deployer modules `name` imports anywhere in its body, relative imports resolved."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != "deployer" and target != name:
                out.add(target)
    return out


GRAPH = {name: edges(name) for name in MODULES}


def top(name: str) -> str:
    """deployer.flows.apply -> flows; deployer.errors -> core; deployer -> ''."""
    first = name.split(".")[1] if "." in name else ""
    return PART_OF.get(first, first)


def upward_or_sideways(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for name, targets in sorted(graph.items()):
        if not top(name):
            continue
        for target in sorted(targets):
            a, b = top(name), top(target)
            if a == b:
                continue
            if RANK[b] < RANK[a]:
                bad.append(f"{name} imports {target}: {b} is above {a}")
            elif RANK[b] == RANK[a]:
                bad.append(f"{name} imports {target}: {a} and {b} are peers")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_package_has_a_layer() -> None:
    tops = {top(n) for n in MODULES if top(n) and top(n) != "schemas"}
    assert tops <= set(RANK), f"packages with no layer: {sorted(tops - set(RANK))}"


def test_imports_point_down_only() -> None:
    assert upward_or_sideways(GRAPH) == []


def test_no_import_circles() -> None:
    assert cycles(GRAPH) == []


@pytest.mark.parametrize("extra", [
    ("deployer.core.model", "deployer.plan.planner"),      # core reaching up to the planner
    ("deployer.openclaw.config", "deployer.cli.render"),    # a lazy import counts the same
    ("deployer.backends.base", "deployer.manifests.load"),  # peers of one tier
])
def test_the_rule_catches_an_upward_import(extra: tuple[str, str]) -> None:
    graph = {k: set(v) for k, v in GRAPH.items()}
    graph[extra[0]].add(extra[1])
    assert upward_or_sideways(graph), extra


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
