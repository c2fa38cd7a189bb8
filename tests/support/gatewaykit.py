"""Helpers for tests that run the REAL OpenClaw gateway image (tests/gateway).

The image is built by ``scripts/openclaw-image.sh`` (called by ``scripts/engine-up.sh``).
Import as ``from tests.support.gatewaykit import ...``.

Facts about the image the helpers encode (see the script's header):
    CLI          ``node dist/index.js ...`` from WORKDIR /app (what upstream's compose runs)
    user         uid/gid 1000 (``node``), HOME=/home/node
    gateway      ``node dist/index.js gateway run`` (the image's CMD), port 18789
    config       OPENCLAW_CONFIG_PATH=/etc/openclaw/openclaw.json, the directory mounted ro
    state        OPENCLAW_STATE_DIR=/home/node/.openclaw, rw, owned 1000, mode 0700
    secrets      /run/secrets/<NAME>, each 0600 owned 1000, dir 0700 owned 1000, mounted ro
    healthcheck  exec form, node fetches http://127.0.0.1:18789/healthz (no shell involved)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPENCLAW_VERSION = "2026.9.6"
OPENCLAW_IMAGE = f"deployer/openclaw:{OPENCLAW_VERSION}"
GATEWAY_PORT = 18789
GATEWAY_UID = 1000
GATEWAY_GID = 1000
CLI = ["node", "dist/index.js"]
CONFIG_DIR = "/etc/openclaw"
CONFIG_PATH = f"{CONFIG_DIR}/openclaw.json"
STATE_DIR = "/home/node/.openclaw"
SECRETS_DIR = "/run/secrets"
TEST_LABEL = "deployer.test"  # every container a gateway test creates carries it
HINT = (
    "Run the suite with `bash scripts/test.sh` (or `bash scripts/engine-up.sh`, which builds "
    f"{OPENCLAW_IMAGE} with scripts/openclaw-image.sh)."
)


def gateway_env() -> dict[str, str]:
    """Environment for a gateway configured only from mounted files."""
    return {
        "OPENCLAW_CONFIG_PATH": CONFIG_PATH,
        # Always with the config path: otherwise media/ lands next to the config file.
        "OPENCLAW_STATE_DIR": STATE_DIR,
        # The config is mounted read-only: no last-known-good promotion attempts.
        "OPENCLAW_CONFIG_READONLY": "1",
    }


def secret_ref(provider: str) -> dict[str, str]:
    return {"source": "file", "provider": provider, "id": "value"}


def minimal_config(model: str = "anthropic/claude-sonnet-4-5") -> dict[str, Any]:
    """A valid gateway config: local mode, bind lan, token auth and an Anthropic key, both
    read from files under /run/secrets. No channels (an unreachable Telegram makes SIGTERM
    hang for minutes)."""
    return {
        "gateway": {
            "mode": "local",
            "port": GATEWAY_PORT,
            "bind": "lan",
            "auth": {"mode": "token", "token": secret_ref("gateway_token")},
        },
        "agents": {"defaults": {"model": {"primary": model}}},
        "models": {"providers": {"anthropic": {"apiKey": secret_ref("anthropic_key")}}},
        "secrets": {
            "providers": {
                "gateway_token": {
                    "source": "file",
                    "path": f"{SECRETS_DIR}/OPENCLAW_GATEWAY_TOKEN",
                    "mode": "singleValue",
                },
                "anthropic_key": {
                    "source": "file",
                    "path": f"{SECRETS_DIR}/ANTHROPIC_API_KEY",
                    "mode": "singleValue",
                },
            }
        },
    }


@dataclass(frozen=True)
class BotDirs:
    """Host directories of one gateway, laid out the way the gateway accepts them."""

    config: Path
    state: Path
    secrets: Path

    @property
    def config_file(self) -> Path:
        return self.config / "openclaw.json"

    def volumes(self) -> dict[str, dict[str, str]]:
        """docker SDK ``volumes=`` mapping (config and secrets read-only)."""
        return {
            str(self.config): {"bind": CONFIG_DIR, "mode": "ro"},
            str(self.state): {"bind": STATE_DIR, "mode": "rw"},
            str(self.secrets): {"bind": SECRETS_DIR, "mode": "ro"},
        }


def write_bot_dirs(root: Path, config: dict[str, Any], secrets: dict[str, str]) -> BotDirs:
    """Create config/ (0755, file 0644), state/ (0700, uid 1000) and secrets/ (0700, files
    0600, all uid 1000) under ``root``. Needs root (chown)."""
    dirs = BotDirs(root / "config", root / "state", root / "secrets")
    for d, mode in ((dirs.config, 0o755), (dirs.state, 0o700), (dirs.secrets, 0o700)):
        d.mkdir(parents=True)
        os.chmod(d, mode)  # mkdir's mode is filtered by the umask
    dirs.config_file.write_text(json.dumps(config, indent=2) + "\n")
    os.chmod(dirs.config_file, 0o644)
    for name, value in secrets.items():
        path = dirs.secrets / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        os.chmod(path, 0o600)
        os.chown(path, GATEWAY_UID, GATEWAY_GID)
    os.chown(dirs.state, GATEWAY_UID, GATEWAY_GID)
    os.chown(dirs.secrets, GATEWAY_UID, GATEWAY_GID)
    return dirs
