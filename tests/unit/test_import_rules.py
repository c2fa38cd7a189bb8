"""Import rules of the code base, read from the source (no import is executed):

- only the docker backend (deployer/backends/docker/) imports the docker SDK, and not from its
  package __init__ (so the planner can read the backend's traits without loading the SDK);
- the planner, and every deployer module it imports, is pure: no filesystem, process, network
  or thread module at import level, so a plan is a function of its inputs alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "deployer"
BACKEND = {"deployer.backends.docker.client", "deployer.backends.docker.markers", "deployer.backends.docker.engine",
           "deployer.backends.swarm.engine", "deployer.backends.swarm.markers", "deployer.backends.swarm.secrets"}
IMPURE = {"os", "subprocess", "socket", "shutil", "pathlib", "threading", "docker", "requests", "urllib", "http"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str, *, top_level_only: bool) -> set[str]:
    """Absolute module names `name` imports (relative imports resolved)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            # importing a.b.c runs the __init__ of a and a.b first
            parts = target.split(".")
            out.update(p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in MODULES)
            out.update(f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in MODULES)
    return out


def test_only_the_backend_imports_docker() -> None:
    importers = {name for name in MODULES if any(i == "docker" or i.startswith("docker.")
                                                 for i in imports(name, top_level_only=False))}
    assert importers == BACKEND


def test_the_planner_and_what_it_imports_do_no_io() -> None:
    seen: set[str] = set()
    todo = ["deployer.plan.planner"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in imports(name, top_level_only=True):
            root = imported.split(".")[0]
            assert root not in IMPURE, f"{name} imports {imported}"
            if imported in MODULES:
                todo.append(imported)
    assert {"deployer.core.model", "deployer.core.spec", "deployer.openclaw.config", "deployer.core.traits"} <= seen, seen
    assert not any(name.startswith("deployer.backends") for name in seen), seen


def test_the_backend_contract_is_docker_free() -> None:
    for name in ("deployer.backends", "deployer.backends.base", "deployer.backends.docker",
                 "deployer.backends.docker.traits"):
        assert not any(i.split(".")[0] in IMPURE for i in imports(name, top_level_only=True)), name
