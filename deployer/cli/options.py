"""Every option of the command line, declared once: its name, type, default and help in one place.

A command lists the declarations it takes (pip-tools' scripts/options.py is the model). Options
that travel together are one decorator that also hands them to the command as one value:
`rollout_options` as a `Rollout` (apply and rollback, so both have the same defaults),
`prune_options` as a `Pruning`. `parsed_as(cls)` hands a command all its parameters as one `cls`.
Only click and the renderer registry are imported here: `deployer --help` stays light.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from deployer.core import defaults

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def parsed_as(cls: type[Any]) -> Decorator:
    """Hand the command its parsed parameters as one `cls` (a dataclass with a field per parameter).
    Put it right above the function, below the option declarations."""
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def parsed(**params: Any) -> Any:
            return command(cls(**params))
        return parsed
    return decorate


def _grouped(name: str, cls: type[Any], *declarations: Decorator) -> Decorator:
    """Declare these options and hand the command their values as one `cls`, keyword `name`."""
    fields = [f.name for f in dataclasses.fields(cls)]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def grouped(**params: Any) -> Any:
            params[name] = cls(**{field: params.pop(field) for field in fields})
            return command(**params)
        declared: Callable[..., Any] = grouped
        for declare in reversed(declarations):
            declared = declare(declared)
        return declared
    return decorate


# --- the global options: before or after the command --------------------------------------------

def _remember(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """Keep a global option's value in the root context's obj, where open_engine and wants_color
    look; given twice (before and after the command) with two values, it is a usage error."""
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None or value is False:
            return value
        chosen = ctx.find_root().ensure_object(dict)
        if chosen.get(key) not in (None, value):
            raise click.BadOptionUsage(
                param.name or key, f"{param.opts[-1]} is given twice, as {chosen[key]} and as {value}: give it once")
        chosen[key] = value
        return value
    return callback


host_option = click.option(
    "-H", "--host", "engine_host", metavar="URL", default=None, expose_value=False, callback=_remember("host"),
    help="Engine to use: unix:///path, tcp://host:2376, ssh://user@host[:port]. Wins over everything.")
context_option = click.option(
    "-c", "--context", "engine_context", metavar="NAME", default=None, expose_value=False,
    callback=_remember("context"),
    help="docker context to use (from the docker CLI's context store); wins over DOCKER_HOST.")
no_color_option = click.option(
    "--no-color", is_flag=True, expose_value=False, callback=_remember("no_color"),
    help="No colour (also when NO_COLOR is set).")


def global_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """-H/--host, -c/--context and --no-color: taken by the group and by every command alike (before
    or after the command's name), all kept in one place (the root context's obj)."""
    for declare in (no_color_option, context_option, host_option):
        command = declare(command)
    return command


# --- what to read and how to print it ------------------------------------------------------------

paths_argument = click.argument("paths", nargs=-1, required=True, type=click.Path())
optional_paths_argument = click.argument("paths", nargs=-1, required=False, type=click.Path())
fleet_argument = click.argument("fleet")
secrets_dir_option = click.option(
    "--secrets-dir", type=click.Path(), default=None, envvar="DEPLOYER_SECRETS_DIR", show_envvar=True,
    help="Host directory with one sub-directory of secret files per bot (overrides the Fleet's spec.secretsDir).")


class FormatChoice(click.Choice):
    """The registry's formats for one kind of report, asked when click first needs them (a
    command's --help, parsing its --format), so that `deployer --help` and commands that are
    not run do not import the reporters."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]  # read-only: asked, never set
        from deployer.cli.render import formats

        return tuple(formats(self.kind))


def format_option(kind: str) -> Decorator:
    """--format, with the choices of the renderer registry for this kind of report."""
    return click.option("--format", "fmt", type=FormatChoice(kind), default="text", show_default=True)


history_format_option = format_option("history")


def yes_option(verb: str) -> Decorator:
    """--yes/-y: do it without asking; `verb` is what is done ("Apply", "Roll back")."""
    return click.option("--yes", "-y", is_flag=True, help=f"{verb} without asking for confirmation.")


# --- planning --------------------------------------------------------------------------------------

refresh_option = click.option(
    "--refresh", is_flag=True,
    help="Inspect every container and compare its real configuration (drift); apply repairs what it finds.")
no_preflight_option = click.option(
    "--no-preflight", is_flag=True,
    help="Skip the gateway's own checks (openclaw config validate, secrets audit) that run offline in the "
         "bot's image for every OpenClaw bot the plan creates, replaces or reloads.")
adopt_option = click.option(
    "--adopt", "adopt", multiple=True, metavar="BOT",
    help="Take over the container holding botmaker-BOT that no fleet manages (it is replaced).")


@dataclass(frozen=True)
class Pruning:
    """Whether the fleet's containers of bots it no longer has are removed, and the guards on that."""

    prune: bool = False
    allow_empty: bool = False
    max_removals: int | None = None


