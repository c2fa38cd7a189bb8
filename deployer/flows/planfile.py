"""Saved plans: a plan plus digests of what it was computed from, refused when either moved.

The file holds the plan document, a digest per manifest file, and a fingerprint per bot of the
engine state the plan saw (container IDs, names, states, spec-hash and secret-fingerprint
labels, image IDs, keyed secret fingerprints). It holds no secret value: secret fingerprints
are HMACs under the fleet key, and only digests of them are stored.

The plan file is a CI artifact: made in one job, applied in another, maybe on another machine
with the checkout elsewhere and the file downloaded anywhere. So manifest paths are stored
relative to the root of the git checkout that holds them (what stays the same across checkouts),
not to the directory `plan` ran in (the cause of "manifest ... was removed" when `apply --plan`
ran elsewhere), nor to the plan file (which moves on its own), nor as absolute paths (which
differ between runners). `apply --plan` resolves them against the checkout it runs in (or, when
it runs outside one, the checkout holding the plan file). Manifests in no checkout are stored as
absolute paths.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.core.model import FleetSpec, Observed, Plan
from deployer.core.spec import canonical_json
from deployer.core.vocabulary import LABEL_SECRETS, LABEL_SPEC_HASH
from deployer.errors import DeployerError, StalePlan
from deployer.manifests.load import find_manifest_files
from deployer.plan.document import plan_document
from deployer.plan.planner import PlanOptions

PLANFILE_KIND = "deployer-plan"
PLANFILE_VERSION = "2"  # 2: paths relative to the repository root ("relative_to")
FLEET_KEY = "(fleet)"  # state entry for containers no manifest names (orphans)
SECRETS_KEY = "secrets:"  # state entry per bot for its secret files (keyed fingerprints)


REPOSITORY = "repository"  # "relative_to": paths relative to the root of the git checkout


def repository_root(start: Path) -> Path | None:
    """The top of the git checkout (or worktree) holding `start`, found by its `.git` entry as
    `git rev-parse --show-toplevel` would, without needing git on the host; None outside one."""
    start = Path(os.path.abspath(start))
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def _directory_of(path: str) -> Path:
    p = Path(os.path.abspath(path))
    return p if p.is_dir() else p.parent


def stored_path(path: str | Path, base: Path | None) -> str:
    """How a path is written in the plan file: relative to `base` (posix) when under it, else absolute."""
    absolute = os.path.abspath(path)
    if base is not None:
        relative = os.path.relpath(absolute, base)
        if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
            return Path(relative).as_posix()
    return absolute


def local_path(stored: str, base: Path | None) -> str:
    """A stored path as this run names it: relative to the working directory when under it (so
    messages read as they did when the plan was made there), else absolute."""
    absolute = Path(stored) if os.path.isabs(stored) or base is None else base / stored
    relative = os.path.relpath(absolute)
    return relative if relative != os.pardir and not relative.startswith(os.pardir + os.sep) else str(absolute)


def manifest_digests(paths: list[str], base: Path | None = None) -> dict[str, str]:
    """Each manifest file's sha256, keyed by its path as stored (see stored_path)."""
    files, _ = find_manifest_files(paths)
    return {stored_path(f, base): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def state_fingerprints(fleet: FleetSpec, observed: Observed, options: PlanOptions) -> dict[str, str]:
    """Per bot, a digest of everything on the engine that its planned action depends on."""
    by_bot: dict[str, list[Any]] = {b.name: [] for b in fleet.bots}
    by_bot[FLEET_KEY] = []
    for c in observed.containers:
        key = c.bot if c.bot in by_bot else FLEET_KEY
        # (what the last record says a container updated in place runs: only when it says so, so
        # that the fingerprints of plans saved before it was read stay as they were)
        by_bot[key].append([c.id, c.name, c.state, c.image_id, c.labels.get(LABEL_SPEC_HASH),
                            c.labels.get(LABEL_SECRETS), c.memory_bytes, c.nano_cpus, c.restart_policy]
                           + ([c.applied_hash] if c.applied_hash else []))
    for bot in fleet.bots:
        foreign = observed.foreign_by_name.get(bot.container_name)
        by_bot[bot.name].append(["foreign", foreign.id if foreign else None])
        by_bot[bot.name].append(["image", bot.image, observed.image_ids.get(bot.image)])
        if bot.name in observed.configs:  # the generated config on the host (an OpenClaw bot)
            raw = observed.configs[bot.name]
            by_bot[bot.name].append(["config", hashlib.sha256(raw).hexdigest() if raw is not None else None])
        by_bot[SECRETS_KEY + bot.name] = [options.secret_fingerprints.get(bot.name)]
    return {k: hashlib.sha256(canonical_json(sorted(v, key=str)).encode()).hexdigest()[:32] for k, v in by_bot.items()}


@dataclass(frozen=True)
class SavedPlan:
    fleet: str
    paths: list[str]  # the manifests as this run finds them (resolved against `base`)
    options: dict[str, Any]
    manifests: dict[str, str]
    state: dict[str, str]
    plan: dict[str, Any]
    base: Path | None = None  # the checkout the stored paths are relative to; None: they are absolute


# what each saved option must be: read back by PlanSettings.of_saved_plan
OPTION_TYPES: dict[str, tuple[str, Any]] = {
    "secrets_dir": ("a path or null", lambda v: v is None or isinstance(v, str)),
    "prune": ("true or false", lambda v: isinstance(v, bool)),
    "allow_empty": ("true or false", lambda v: isinstance(v, bool)),
    "max_removals": ("a whole number or null", lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool))),
    "adopt": ("a list of bot names", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)),
    "refresh": ("true or false", lambda v: isinstance(v, bool)),
}


