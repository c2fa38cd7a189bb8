"""Validation of a whole manifest set, the entry: each document's header and schema (schema.py),
the checks beyond shape (rules.py), then the model built from it (build.py) when nothing is wrong.

Every check reports Problems located at a YAML node; nothing raises part-way, so one run reports
everything, in a fixed order: headers, schemas, Fleet, Bots, each bot merged with the defaults,
across bots, the backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer.core.model import FleetSpec, merge_maps
from deployer.core.problems import Problem
from deployer.manifests import rules, schema
from deployer.manifests.build import build_fleet
from deployer.manifests.load import Document
from deployer.manifests.report import Reporter, get_in


@dataclass
class ValidationResult:
    problems: list[Problem]
    fleet: FleetSpec | None  # None when there are errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


def validate_documents(documents: list[Document], load_problems: list[Problem] | None = None, *,
                       schema_check: schema.SchemaCheck | None = None) -> ValidationResult:
    """Check a whole manifest set; build the FleetSpec only if there is no error.

    `schema_check` replaces schema.schema_check (the fast path passes one that asks a compiled
    validator first, see fastpath.py)."""
    check = schema_check or schema.schema_check
    report = Reporter()
    report.problems.extend(load_problems or [])
    bots: list[Document] = []
    fleets: list[Document] = []
    for doc in documents:
        kind = schema.check_header(doc, report)
        if kind is not None:
            (bots if kind == "Bot" else fleets).append(doc)
    fleet_doc = fleets[0] if fleets else None
    defaults = get_in(fleet_doc.data, ("spec", "defaults")) if fleet_doc else None
    for doc in fleets:
        check(doc, "Fleet", report, None)
    for doc in bots:
        check(doc, "Bot", report, defaults if isinstance(defaults, dict) else None)

    rules.check_one_fleet(fleets, report)
    if fleet_doc is not None:
        rules.check_spec(fleet_doc, ("spec", "defaults"), report)
    rules.check_bots(bots, report)

    merged: list[tuple[Document, dict[str, Any]]] = []
    for doc in bots:
        spec = get_in(doc.data, ("spec",))
        if not isinstance(spec, dict):
            continue
        merged_spec = merge_defaults(defaults if isinstance(defaults, dict) else {}, spec)
        merged.append((doc, merged_spec))
        rules.check_merged(doc, fleet_doc, merged_spec, report)
    rules.check_cross_bot(merged, fleet_doc, report)
    rules.check_backend(merged, fleet_doc, report)

    problems = report.problems
    if any(p.is_error for p in problems):
        return ValidationResult(problems, None)
    return ValidationResult(problems, build_fleet(fleet_doc, merged))


def merge_defaults(defaults: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Maps merge key by key (recursively); lists and scalars are replaced by the bot's value."""
    return merge_maps(defaults, spec)
