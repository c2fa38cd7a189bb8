"""`deployer secret set`: one secret file written as OpenClaw's file provider and the checks want."""

from __future__ import annotations

import os
import re

from deployer.core.model import FleetSpec, parse_uid
from deployer.core.vocabulary import MAX_SECRET_BYTES, OPENCLAW_UID, SECRETS_MOUNT
from deployer.errors import DeployerError
from deployer.runtime.hostfiles import ensure_dir, write_atomic

SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")  # as in the schema: the file name is the secret name
BOT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def set_secret(bot: str, name: str, value: bytes, *, fleet: FleetSpec | None, secrets_dir: str | None,
               uid: int | None) -> tuple[str, str | None]:
    """Write the file; (its path, a warning or None)."""
    if not BOT_NAME.fullmatch(bot):
        raise DeployerError(f"{bot!r} is not a bot name (lower-case letters, digits and '-')")
    if not SECRET_NAME.fullmatch(name):
        raise DeployerError(f"{name!r} is not a secret name (upper case, digits and '_', starting with a letter)")
    if not value.strip():
        raise DeployerError("the value on standard input is empty; nothing was written")
    if len(value) > MAX_SECRET_BYTES:
        raise DeployerError(f"the value is larger than {MAX_SECRET_BYTES} bytes; nothing was written")
    spec = next((b for b in fleet.bots if b.name == bot), None) if fleet else None
    warning = None
    if fleet is not None and spec is None:
        raise DeployerError(f"no manifest declares bot {bot}; nothing was written")
    if spec is not None and name not in spec.secrets:
        warning = f"bot {bot} does not declare {name} in spec.secrets (the file is still mounted at {SECRETS_MOUNT})"
    root = secrets_dir or os.environ.get("DEPLOYER_SECRETS_DIR") or (fleet.secrets_dir if fleet else None)
    if not root:
        raise DeployerError("no secrets directory: pass -f MANIFESTS (with a Fleet's spec.secretsDir) or --secrets-dir")
    if not os.path.isabs(root):
        raise DeployerError(f"secrets directory {root} must be an absolute path")
    owner = uid if uid is not None else (parse_uid(spec.user) if spec and spec.user else None)
    if owner is None:
        owner = OPENCLAW_UID
    ensure_dir(root, mode=0o700)
    bot_dir = os.path.join(root, bot)
    ensure_dir(bot_dir, mode=0o700, uid=owner, gid=owner)
    path = os.path.join(bot_dir, name)
    write_atomic(path, value, mode=0o600, uid=owner, gid=owner)
    return path, warning
