"""The container an OpenClaw bot needs around its gateway: environment, mounts, healthcheck.

Applied to the model once, after validation, so the planner, the hash and the backend see one
ordinary BotSpec: whatever is added here is part of the container's canonical spec.
"""

from __future__ import annotations

import dataclasses

from deployer.core.model import BotSpec, FleetSpec, Healthcheck, Volume
from deployer.core.problems import Problem
from deployer.openclaw.config import CONFIG_FILE, CONFIG_MOUNT, GATEWAY_ENV, STATE_MOUNT

SECOND = 1_000_000_000


def default_healthcheck(port: int) -> Healthcheck:
    """Exec form: images without a shell (the gateway's may have none) still run it."""
    probe = (f"fetch('http://127.0.0.1:{port}/healthz')"
             ".then(r=>process.exit(r.ok?0:1),()=>process.exit(1))")
    return Healthcheck(test=("CMD", "node", "-e", probe), interval_ns=10 * SECOND, timeout_ns=5 * SECOND,
                       retries=3, start_period_ns=60 * SECOND)


def bot_dir(root: str, bot: str) -> str:
    return root.rstrip("/") + "/" + bot


def with_gateway(bot: BotSpec, fleet: FleetSpec) -> BotSpec:
    """The bot's container with the gateway's environment, config and state mounts added."""
    assert fleet.config_dir and fleet.state_dir
    env = dict(bot.env)
    env.update(GATEWAY_ENV)
    volumes = bot.volumes + (
        Volume(bot_dir(fleet.config_dir, bot.name), CONFIG_MOUNT, True),
        Volume(bot_dir(fleet.state_dir, bot.name), STATE_MOUNT, False),
    )
    return dataclasses.replace(
        bot,
        env=tuple(sorted(env.items())),
        volumes=volumes,
        healthcheck=bot.healthcheck or default_healthcheck(bot.gateway_port),
        # The gateway's lease on its state dir names its host: a killed gateway (an unreachable
        # Telegram makes SIGTERM hang, so stops end in SIGKILL) is recognised as dead by its
        # replacement only when both have the same hostname; otherwise the new one refuses to
        # start for up to 5 minutes ("Another Gateway owner lease is still active").
        hostname=bot.name,
    )


def expand_fleet(fleet: FleetSpec) -> tuple[FleetSpec, list[Problem]]:
    """Every OpenClaw bot with its gateway container; problems when the Fleet lacks the
    directories they need (checked here, not by validate, like spec.secretsDir)."""
    problems = []
    bots = []
    for bot in fleet.bots:
        if not bot.is_openclaw:
            bots.append(bot)
            continue
        missing = [f for f, v in (("spec.stateDir", fleet.state_dir), ("spec.configDir", fleet.config_dir)) if not v]
        if missing:
            problems.append(Problem(
                bot.source_file, 0, 0, "",
                f"bot {bot.name}: runtime openclaw needs {' and '.join(missing)} in the Fleet (host directories for "
                "each bot's state and generated config); set them, or set spec.runtime: container",
            ))
            continue
        bots.append(with_gateway(bot, fleet))
    return dataclasses.replace(fleet, bots=tuple(bots)), problems


def host_dir(bot: BotSpec, mount: str) -> str | None:
    """The host directory mounted at `mount` (the bot's config or state dir), after with_gateway."""
    return next((v.source for v in bot.volumes if v.target == mount), None)


def config_path(bot: BotSpec) -> str | None:
    d = host_dir(bot, CONFIG_MOUNT)
    return f"{d}/{CONFIG_FILE}" if d else None
