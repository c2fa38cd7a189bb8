"""`deployer validate`: the manifests (and optionally the secret files) checked offline; no engine."""

from __future__ import annotations

import sys

import click

from deployer.cli import options
from deployer.cli.exits import EXIT_ERROR, EXIT_OK


@click.command()
@options.paths_argument
@options.format_option("problems")
@options.check_secrets_option
@options.secrets_dir_option
@options.global_options
def validate(paths: tuple[str, ...], fmt: str, check_secrets: bool, secrets_dir: str | None) -> None:
    """Check manifests against the schemas and the semantic rules; report every problem.

    Exit 0 when there is no error (warnings allowed), 1 when there is any.
    """
    from deployer.cli.render import render_problems
    from deployer.manifests.fastpath import load_and_validate

    result = load_and_validate(list(paths))
    problems = list(result.problems)
    if check_secrets and result.fleet is not None:
        from deployer.flows.prepare import chosen_secrets_dir
        from deployer.secrets.checks import check_fleet_secrets

        chosen = chosen_secrets_dir(result.fleet, secrets_dir)
        problems += check_fleet_secrets(result.fleet, chosen, create_key=False).problems
    out = render_problems(problems, fmt, bots=len(result.fleet.bots) if result.fleet else None)
    if out:
        click.echo(out)
    sys.exit(EXIT_ERROR if any(p.is_error for p in problems) else EXIT_OK)
