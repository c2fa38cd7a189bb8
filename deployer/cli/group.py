"""The `deployer` command group: the engine chosen for every command (-H/--context) and the
commands, one module per group of them:

    validate  validate                  offline: manifests and secret files
    plan      plan, drift, status       compare with the engine, change nothing, take no lock
    apply     apply, rollback           change bots under the fleet lock, same rollout options
    records   unlock, history           the fleet's lock and history of applies on the engine
    secret    secret set                write one secret file
"""

from __future__ import annotations

import click

from deployer import __version__
from deployer.cli import options
from deployer.cli.apply import apply, rollback
from deployer.cli.plan import drift, plan, status
from deployer.cli.records import history, unlock
from deployer.cli.secret import secret
from deployer.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deployer")
@options.host_option
@options.context_option
@click.pass_context
def main(ctx: click.Context, engine_host: str | None, engine_context: str | None) -> None:
    """Declarative deployer for fleets of OpenClaw chat bots on Docker.

    Manifests (apiVersion botmaker/v1, kind Bot / Fleet) live in git; validate them, plan
    the changes against the engine, and apply exactly that plan.

    The engine is chosen as the docker CLI chooses it: --host, else --context, else
    DOCKER_HOST (with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH), else DOCKER_CONTEXT, else the
    currentContext of $DOCKER_CONFIG/config.json (~/.docker), else the local socket. DOCKER_HOST
    wins over DOCKER_CONTEXT and the current context. ssh:// uses the system ssh client and your
    ssh config (keys, known_hosts); it never prompts.

    Exit codes: 0 success, 1 error, 2 changes/drift found (plan --detailed-exitcode, drift).
    """
    ctx.obj = {"host": engine_host, "context": engine_context}


for command in (validate, plan, drift, status, apply, rollback, unlock, history, secret):
    main.add_command(command)
