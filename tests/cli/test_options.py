"""Options declared once (deployer/cli/options.py): apply and rollback take the same rollout
options with the same defaults, and option groups reach a command as one value."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import click
import pytest
from click.testing import CliRunner

from deployer.cli import main, options
from deployer.cli.options import Pruning, Rollout
from deployer.flows.apply import ApplyRequest
from deployer.flows.prepare import PlanSettings

ROLLOUT = ["--parallelism", "--wait-timeout", "--stop-timeout", "--lock-timeout", "--lock-ttl", "--max-failures",
           "--canary"]


def declared(command: str, flag: str) -> tuple[object, ...]:
    option = next(p for p in main.commands[command].params if flag in p.opts)
    assert isinstance(option, click.Option)
    return tuple(option.opts), repr(option.type), option.default, option.help


@pytest.mark.parametrize("flag", [*ROLLOUT, "--max-removals", "--secrets-dir", "--no-color"])
def test_rollback_takes_applys_options_with_the_same_defaults(flag: str) -> None:
    assert declared("rollback", flag) == declared("apply", flag)


def test_one_wait_timeout_for_apply_and_rollback() -> None:
    assert declared("apply", "--wait-timeout")[2] == declared("rollback", "--wait-timeout")[2] == 180


def test_the_groups_carry_the_fields_of_what_they_feed() -> None:
    """apply and rollback pass a Rollout as ApplyRequest(**asdict(rollout)), a Pruning into PlanSettings."""
    names = {f.name for f in dataclasses.fields(Rollout)}
    assert names <= {f.name for f in dataclasses.fields(ApplyRequest)}
    assert {f"--{n.replace('_', '-')}" for n in names} == set(ROLLOUT)
    assert {f.name for f in dataclasses.fields(Pruning)} <= {f.name for f in dataclasses.fields(PlanSettings)}


@dataclass(frozen=True)
class Parsed:
    name: str
    rollout: Rollout
    pruning: Pruning


def test_option_groups_reach_the_command_as_one_value() -> None:
    seen: list[Parsed] = []

    @click.command()
    @click.argument("name")
    @options.rollout_options
    @options.prune_options("the manifests")
    @options.parsed_as(Parsed)
    def command(args: Parsed) -> None:
        seen.append(args)

    result = CliRunner().invoke(command, ["demo", "--wait-timeout", "30", "--canary", "1", "--prune"])
    assert result.exit_code == 0, result.output
    assert seen == [Parsed("demo", Rollout(parallelism=4, wait_timeout=30.0, stop_timeout=10, lock_timeout=0.0,
                                           lock_ttl=60.0, max_failures=3, canary=1),
                           Pruning(prune=True, allow_empty=False, max_removals=None))]


def test_apply_parses_its_options_into_one_value() -> None:
    result = CliRunner().invoke(main, ["apply", "--yes"])
    assert result.exit_code == 1
    assert result.output == "error: give the manifest PATHS to apply, or --plan FILE\n"


def test_each_rollout_default_is_declared_once() -> None:
    """Review of issue 24 (issue 18: each default declared once): the CLI's options, ApplyRequest and
    the applier's ApplyOptions agree, all read from core.defaults; was 180 s / 3 on the CLI and in
    ApplyRequest but 60 s / no budget in ApplyOptions."""
    from deployer.runtime.applier import ApplyOptions

    request = {f.name: f.default for f in dataclasses.fields(ApplyRequest)}
    applier = {f.name: f.default for f in dataclasses.fields(ApplyOptions)}
    assert {"parallelism", "wait_timeout", "stop_timeout", "max_failures", "canary"} <= set(applier)
    for name in (f.name for f in dataclasses.fields(Rollout)):
        cli = declared("apply", "--" + name.replace("_", "-"))[2]
        assert request[name] == cli, name
        assert applier.get(name, cli) == cli, name
    out = CliRunner().invoke(main, ["apply", "--help"], terminal_width=200).output
    assert "default: 180;" in out and "default: 60;" in out and "180.0" not in out, out  # as before

    from deployer.core import defaults
    assert {name: getattr(defaults, name.upper()) for name in request if name.upper() in vars(defaults)} == \
        {f.name: declared("apply", "--" + f.name.replace("_", "-"))[2] for f in dataclasses.fields(Rollout)}
