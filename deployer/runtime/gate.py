"""The preflight gate: the gateway's own checks for every OpenClaw bot a plan creates,
replaces or reloads, run before anything changes; a failure becomes a plan error."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from deployer.core.model import CREATE, REPLACE, UPDATE, Action, Observed, Plan, container_uid
from deployer.core.spec import secrets_source
from deployer.core.vocabulary import LABEL_BOT, LABEL_PREFLIGHT, OPENCLAW_UID, PREFLIGHT_PREFIX
from deployer.errors import DeployerError
from deployer.openclaw.config import CONFIG_FILE, CONFIG_MOUNT, config_bytes, render_config
from deployer.openclaw.container import host_dir
from deployer.openclaw.preflight import TIMEOUT, preflight_run, verdict
from deployer.plan.planner import PlanOptions
from deployer.runtime.hostfiles import ensure_dir, write_atomic
from deployer.secrets.checks import redact

if TYPE_CHECKING:
    from deployer.backends.base import Backend


def needs_preflight(action: Action) -> bool:
    bot = action.desired
    if bot is None or not bot.is_openclaw:
        return False
    return action.action in (CREATE, REPLACE) or (action.action == UPDATE and action.write_config)


def run_preflights(plan: Plan, fleet: str, observed: Observed, options: PlanOptions, engine: Backend, *,
                   parallelism: int = 4, pull: bool = False) -> tuple[Plan, list[str]]:
    targets = [a for a in plan.actions if needs_preflight(a)]
    if not targets:
        return plan, []
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        outcomes = list(pool.map(lambda a: _one(a, fleet, observed, options, engine, pull), targets))
    errors = [e for errs, _ in outcomes for e in errs]
    skipped = [s for _, s in outcomes if s]
    checked = len(targets) - len(skipped)
    notes = skipped + ([f"preflight: the gateway's own checks ran for {checked} bot(s) in "
                        f"{time.monotonic() - started:.1f}s" + (f", {len(errors)} problem(s)" if errors else "")]
                       if checked else [])
    if errors:
        plan = dataclasses.replace(plan, errors=plan.errors + tuple(errors))
    return plan, notes


def _one(action: Action, fleet: str, observed: Observed, options: PlanOptions, engine: Backend,
         pull: bool) -> tuple[list[str], str | None]:
    bot = action.desired
    assert bot is not None
    if observed.image_ids.get(bot.image) is None:
        if not pull:
            return [], (f"preflight of bot {bot.name} skipped: image {bot.image} is not on the engine yet "
                        "(apply pulls it and runs the preflight then)")
        if bot.pull_policy == "Never":
            return [f"bot {bot.name}: image {bot.image} is not on the engine and pullPolicy is Never"], None
        try:
            engine.pull(bot.image)
        except DeployerError as exc:
            return [f"bot {bot.name}: {exc}"], None
    bot_config = host_dir(bot, CONFIG_MOUNT)
    assert bot_config is not None
    root = os.path.dirname(bot_config)
    tag = os.urandom(4).hex()
    scratch = os.path.join(root, f".preflight-{bot.name}-{tag}")
    try:
        ensure_dir(root, mode=0o755)
        ensure_dir(scratch, mode=0o755)
        write_atomic(os.path.join(scratch, CONFIG_FILE), config_bytes(render_config(bot)), mode=0o644)
        uid = container_uid(bot, observed.image_users) or OPENCLAW_UID
        run = preflight_run(bot, scratch, secrets_source(bot, options.secrets_dir), uid)
        code, output = engine.run_once(
            run.image, name=f"{PREFLIGHT_PREFIX}{fleet}.{bot.name}.{tag}", command=run.command,
            entrypoint=run.entrypoint, user=run.user, env=run.env, binds=run.binds, tmpfs=run.tmpfs,
            labels={LABEL_PREFLIGHT: fleet, LABEL_BOT: bot.name}, timeout=TIMEOUT)
        problems = verdict(code, output)
    except DeployerError as exc:
        problems = [f"could not run: {exc}"]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [redact(f"bot {bot.name}: preflight: {p}", bot, options.secrets_dir) for p in problems], None
