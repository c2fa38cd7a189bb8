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
@options.strip_newline_option
@options.global_options
def secret_set(bot: str, name: str, paths: tuple[str, ...], secrets_dir: str | None, uid: int | None,
               strip_newline: bool) -> None:
    """Write <secretsDir>/BOT/NAME from standard input (never from an argument, which would land in
    shell history and `ps`): a new file 0600 owned by the container's uid, fsynced, renamed into
    place (no hard link), with the directories created 0700. A bot directory that exists with
    another owner or mode is set to the container's uid and 0700 (said on stderr).

    Example: printf %s "$TOKEN" | deployer secret set support-bot TELEGRAM_BOT_TOKEN -f manifests/
    """
    from deployer.flows.secret_set import set_secret

    if sys.stdin.isatty():
        fail("the value is read from standard input; pipe it in, e.g.: "
             f"printf %s \"$VALUE\" | deployer secret set {bot} {name} ...")
    value = sys.stdin.buffer.read()
    one_line = _one_line_with_break(value)
    if strip_newline:
        value = value[:-2] if value.endswith(b"\r\n") else value[:-1] if value.endswith(b"\n") else value
    fleet = load(list(paths)) if paths else None
    path, warning = handle_errors(lambda: set_secret(bot, name, value, fleet=fleet, secrets_dir=secrets_dir,
                                                     uid=uid, notify=lambda note: click.echo(note, err=True)))
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if one_line and not strip_newline:
        click.echo(f"warning: bot {bot}: secret {name}: the value ends with a line break (as `echo` adds), "
                   "written as is; pass --strip-newline to drop it, or pipe the value with printf %s", err=True)
    click.echo(f"wrote {path} ({len(value)} bytes, mode 0600)")


def _one_line_with_break(value: bytes) -> bool:
    """A one-line value followed by a line break: what `echo "$TOKEN" |` gives. (A multi-line value,
    a PEM key or a JSON credential, ends with one by nature.)"""
    body = value[:-2] if value.endswith(b"\r\n") else value[:-1] if value.endswith(b"\n") else None
    return body is not None and bool(body.strip()) and b"\n" not in body
