"""The steps behind plan / apply / drift / status, without any printing or prompting.

load + validate → observe → check secrets → plan, as one value (`Prepared`) the CLI renders,
confirms and hands to the applier.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deployer.core.model import NOOP, FleetSpec, Method, Observed, Plan
from deployer.core.problems import Problem
from deployer.core.traits import Traits
from deployer.errors import DeployerError, InvalidManifests, InvalidSecrets
from deployer.flows.planfile import SavedPlan
from deployer.manifests.fastpath import load_and_validate
from deployer.openclaw.container import config_path, expand_fleet
from deployer.plan.planner import PlanOptions, plan
from deployer.runtime.hostfiles import read_file
from deployer.secrets.checks import check_fleet_secrets

if TYPE_CHECKING:  # the docker SDK stays off the path of `validate --secrets`
    from deployer.backends.base import Backend


@dataclass
class Prepared:
    fleet: FleetSpec
    options: PlanOptions
    observed: Observed
    plan: Plan
    warnings: list[Problem]
    notes: list[str] = dataclasses.field(default_factory=list)  # one-line reports, e.g. of the preflight


def load_fleet(paths: list[str]) -> tuple[FleetSpec, list[Problem]]:
    """Validated fleet and its warnings; raises InvalidManifests with every problem."""
    result = load_and_validate(paths)  # = validate_documents(*load_paths(paths)), fast when valid
    if result.errors or result.fleet is None:
        raise InvalidManifests(result.problems)
    fleet, problems = expand_fleet(result.fleet)
    if problems:
        raise InvalidManifests(result.warnings + problems)
    return fleet, result.warnings


def chosen_secrets_dir(fleet: FleetSpec, secrets_dir: str | None) -> str | None:
    """--secrets-dir, else DEPLOYER_SECRETS_DIR, else the Fleet's spec.secretsDir."""
    return secrets_dir or os.environ.get("DEPLOYER_SECRETS_DIR") or fleet.secrets_dir


def plan_options(fleet: FleetSpec, secrets_dir: str | None, *, traits: Traits, prune: bool = False,
                 allow_empty: bool = False, max_removals: int | None = None,
                 adopt: frozenset[str] = frozenset()) -> PlanOptions:
    chosen = chosen_secrets_dir(fleet, secrets_dir)
    unknown = set(adopt) - {b.name for b in fleet.bots}
    if unknown:
        raise DeployerError(f"--adopt names bots that no manifest declares: {', '.join(sorted(unknown))}")
    return PlanOptions(traits=traits, secrets_dir=chosen, prune=prune, allow_empty=allow_empty, max_removals=max_removals,
                       adopt=adopt)


def prepare(fleet: FleetSpec, options: PlanOptions, engine: Backend, *, refresh: bool = False,
            parallelism: int = 8, preflight: bool = True, pull_for_preflight: bool = False) -> Prepared:
    """Observe the engine and the host's generated configs, check secrets (before anything could
    change), plan, and run the gateway's own checks for the OpenClaw bots the plan changes."""
    from deployer.runtime.observe import gather

    endpoint = engine.endpoint
    if not endpoint.files_local:
        remote = [b.name for b in fleet.bots if b.is_openclaw]
        if remote:
            # the generated configs and state dirs are written on this machine's disk, which the
            # engine's host does not see (not yet routed through the engine's helper container)
            raise DeployerError(
                f"bot {remote[0]}{f' (and {len(remote) - 1} more)' if len(remote) > 1 else ''}: runtime openclaw "
                f"needs its config and state dirs on the Docker host, and {endpoint.describe()} is not this machine; "
                "run deployer on the Docker host (or set DEPLOYER_SECRETS_CHECK=local if these paths are shared "
                "with it), or use runtime container")
    observed = gather(engine, fleet, options, refresh=refresh, parallelism=parallelism)
    observed = dataclasses.replace(observed, configs=read_configs(fleet))
    on_engine = None
    if not endpoint.files_local:  # the files are on the engine's host, not here
        from deployer.runtime.remote_secrets import engine_gatherer

        on_engine = engine_gatherer(engine, fleet, observed)
    secrets = check_fleet_secrets(fleet, options.secrets_dir, image_users=observed.image_users, gather=on_engine)
    if secrets.errors:
        raise InvalidSecrets(secrets.problems)
    options = dataclasses.replace(options, secret_fingerprints=secrets.fingerprints,
                                  traits=engine.traits)  # the planner asks the backend's, never Docker's
    the_plan = plan(fleet, observed, options)
    warnings = list(secrets.problems)
    # bots the plan leaves alone because another run's replace of them is under way (no action shows them)
    notes = [f"bot {a.bot}: {a.reasons[0]}" for a in the_plan.actions
             if a.action == NOOP and a.method is Method.LEAVE and a.reasons]
    if preflight and not the_plan.errors:
        from deployer.runtime.gate import run_preflights

        the_plan, checked = run_preflights(the_plan, fleet.name, observed, options, engine,
                                           parallelism=min(parallelism, 4), pull=pull_for_preflight)
        notes += checked
    return Prepared(fleet, options, observed, the_plan, warnings, notes)


def read_configs(fleet: FleetSpec) -> dict[str, bytes | None]:
    """Each OpenClaw bot's generated config as it is on the host now (None: not there)."""
    out = {}
    for bot in fleet.bots:
        path = config_path(bot) if bot.is_openclaw else None
        if path:
            out[bot.name] = read_file(path)
    return out


@dataclass(frozen=True)
class PlanSettings:
    """How a fleet is planned, as the user chose it: the PlanOptions besides the secrets'
    fingerprints, and what prepare does around the planner (refresh, preflight)."""

    secrets_dir: str | None = None  # None: DEPLOYER_SECRETS_DIR, else the Fleet's spec.secretsDir
    refresh: bool = False  # inspect every container (drift)
    prune: bool = False
    allow_empty: bool = False
    max_removals: int | None = None
    adopt: frozenset[str] = frozenset()
    preflight: bool = False  # the gateway's own checks for the OpenClaw bots the plan changes
    pull_for_preflight: bool = False  # pull a missing image to run them (apply does; plan does not)

    @classmethod
    def of_saved_plan(cls, saved: SavedPlan, *, preflight: bool) -> PlanSettings:
        """The settings a saved plan was made with (they win over the command line's)."""
        o = saved.options
        return cls(secrets_dir=o["secrets_dir"], refresh=o["refresh"], prune=o["prune"],
                   allow_empty=o["allow_empty"], max_removals=o["max_removals"], adopt=frozenset(o["adopt"]),
                   preflight=preflight, pull_for_preflight=True)

    def plan_options(self, fleet: FleetSpec, traits: Traits) -> PlanOptions:
        return plan_options(fleet, self.secrets_dir, traits=traits, prune=self.prune, allow_empty=self.allow_empty,
                            max_removals=self.max_removals, adopt=self.adopt)
