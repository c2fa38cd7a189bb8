"""deployer: GitOps-style declarative deployer for fleets of OpenClaw chat bots on Docker."""

__version__ = "0.1.0"
