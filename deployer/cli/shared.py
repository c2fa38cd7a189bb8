"""What several commands do the same way: load the fleet, open the engine that -H/--context (or the
environment) chose, plan; warnings and notes go to stderr. Heavy modules (jsonschema, the docker
SDK) are imported inside, so `deployer --help` and `deployer validate` never load docker."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from deployer.cli.exits import fail, handle_errors
from deployer.cli.options import Pruning

if TYPE_CHECKING:  # types only: these modules are imported by the functions that need them
    from deployer.backends.base import Backend
    from deployer.errors import DeployerError
    from deployer.flows.prepare import PlanSettings, Prepared

    OnError = Callable[[DeployerError], None] | None  # handle_errors' second say


def chosen() -> dict[str, Any]:
    """The global options as given, before or after the command (options.global_options)."""
    ctx = click.get_current_context(silent=True)
    return (ctx.find_root().obj if ctx is not None else None) or {}


def wants_color() -> bool:
    """Colour on standard output: not with --no-color (before or after the command) or NO_COLOR,
    and only on a terminal."""
    from deployer.cli.render import use_color

    return use_color(bool(chosen().get("no_color")), sys.stdout)


def load(paths: list[str], on_error: OnError = None) -> Any:
    """The validated fleet; warnings are printed, errors end the command."""
    from deployer.flows.prepare import load_fleet

    fleet, warnings = handle_errors(lambda: load_fleet(paths), on_error)
    for w in warnings:
        click.echo(w.format(), err=True)
    return fleet


def open_engine(max_pool_size: int = 16, backend: str | None = None, on_error: OnError = None) -> Backend:
    """The backend for the engine chosen by --host / --context / the environment (docker CLI rules):
    the one place the CLI builds one. Its kind is the fleet's spec.backend, or DEPLOYER_BACKEND for
    the commands that read no manifest (unlock, history, rollback)."""
    from deployer.backends.endpoint import resolve

    given = chosen()
    endpoint = handle_errors(lambda: resolve(os.environ, host=given.get("host"), context=given.get("context")),
                             on_error)
    kind = backend or os.environ.get("DEPLOYER_BACKEND") or "docker"
    where = "" if backend else " (DEPLOYER_BACKEND)"
    return handle_errors(lambda: _open(kind, where, max_pool_size, endpoint), on_error)


def _open(kind: str, where: str, max_pool_size: int, endpoint: Any) -> Backend:
    from deployer.backends import open_backend
    from deployer.errors import UnknownBackend

    try:
        return open_backend(kind, max_pool_size=max_pool_size, endpoint=endpoint)
    except UnknownBackend as exc:
        raise UnknownBackend(f"{exc}{where}") from None


def engine_line(engine: Backend) -> str:
    return f"engine: {engine.endpoint.describe()}"


def plan_settings(secrets_dir: str | None, pruning: Pruning | None = None, *, adopt: tuple[str, ...] = (),
                  **rest: bool) -> PlanSettings:
    """The PlanSettings of the parsed options (no pruning unless given); `rest` are its flags
    (refresh, preflight, pull_for_preflight)."""
    from deployer.flows.prepare import PlanSettings

    return PlanSettings(secrets_dir=secrets_dir, **dataclasses.asdict(pruning or Pruning()), adopt=frozenset(adopt),
                        **rest)


def prepare(paths: list[str], settings: PlanSettings, *, parallelism: int = 8, engine: Any = None,
            fleet: Any = None, on_error: OnError = None) -> tuple[Prepared, Any]:
    """Plan the fleet (loaded from paths unless given) against the engine; warnings and notes to stderr.
    `on_error` is handed to handle_errors where this ends the command itself (loading, the engine)."""
    from deployer.flows.prepare import prepare as prepare_fleet

    fleet = fleet or load(paths, on_error)
    engine = engine or open_engine(max(16, parallelism * 2), fleet.backend, on_error)
    options = settings.plan_options(fleet, engine.traits)
    prepared = prepare_fleet(fleet, options, engine, refresh=settings.refresh, parallelism=parallelism,
                             preflight=settings.preflight, pull_for_preflight=settings.pull_for_preflight)
    for w in prepared.warnings:
        click.echo(w.format(), err=True)
    for note in prepared.notes:
        click.echo(note, err=True)
    return prepared, engine


def render_plan(plan: Any, fmt: str, color: bool) -> str:
    from deployer.cli import render

    return render.render_plan(plan, fmt, color=color)


def fleet_name(fleet: str) -> str:
    """The FLEET argument of the commands that read no manifest, checked (a DNS label)."""
    import re

    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fleet):
        fail(f"{fleet!r} is not a fleet name (a DNS label: lowercase letters, digits and '-')")
    return fleet