def options_document(options: PlanOptions, refresh: bool) -> dict[str, Any]:
    return {
        "secrets_dir": options.secrets_dir, "prune": options.prune, "allow_empty": options.allow_empty,
        "max_removals": options.max_removals, "adopt": sorted(options.adopt), "refresh": refresh,
    }


def write_plan_file(path: str, *, paths: list[str], fleet: FleetSpec, observed: Observed, options: PlanOptions,
                    refresh: bool, plan: Plan) -> None:
    roots = {repository_root(_directory_of(p)) for p in paths}
    base = roots.pop() if len(roots) == 1 else None  # manifests from two checkouts: absolute paths
    document = {
        "kind": PLANFILE_KIND,
        "format_version": PLANFILE_VERSION,
        "fleet": plan.fleet,
        "relative_to": REPOSITORY if base is not None else None,
        "paths": [stored_path(p, base) for p in paths],
        "options": options_document(options, refresh),
        "manifests": manifest_digests(paths, base),
        "state": state_fingerprints(fleet, observed, options),
        "plan": plan_document(plan),
    }
    Path(path).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def read_plan_file(path: str) -> SavedPlan:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise DeployerError(f"cannot read plan file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise DeployerError(f"plan file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != PLANFILE_KIND:
        raise DeployerError(f"{path} is not a deployer plan file (made by `deployer plan --out`)")
    if data.get("format_version") != PLANFILE_VERSION:
        raise DeployerError(f"plan file {path} has format_version {data.get('format_version')!r}; "
                            f"this deployer reads {PLANFILE_VERSION!r}: make the plan again")
    damage = damaged(data)
    if damage:
        raise DeployerError(f"plan file {path} is incomplete or damaged: {damage}; make the plan again")
    stored = list(data["paths"])
    saved = SavedPlan(data["fleet"], stored, dict(data["options"]), dict(data["manifests"]),
                      dict(data["state"]), dict(data["plan"]))
    relative_to = data["relative_to"]
    base = None
    if relative_to == REPOSITORY:
        base = repository_root(Path.cwd()) or repository_root(_directory_of(path))
        if base is None:
            raise DeployerError(f"plan file {path} names its manifests relative to the root of their git checkout "
                                f"({', '.join(stored)}); run apply --plan inside a checkout of that repository")
    return dataclasses.replace(saved, paths=[local_path(p, base) for p in stored], base=base)


def damaged(data: dict[str, Any]) -> str | None:
    """What is missing or of the wrong type in a plan file's document (kind and version aside),
    in a few words; None when every field the deployer reads is there and of its type."""
    def strings(v: object) -> bool:
        return isinstance(v, list) and all(isinstance(x, str) for x in v)

    def string_map(v: object) -> bool:
        return isinstance(v, dict) and all(isinstance(x, str) for x in v.values())

    fields: list[tuple[str, str, Any]] = [
        ("fleet", "a fleet name", lambda v: isinstance(v, str) and v != ""),
        ("relative_to", f"{REPOSITORY!r} or null", lambda v: v is None or v == REPOSITORY),
        ("paths", "a list of paths", strings),
        ("options", "a mapping", lambda v: isinstance(v, dict)),
        ("manifests", "a mapping of file to digest", string_map),
        ("state", "a mapping of bot to fingerprint", string_map),
        ("plan", "a plan document (a mapping)", lambda v: isinstance(v, dict)),
    ]
    for name, want, ok in fields:
        if name not in data:
            return f"{name} is missing"
        if not ok(data[name]):
            return f"{name} is {_shown(data[name])}, not {want}"
    for name, (want, ok) in OPTION_TYPES.items():
        if name not in data["options"]:
            return f"options.{name} is missing"
        if not ok(data["options"][name]):
            return f"options.{name} is {_shown(data['options'][name])}, not {want}"
    return None


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_manifests(saved: SavedPlan) -> None:
    now = manifest_digests(saved.paths, saved.base)
    # the stored paths say relative to what, so that a checkout in the wrong place reads as such
    where = f" (paths relative to the repository root {saved.base})" if saved.base is not None else ""
    for file in sorted(set(now) | set(saved.manifests)):
        if file not in now:
            raise StalePlan(f"plan is stale: manifest {file} was removed since the plan was made{where}")
        if file not in saved.manifests:
            raise StalePlan(f"plan is stale: manifest {file} was added since the plan was made{where}")
        if now[file] != saved.manifests[file]:
            raise StalePlan(f"plan is stale: manifest {file} changed since the plan was made{where}")


def check_state(saved: SavedPlan, fleet: FleetSpec, observed: Observed, options: PlanOptions, plan: Plan) -> None:
    now = state_fingerprints(fleet, observed, options)
    for bot in sorted(set(now) | set(saved.state)):
        if now.get(bot) != saved.state.get(bot):
            if bot.startswith(SECRETS_KEY):
                what = f"the secrets of bot {bot[len(SECRETS_KEY):]} changed"
            elif bot == FLEET_KEY:
                what = "containers outside the manifests (orphans) were changed on the engine"
            else:
                what = f"bot {bot} was changed on the engine"
            raise StalePlan(f"plan is stale: {what} since the plan was made; make the plan again")
    if _own_part(plan_document(plan)) != _own_part(saved.plan):
        raise StalePlan("plan is stale: the plan computed now differs from the saved one; make the plan again")


# Not part of the comparison: how many managed containers of *other* fleets the engine holds. Other
# fleets' deploys change it at any time, and this fleet's apply never touches them.
_OTHER_FLEETS_KEYS = ("foreign_managed_containers",)


def _own_part(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in _OTHER_FLEETS_KEYS}
