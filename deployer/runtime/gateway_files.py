"""An OpenClaw gateway's files on the host: its state dir, the config the deployer generates for
it, and putting the old config back when a replace is rolled back."""

from __future__ import annotations

import os

from deployer.core.model import BotSpec, container_uid
from deployer.core.vocabulary import OPENCLAW_UID
from deployer.openclaw.config import CONFIG_FILE, CONFIG_MOUNT, STATE_MOUNT, config_bytes, render_config
from deployer.openclaw.container import config_path, host_dir
from deployer.runtime.hostfiles import ensure_dir, write_atomic


def prepare_host(bot: BotSpec, image_users: dict[str, str | None] | None) -> None:
    """The bot's state dir (0700, owned by the gateway's uid; never deleted) and its config."""
    state = host_dir(bot, STATE_MOUNT)
    if state:
        uid = container_uid(bot, image_users) or OPENCLAW_UID
        ensure_dir(state, mode=0o700, uid=uid, gid=uid)
    write_config(bot)


def write_config(bot: BotSpec) -> None:
    """The generated config, written atomically (a watching gateway sees the old file or the new)."""
    directory = host_dir(bot, CONFIG_MOUNT)
    assert directory is not None
    ensure_dir(directory, mode=0o755)
    write_atomic(f"{directory}/{CONFIG_FILE}", config_bytes(render_config(bot)), mode=0o644)


def restore_config(bot: BotSpec, old: bytes | None) -> None:
    """Put back the config the old container ran with (`old`: its bytes as the plan found them,
    None: there was none), so a rollback does not leave it the new one."""
    path = config_path(bot)
    if path is None:
        return
    if old is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    else:
        write_atomic(path, old, mode=0o644)
