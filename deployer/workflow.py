"""The steps behind plan / apply / drift / status, without any printing or prompting.

load + validate → observe → check secrets → plan, as one value (`Prepared`) the CLI renders,
confirms and hands to the applier.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .fastpath import load_and_validate
from .model import FleetSpec, Observed, Plan
from .planner import PlanOptions, plan
from .problems import DeployerError, Problem
from .secrets import check_fleet_secrets

if TYPE_CHECKING:  # the docker SDK stays off the path of `validate --secrets`
    from .engine import DockerEngine


class InvalidManifests(DeployerError):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{sum(p.is_error for p in problems)} manifest error(s)")
        self.problems = problems


class InvalidSecrets(DeployerError):
    def __init__(self, problems: list[Problem]):
        errors = sum(p.is_error for p in problems)
        super().__init__(f"{errors} secret problem(s); nothing was changed")
        self.problems = problems


@dataclass
class Prepared:
    fleet: FleetSpec
    options: PlanOptions
    observed: Observed
    plan: Plan
    warnings: list[Problem]


def load_fleet(paths: list[str]) -> tuple[FleetSpec, list[Problem]]:
    """Validated fleet and its warnings; raises InvalidManifests with every problem."""
    result = load_and_validate(paths)  # = validate_documents(*load_paths(paths)), fast when valid
    if result.errors or result.fleet is None:
        raise InvalidManifests(result.problems)
    return result.fleet, result.warnings


def plan_options(fleet: FleetSpec, secrets_dir: str | None, **kwargs: object) -> PlanOptions:
    chosen = secrets_dir or os.environ.get("DEPLOYER_SECRETS_DIR") or fleet.secrets_dir
    unknown = set(kwargs.get("adopt", frozenset())) - {b.name for b in fleet.bots}  # type: ignore[arg-type]
    if unknown:
        raise DeployerError(f"--adopt names bots that no manifest declares: {', '.join(sorted(unknown))}")
    return PlanOptions(secrets_dir=chosen, **kwargs)  # type: ignore[arg-type]


def prepare(fleet: FleetSpec, options: PlanOptions, engine: "DockerEngine", *, refresh: bool = False,
            parallelism: int = 8) -> Prepared:
    """Observe the engine, check secrets (before anything could change), and plan."""
    from .observe import gather

    observed = gather(engine, fleet, options, refresh=refresh, parallelism=parallelism)
    secrets = check_fleet_secrets(fleet, options.secrets_dir, image_users=observed.image_users)
    if secrets.errors:
        raise InvalidSecrets(secrets.problems)
    options = dataclasses.replace(options, secret_fingerprints=secrets.fingerprints)
    return Prepared(fleet, options, observed, plan(fleet, observed, options), secrets.problems)
