"""The commands about what a fleet's applies leave on the engine besides its containers: the lock
(unlock) and the history of applies (history). They read no manifest and change no bot."""

from __future__ import annotations

import sys

import click

from deployer.cli import options
from deployer.cli.exits import EXIT_OK, fail, handle_errors
from deployer.cli.shared import fleet_name, open_engine


@click.command()
@options.fleet_argument
@options.force_option
@options.global_options
def unlock(fleet: str, force: bool) -> None:
    """Remove a fleet's engine-side lock left by a dead run (needs --force)."""
    from deployer.runtime.lock import current_holder, force_unlock

    engine = open_engine()
    if not force:
        holder = handle_errors(lambda: current_holder(engine, fleet))
        if holder is None:
            click.echo(f"fleet {fleet} is not locked")
            sys.exit(EXIT_OK)
        fail(f"fleet {fleet} is locked by {holder}; pass --force to remove the lock (only when that run is dead)")
    unlocked = handle_errors(lambda: force_unlock(engine, fleet))
    if unlocked is None:
        click.echo(f"fleet {fleet} was not locked")
        return
    click.echo(f"removed the lock of fleet {fleet} held by {unlocked.holder}")
    if unlocked.alive is not None:
        alive = unlocked.alive
        click.echo(f"That run showed life {alive.age:.0f}s ago. If it is still going, it starts no new change, and "
                   f"the next apply waits until it has finished the ones under way (or stayed silent for its TTL, "
                   f"{alive.ttl:.0f}s) before it changes anything.")


@click.command()
@options.fleet_argument
@options.history_format_option
@options.limit_option
@options.global_options
@options.history_bots_option
@options.history_entry_option
def history(fleet: str, fmt: str, limit: int, bots: bool, entry: str | None) -> None:
    """The fleet's last applies, newest first: entry, revision, time, who, CI job, result, and
    which bots each one changed and how. Every bot's spec hash and image ID with --bots, or for
    one entry with --entry N; --format json has them all. Kept on the engine (the newest 20)."""
    from deployer.cli.render import render_history
    from deployer.runtime.history import find_entry, read_history

    entries = handle_errors(lambda: read_history(open_engine(), fleet_name(fleet)))
    if entry is not None:
        entries = [handle_errors(lambda: find_entry(entries, entry))]
    click.echo(render_history(fleet, entries[:limit], fmt, bots=bots or entry is not None))
