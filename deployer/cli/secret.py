"""`deployer secret set`: write one secret file of a bot, the value read from standard input."""

from __future__ import annotations

import sys

import click

from deployer.cli import options
from deployer.cli.exits import fail, handle_errors
from deployer.cli.shared import load


@click.group()
def secret() -> None:
    """Write a bot's secret files the way the gateway and the checks demand."""


@secret.command("set")
@click.argument("bot")
@click.argument("name")
@options.manifests_option
@options.secrets_dir_option
@options.uid_option
def secret_set(bot: str, name: str, paths: tuple[str, ...], secrets_dir: str | None, uid: int | None) -> None:
    """Write <secretsDir>/BOT/NAME from standard input (never from an argument, which would land in
    shell history and `ps`): a new file 0600 owned by the container's uid, fsynced, renamed into
    place (no hard link), with the directories created 0700.

    Example: printf %s "$TOKEN" | deployer secret set support-bot TELEGRAM_BOT_TOKEN -f manifests/
    """
    from deployer.flows.secret_set import set_secret

    if sys.stdin.isatty():
        fail("the value is read from standard input; pipe it in, e.g.: "
             f"printf %s \"$VALUE\" | deployer secret set {bot} {name} ...")
    value = sys.stdin.buffer.read()
    fleet = load(list(paths)) if paths else None
    path, warning = handle_errors(lambda: set_secret(bot, name, value, fleet=fleet, secrets_dir=secrets_dir,
                                                     uid=uid))
    if warning:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote {path} ({len(value)} bytes, mode 0600)")
