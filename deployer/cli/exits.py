"""How a command ends: an expected failure is one located line (or a list of problems) on stderr
and exit 1; the commands say which other codes they use."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from deployer.errors import DeployerError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def handle_errors(run: Callable[[], Any], on_error: Callable[[DeployerError], None] | None = None) -> Any:
    """Every expected failure becomes one located line (or a list of problems) and exit 1;
    `on_error` may say it once more in the command's output format (plan --format json)."""
    try:
        return run()
    except DeployerError as exc:
        say_error(exc)
        if on_error is not None:
            on_error(exc)
        sys.exit(EXIT_ERROR)


def say_error(exc: DeployerError) -> None:
    """One located line; invalid manifests or secrets list every problem first."""
    from deployer.cli.render import render_problems
    from deployer.errors import InvalidManifests, InvalidSecrets

    if isinstance(exc, (InvalidManifests, InvalidSecrets)):
        click.echo(render_problems(exc.problems, "text"), err=True)
    click.echo(f"error: {exc}", err=True)