def prune_options(desired: str) -> Decorator:
    """--prune, --allow-empty, --max-removals as one `pruning`; `desired` is where the bots are
    declared ("the manifests", "the history entry")."""
    return _grouped(
        "pruning", Pruning,
        click.option("--prune", is_flag=True,
                     help=f"Remove the fleet's containers whose bot is not in {desired} (last, and only if "
                          "everything else succeeded)."),
        click.option("--allow-empty", is_flag=True, help=f"Allow --prune with zero bots in {desired}."),
        click.option("--max-removals", type=click.IntRange(0), default=None,
                     help="Refuse a plan that would remove more than N containers."),
    )


# --- rollout (apply and rollback) ----------------------------------------------------------------

@dataclass(frozen=True)
class Rollout:
    """How the changes are carried out and the fleet lock is held; the fields are ApplyRequest's."""

    parallelism: int
    wait_timeout: float
    stop_timeout: int
    lock_timeout: float
    lock_ttl: float
    max_failures: int
    canary: int


# the defaults are core.defaults' (why --wait-timeout is 180 s for apply and rollback: see there)
rollout_options = _grouped(
    "rollout", Rollout,
    click.option("--parallelism", type=click.IntRange(1, 64), default=defaults.PARALLELISM, show_default=True,
                 help="How many bots are changed at once; a change holds its place until its container is "
                      "ready or failed."),
    click.option("--wait-timeout", type=click.FloatRange(1, 3600), default=defaults.WAIT_TIMEOUT, show_default=True,
                 help="Seconds to wait for a started container to run (and be healthy); a real OpenClaw gateway "
                      "needs 20-70 s on a small host, depending on its load."),
    click.option("--stop-timeout", type=click.IntRange(0, 3600), default=defaults.STOP_TIMEOUT, show_default=True,
                 help="Seconds a container gets to stop gracefully before it is killed."),
    click.option("--lock-timeout", type=click.FloatRange(0), default=defaults.LOCK_TIMEOUT, show_default=True,
                 help="Seconds to wait for another run's lock on this fleet (0: fail at once)."),
    click.option("--lock-ttl", type=click.FloatRange(5), default=defaults.LOCK_TTL, show_default=True,
                 help="Seconds without a heartbeat after which our lock counts as abandoned and may be taken "
                      "over; the run renews it every TTL/4."),
    click.option("--max-failures", type=click.IntRange(1), default=defaults.MAX_FAILURES, show_default=True,
                 help="Failure budget: once N changes failed (each is rolled back), no new change starts; "
                      "the ones under way finish."),
    click.option("--canary", type=click.IntRange(0), default=defaults.CANARY, show_default=True,
                 help="Apply the first K changes (in plan order) first; go on only if all of them succeeded."),
)


# --- one command's own ---------------------------------------------------------------------------

check_secrets_option = click.option(
    "--secrets", "check_secrets", is_flag=True,
    help="Also check every bot's secret files (paths, modes, owners, conflicts); needs no engine.")
out_option = click.option(
    "--out", "out_file", type=click.Path(dir_okay=False), default=None,
    help="Save the plan (with digests of manifests and engine state) for `apply --plan`.")
detailed_exitcode_option = click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes, 0 when none.")
plan_file_option = click.option(
    "--plan", "plan_file", type=click.Path(dir_okay=False), default=None,
    help="Apply exactly this saved plan (from `plan --out`); refused if manifests or engine moved since.")
revision_option = click.option(
    "--revision", default=None, help="Revision to stamp (default: git HEAD of the manifests' repository).")
to_option = click.option(
    "--to", "to", required=True, metavar="ENTRY",
    help="The history entry (its number, see `deployer history`) or a revision to go back to.")
dry_run_option = click.option("--dry-run", is_flag=True, help="Show the rollback's plan only: no lock, no change.")
force_option = click.option("--force", is_flag=True, required=False, help="Remove the lock whoever holds it.")
limit_option = click.option("--limit", type=click.IntRange(1), default=20, show_default=True,
                            help="Show the newest N entries.")
history_bots_option = click.option("--bots", "bots", is_flag=True,
                                   help="List every bot of each entry: state, spec hash, image and image ID.")
history_entry_option = click.option(
    "--entry", "entry", metavar="ENTRY", default=None,
    help="Show only this entry (its number or a revision, as `rollback --to` takes), with every bot.")
manifests_option = click.option(
    "-f", "--manifests", "paths", multiple=True, type=click.Path(),
    help="The manifests (for the Fleet's spec.secretsDir and the bot's uid); repeatable.")
uid_option = click.option(
    "--uid", type=click.IntRange(0), default=None,
    help="Owner of the file (default: the bot's spec.user, else 1000, OpenClaw's uid).")
strip_newline_option = click.option(
    "--strip-newline", is_flag=True,
    help="Drop the line break at the end of the value (what `echo` adds). Without it the value is written "
         "byte for byte, with a warning when a one-line value ends with one.")
