"""Thin click commands: parse options, call the pieces, map DeployerError to one line and an exit code."""

from __future__ import annotations

import sys

import click

from . import __version__
from .problems import DeployerError

FORMATS_VALIDATE = ["text", "json"]


def _fail(message: str) -> "NoReturn":  # noqa: F821
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deployer")
def main() -> None:
    """Declarative deployer for fleets of OpenClaw chat bots on Docker.

    Manifests (apiVersion botmaker/v1, kind Bot / Fleet) live in git; validate them, plan
    the changes against the engine, and apply exactly that plan.
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS_VALIDATE), default="text", show_default=True)
def validate(paths: tuple[str, ...], fmt: str) -> None:
    """Check manifests against the schemas and the semantic rules; report every problem.

    Exit 0 when there is no error (warnings allowed), 1 when there is any.
    """
    from .manifest import load_paths
    from .render import render_problems
    from .validation import validate_documents

    documents, load_problems = load_paths(list(paths))
    result = validate_documents(documents, load_problems)
    out = render_problems(result.problems, fmt, bots=len(result.fleet.bots) if result.fleet else None)
    if out:
        click.echo(out)
    sys.exit(1 if result.errors else 0)
