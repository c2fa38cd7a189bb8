"""Plain-data builders for planner and render tests: desired bots and the containers the engine
would show for them. No Docker; labels are built by deployer.core.labels.bot_labels, as every backend's
create builds them."""

from __future__ import annotations

import dataclasses
from typing import Any

from deployer.core.labels import bot_labels
from deployer.core.model import (
    BotSpec,
    FleetSpec,
    Healthcheck,
    Observed,
    ObservedContainer,
    Port,
    Volume,
    fingerprint_label,
)
from deployer.core.spec import container_spec, spec_hash
from deployer.core.vocabulary import LABEL_FLEET, LABEL_MANAGED, LABEL_SECRETS

FLEET = "demo"
SECRETS_DIR = "/srv/botmaker/secrets"
IMAGE = "ghcr.io/openclaw/openclaw:2026.2.26"
IMAGE_ID = "sha256:" + "a" * 64
OTHER_IMAGE_ID = "sha256:" + "b" * 64
MIB = 1024 * 1024

HEALTHCHECK = Healthcheck(
    test=("CMD", "wget", "-qO-", "http://127.0.0.1:18789/healthz"),
    interval_ns=30_000_000_000,
    timeout_ns=5_000_000_000,
    retries=3,
)


def bot(name: str = "support", **overrides: Any) -> BotSpec:
    """A realistic, fully specified bot; override any field."""
    fields: dict[str, Any] = dict(
        name=name,
        image=IMAGE,
        labels=(("team", "support"),),
        provider=(("model", "claude-sonnet"), ("name", "anthropic")),
        channels=("telegram",),
        secrets=("ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"),
        env=(("LOG_LEVEL", "info"), ("NODE_OPTIONS", "--max-old-space-size=768")),
        command=None,
        user="1000",
        ports=(Port(18789, 18789),),
        volumes=(Volume(f"botmaker-{name}-data", "/home/node/.openclaw"),),
        memory_bytes=512 * MIB,
        nano_cpus=1_000_000_000,
        restart_policy="unless-stopped",
        restart_max_retries=0,
        state="running",
        healthcheck=HEALTHCHECK,
        network="bridge",
        source_file=f"bots/{name}.yaml",
    )
    fields.update(overrides)
    return BotSpec(**fields)


def change(b: BotSpec, **overrides: Any) -> BotSpec:
    return dataclasses.replace(b, **overrides)


def engine_labels(b: BotSpec, *, fleet: str = FLEET, secrets_dir: str | None = SECRETS_DIR,
                  fingerprints: dict[str, str] | None = None) -> dict[str, str]:
    """The labels a backend puts on a unit made from `b` (deployer.core.labels.bot_labels)."""
    spec = container_spec(b, secrets_dir)
    extra = {LABEL_SECRETS: fingerprint_label(fingerprints)} if fingerprints else None
    return bot_labels(b, fleet=fleet, spec=spec, spec_hash=spec_hash(spec), extra=extra)


def observed_from(
    b: BotSpec,
    state: str = "running",
    image_id: str = IMAGE_ID,
    name: str | None = None,
    fingerprints: dict[str, str] | None = None,
    *,
    id: str | None = None,
    fleet: str = FLEET,
    secrets_dir: str | None = SECRETS_DIR,
    labels: dict[str, str] | None = None,
    drop_labels: tuple[str, ...] = (),
    inspected: bool = False,
    live_from: BotSpec | None = None,
    live: dict[str, Any] | None = None,
    health: str | None = "settled",
    **live_overrides: Any,
) -> ObservedContainer:
    """The container the engine shows after creating it from `b`.

    `labels` are merged over the engine's labels, `drop_labels` removed. With inspected=True the
    live in-place settings are those of `live_from` (default: `b`), overridable one by one
    (memory_bytes=..., nano_cpus=..., restart_policy=..., restart_max_retries=...). `live` is the
    full normalised configuration an inspect with --refresh gives (see live_config). `health` is
    what the list shows of its healthcheck; by default that of a settled container: healthy when
    `b` has a healthcheck and it runs, else none."""
    if health == "settled":
        health = "healthy" if b.healthcheck is not None and state == "running" else None
    all_labels = engine_labels(b, fleet=fleet, secrets_dir=secrets_dir, fingerprints=fingerprints)
    all_labels.update(labels or {})
    for key in drop_labels:
        all_labels.pop(key, None)
    in_place: dict[str, Any] = {}
    if inspected:
        src = live_from or b
        in_place = dict(
            memory_bytes=src.memory_bytes or 0,
            nano_cpus=src.nano_cpus or 0,
            restart_policy="" if src.restart_policy == "no" else src.restart_policy,
            restart_max_retries=src.restart_max_retries,
        )
        in_place.update(live_overrides)
    elif live_overrides:
        raise TypeError("live values need inspected=True")
    return ObservedContainer(
        id=id or _id_for(name or b.container_name),
        name=name or b.container_name,
        image=b.image,
        image_id=image_id,
        state=state,
        labels=all_labels,
        health=health,
        inspected=inspected,
        live=live,
        **in_place,
    )


def live_config(b: BotSpec, secrets_dir: str | None = SECRETS_DIR, **overrides: Any) -> dict[str, Any]:
    """What engine.live_spec reads back from a container created from `b` (no image defaults)."""
    spec = container_spec(b, secrets_dir)
    live = {k: v for k, v in spec.items() if k not in ("secrets", "provider", "channels")}
    live["secrets_mount"] = spec["secrets"]["mount"]
    live["labels"] = engine_labels(b, secrets_dir=secrets_dir)
    live.update(overrides)
    return live


def foreign(name: str, *, fleet: str | None = None, managed: bool = False, id: str | None = None) -> ObservedContainer:
    labels: dict[str, str] = {}
    if managed:
        labels[LABEL_MANAGED] = "true"
    if fleet:
        labels[LABEL_FLEET] = fleet
    return ObservedContainer(id=id or _id_for("foreign-" + name), name=name, image="nginx:latest",
                             image_id=OTHER_IMAGE_ID, state="running", labels=labels)


def fleet_of(*bots: BotSpec, name: str = FLEET, secrets_dir: str | None = SECRETS_DIR) -> FleetSpec:
    return FleetSpec(name=name, secrets_dir=secrets_dir, bots=tuple(bots))


def observed_of(*containers: ObservedContainer, fleet: str = FLEET,
                foreign_by_name: dict[str, ObservedContainer] | None = None,
                image_ids: dict[str, str | None] | None = None, foreign_managed_count: int = 0) -> Observed:
    return Observed(
        fleet=fleet,
        containers=tuple(sorted(containers, key=lambda c: c.name)),
        foreign_by_name=foreign_by_name or {},
        foreign_managed_count=foreign_managed_count,
        image_ids={IMAGE: IMAGE_ID} if image_ids is None else image_ids,
    )


def _id_for(name: str) -> str:
    import hashlib

    return hashlib.sha256(name.encode()).hexdigest()
