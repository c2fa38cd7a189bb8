"""The command line: the click group (group), options declared once (options), one module per group
of commands (validate, plan, apply, records, secret), and the reporters (render)."""

from deployer.cli.group import main

__all__ = ["main"]
