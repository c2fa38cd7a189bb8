"""The `deployer` command group: the global options (-H/--host, -c/--context, --no-color, taken
before or after any command), usage errors that exit 1, and the commands, one module per group of them:

    validate  validate                  offline: manifests and secret files
    plan      plan, drift, status       compare with the engine, change nothing, take no lock
    apply     apply, rollback           change bots under the fleet lock, same rollout options
    records   unlock, history           the fleet's lock and history of applies on the engine
    secret    secret set                write one secret file
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from deployer import __version__
from deployer.cli import options
from deployer.cli.apply import apply, rollback
from deployer.cli.exits import EXIT_ERROR
from deployer.cli.plan import drift, plan, status
from deployer.cli.records import history, unlock
from deployer.cli.secret import secret
from deployer.cli.validate import validate

EPILOG = """\b
Exit codes:
  0    success; no changes (plan --detailed-exitcode), no drift (drift)
  1    an error, also a usage error (unknown option, missing argument)
  2    changes found (plan --detailed-exitcode), drift found (drift)
  130  apply or rollback interrupted (Ctrl-C, SIGTERM, SIGHUP)

\b
-H/--host, -c/--context and --no-color go before or after the command.
Shell completion (bash; zsh_source, fish_source for the others):
  eval "$(_DEPLOYER_COMPLETE=bash_source deployer)"
"""


@contextmanager
def _usage_errors_exit_1() -> Iterator[None]:
    """A usage error ends with exit 1, as in Terraform: 2 means "changes/drift found", and a typo in
    a scheduled `drift` job must not read as drift. click gives every UsageError exit code 2."""
    try:
        yield
    except click.UsageError as exc:
        exc.exit_code = EXIT_ERROR
        raise


class DeployerGroup(click.Group):
    """The root group: every usage error, of the group or of any command below it, exits 1."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with _usage_errors_exit_1():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _usage_errors_exit_1():  # the commands' own parsing happens here, inside the group's invoke
            return super().invoke(ctx)


@click.group(cls=DeployerGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(__version__, prog_name="deployer")
@options.global_options
def main() -> None:
    """Declarative deployer for fleets of OpenClaw chat bots on Docker.

    Manifests (apiVersion botmaker/v1, kind Bot / Fleet) live in git; validate them, plan
    the changes against the engine, and apply exactly that plan.

    The engine is chosen as the docker CLI chooses it: --host, else --context, else
    DOCKER_HOST (with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH), else DOCKER_CONTEXT, else the
    currentContext of $DOCKER_CONFIG/config.json (~/.docker), else the local socket. DOCKER_HOST
    wins over DOCKER_CONTEXT and the current context. ssh:// uses the system ssh client and your
    ssh config (keys, known_hosts); it never prompts.
    """


for command in (validate, plan, drift, status, apply, rollback, unlock, history, secret):
    main.add_command(command)
