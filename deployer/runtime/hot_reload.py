"""A hot reload of a running gateway: hand it its new config and wait for its own word that it
applied it (deployer.openclaw.reload reads the verdict from its log lines)."""

from __future__ import annotations

import time
from collections.abc import Callable

from deployer.backends.base import Backend
from deployer.core.model import BotSpec
from deployer.openclaw.reload import reload_outcome
from deployer.secrets.checks import redact


class ReloadFailed(Exception):
    """The gateway refused the config, stopped, or said nothing in time."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def reload_gateway(engine: Backend, container_id: str, bot: BotSpec, *, write: Callable[[], None],
                   timeout: float, secrets_dir: str | None) -> str:
    """Call `write` (it writes the new config into the mounted directory) and poll the gateway's
    logs until it reports the outcome; its line on success, ReloadFailed otherwise."""
    since = time.time()
    write()
    deadline = time.monotonic() + timeout
    while True:
        verdict = reload_outcome(engine.logs_since(container_id, since - 1), since - 0.5)
        if verdict is not None:
            ok, line = verdict
            if not ok:
                raise ReloadFailed("the gateway did not apply the new config: " + redact(line, bot, secrets_dir))
            return line
        st = engine.inspect(container_id)
        if not st.running or st.restart_count > 0:
            raise ReloadFailed(f"the gateway stopped while reloading its config (status {st.status})")
        if time.monotonic() >= deadline:
            raise ReloadFailed(f"the gateway did not report a config reload within {timeout:.0f}s")
        time.sleep(0.5)
