"""The command line: click commands, options declared once, and the reporters (render)."""

from deployer.cli.commands import main

__all__ = ["main"]
