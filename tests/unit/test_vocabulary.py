"""Each name the deployer writes on the engine has one home: deployer/core/vocabulary.py.

A label name or a name prefix spelled out in a second module is a second fact that can drift
(a sweep or a filter that misses what the writer wrote); readers import it instead."""

from __future__ import annotations

import ast
from pathlib import Path

from deployer.core import vocabulary

PACKAGE = Path(__file__).resolve().parents[2] / "deployer"
HOME = PACKAGE / "core" / "vocabulary.py"
OURS = ("botmaker.", "botmaker-")  # a label key, an object name or its prefix


def _name_literals(path: Path) -> list[tuple[int, str]]:
    """String literals (f-string pieces included, docstrings not) that start like one of our names."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and node.value.startswith(OURS)]


def test_label_names_and_name_prefixes_are_written_only_in_the_vocabulary() -> None:
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}"
             for path in sorted(PACKAGE.rglob("*.py")) if path != HOME
             for line, text in _name_literals(path)]
    assert found == [], "import these from deployer.core.vocabulary instead"


def test_the_check_sees_an_f_string_prefix(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""botmaker.doc is prose"""\nname = f"botmaker-lock.{fleet}"\n')
    assert _name_literals(module) == [(2, "botmaker-lock.")]


def test_no_two_names_for_one_label() -> None:
    labels = {name: value for name, value in vars(vocabulary).items() if name.startswith("LABEL_")}
    values = list(labels.values())
    assert len(values) == len(set(values)), labels
    assert all(value.startswith(vocabulary.LABEL_NAMESPACE) for value in values)
