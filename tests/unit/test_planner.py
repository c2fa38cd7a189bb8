"""The planner as a table: desired fleet + observed engine state in, expected plan out. No Docker."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest

from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.cli.render import render_plan
from deployer.core.model import (
    CREATE,
    NOOP,
    ORPHAN,
    REMOVE,
    REPLACE,
    START,
    STOP,
    UPDATE,
    Change,
    Healthcheck,
    Plan,
    Port,
    Volume,
)
from deployer.core.spec import container_spec, spec_hash
from deployer.core.vocabulary import LABEL_SPEC, LABEL_SPEC_HASH, UNKNOWN_SPEC
from deployer.plan.planner import PlanOptions, needs_inspect, plan
from tests.support.planner_cases import (
    FLEET,
    IMAGE,
    IMAGE_ID,
    MIB,
    OTHER_IMAGE_ID,
    SECRETS_DIR,
    bot,
    change,
    fleet_of,
    foreign,
    live_config,
    observed_from,
    observed_of,
)

OPTS = PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR)
B = bot("support")
MOUNT = f"{SECRETS_DIR}/support:/run/secrets:ro"
ALIAS = "botmaker-support_old_0123456789ab"


def _hash_of(b: Any) -> str:
    return spec_hash(container_spec(b, SECRETS_DIR))


@dataclass(frozen=True)
class Expect:
    bot: str
    action: str
    changes: tuple[Change, ...] | None = None  # None: not checked
    reasons: tuple[str, ...] | None = None  # exact, when given
    reason_contains: tuple[str, ...] = ()
    leftovers: tuple[str, ...] | None = None
    container_id: str | None = None


@dataclass(frozen=True)
class Case:
    id: str
    desired: tuple  # BotSpecs
    containers: tuple = ()
    expect: tuple[Expect, ...] = ()
    options: PlanOptions = OPTS
    foreign_by_name: dict = field(default_factory=dict)
    image_ids: dict | None = None
    errors: tuple[str, ...] = ()  # fragments; each must occur in one error


def _replace(field_name: str, before: Any, after: Any, **overrides: Any) -> Case:
    return Case(
        id=f"replace-{field_name}-" + "-".join(overrides),
        desired=(change(B, **overrides),),
        containers=(observed_from(B),),
        expect=(Expect("support", REPLACE, changes=(Change(field_name, before, after),),
                       reasons=(f"{field_name} changed",)),),
    )


REPLACE_CASES = [
    _replace("image", IMAGE, "ghcr.io/openclaw/openclaw:2026.3.1", image="ghcr.io/openclaw/openclaw:2026.3.1"),
    _replace("env",
             {"LOG_LEVEL": "info", "NODE_OPTIONS": "--max-old-space-size=768"},
             {"LOG_LEVEL": "debug", "NODE_OPTIONS": "--max-old-space-size=768"},
             env=(("LOG_LEVEL", "debug"), ("NODE_OPTIONS", "--max-old-space-size=768"))),
    _replace("command", None, ["node", "dist/index.js", "gateway"], command=("node", "dist/index.js", "gateway")),
    _replace("user", "1000", "1001", user="1001"),
    _replace("ports", ["127.0.0.1:18789:18789/tcp"], ["0.0.0.0:18790:18789/tcp", "127.0.0.1:18789:18789/tcp"],
             ports=(Port(18789, 18789), Port(18789, 18790, "0.0.0.0"))),
    _replace("volumes", ["botmaker-support-data:/home/node/.openclaw:rw"],
             ["botmaker-support-data:/home/node/.openclaw:ro"],
             volumes=(Volume("botmaker-support-data", "/home/node/.openclaw", read_only=True),)),
    _replace("secrets",
             {"mount": MOUNT, "names": ["ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"]},
             {"mount": MOUNT, "names": ["TELEGRAM_BOT_TOKEN"]},
             secrets=("TELEGRAM_BOT_TOKEN",)),
    _replace("secrets",
             {"mount": MOUNT, "names": ["ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"]},
             {"mount": None, "names": []},
             secrets=()),
    _replace("network", "bridge", "botnet", network="botnet"),
    _replace("healthcheck",
             {"test": ["CMD", "wget", "-qO-", "http://127.0.0.1:18789/healthz"], "interval": 30_000_000_000,
              "timeout": 5_000_000_000, "retries": 3, "startPeriod": 0},
             None,
             healthcheck=None),
    _replace("healthcheck",
             {"test": ["CMD", "wget", "-qO-", "http://127.0.0.1:18789/healthz"], "interval": 30_000_000_000,
              "timeout": 5_000_000_000, "retries": 3, "startPeriod": 0},
             {"test": ["CMD-SHELL", "true"], "interval": 0, "timeout": 0, "retries": 0, "startPeriod": 0},
             healthcheck=Healthcheck(test=("CMD-SHELL", "true"))),
    _replace("labels", {"team": "support"}, {"team": "ops"}, labels=(("team", "ops"),)),
    _replace("provider", {"model": "claude-sonnet", "name": "anthropic"},
             {"model": "gpt-5", "name": "openai"}, provider=(("model", "gpt-5"), ("name", "openai"))),
    _replace("channels", ["telegram"], ["discord", "telegram"], channels=("telegram", "discord")),
    Case(
        id="replace-secrets-mount-moved",
        desired=(B,),
        containers=(observed_from(B, secrets_dir="/old/secrets"),),
        expect=(Expect("support", REPLACE, reasons=("secrets changed",), changes=(
            Change("secrets",
                   {"mount": "/old/secrets/support:/run/secrets:ro", "names": ["ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"]},
                   {"mount": MOUNT, "names": ["ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"]}),)),),
    ),
    Case(
        id="replace-image-id-behind-tag",
        desired=(B,),
        containers=(observed_from(B, image_id=IMAGE_ID),),
        image_ids={IMAGE: OTHER_IMAGE_ID},
        expect=(Expect("support", REPLACE, changes=(Change("image_id", "a" * 12, "b" * 12),),
                       reasons=(f"image {IMAGE} now points to a different image ID",)),),
    ),
    Case(
        id="replace-image-and-id-reports-image-only",
        desired=(change(B, image="openclaw:new"),),
        containers=(observed_from(B, image_id=IMAGE_ID),),
        image_ids={"openclaw:new": OTHER_IMAGE_ID},
        expect=(Expect("support", REPLACE, changes=(Change("image", IMAGE, "openclaw:new"),)),),
    ),
    Case(
        id="replace-memory-limit-removed",
        desired=(change(B, memory_bytes=None),),
        containers=(observed_from(B),),
        expect=(Expect("support", REPLACE, changes=(Change("memory", 512 * MIB, None),),
                       reasons=("memory limit removed (docker update cannot unset it)",)),),
    ),
    Case(
        id="replace-cpus-limit-removed",
        desired=(change(B, nano_cpus=None),),
        containers=(observed_from(B),),
        expect=(Expect("support", REPLACE, changes=(Change("cpus", 1.0, None),),
                       reasons=("cpus limit removed (docker update cannot unset it)",)),),
    ),
    Case(
        id="replace-and-update-together",
        desired=(change(B, user="1001", memory_bytes=1024 * MIB),),
        containers=(observed_from(B),),
        expect=(Expect("support", REPLACE,
                       changes=(Change("user", "1000", "1001"), Change("memory", 512 * MIB, 1024 * MIB)),
                       reasons=("user changed", "memory changed (in place)")),),
    ),
    Case(
        id="replace-spec-label-missing",
        desired=(change(B, memory_bytes=1024 * MIB),),
        containers=(observed_from(B, drop_labels=(LABEL_SPEC,)),),
        expect=(Expect("support", REPLACE, changes=(Change("spec", "(not recorded)", "(manifest)"),),
                       reasons=("container carries no readable botmaker.spec label",)),),
    ),
    Case(
        id="replace-spec-label-unreadable",
        desired=(B,),
        containers=(observed_from(B, labels={LABEL_SPEC: "{not json", LABEL_SPEC_HASH: "v0-old"}),),
        expect=(Expect("support", REPLACE, changes=(Change("spec", "(not recorded)", "(manifest)"),),
                       reasons=("container carries no readable botmaker.spec label",)),),
    ),
    Case(
        id="replace-spec-label-not-an-object",
        desired=(B,),
        containers=(observed_from(B, labels={LABEL_SPEC: "[1, 2]", LABEL_SPEC_HASH: "v0-old"}),),
        expect=(Expect("support", REPLACE, changes=(Change("spec", "(not recorded)", "(manifest)"),)),),
    ),
]

UPDATE_CASES = [
    Case(
        id="update-memory",
        desired=(change(B, memory_bytes=1024 * MIB),),
        containers=(observed_from(B),),
        expect=(Expect("support", UPDATE, changes=(Change("memory", 512 * MIB, 1024 * MIB),),
                       reasons=("memory changed (in place)",)),),
    ),
    Case(
        id="update-memory-added",
        desired=(change(B, memory_bytes=256 * MIB),),
        containers=(observed_from(change(B, memory_bytes=None)),),
        expect=(Expect("support", UPDATE, changes=(Change("memory", None, 256 * MIB),)),),
    ),
    Case(
        id="update-cpus",
        desired=(change(B, nano_cpus=500_000_000),),
        containers=(observed_from(B),),
        expect=(Expect("support", UPDATE, changes=(Change("cpus", 1.0, 0.5),), reasons=("cpus changed (in place)",)),),
    ),
    Case(
        id="update-restart-policy",
        desired=(change(B, restart_policy="always"),),
        containers=(observed_from(B),),
        expect=(Expect("support", UPDATE, changes=(Change("restart", "unless-stopped", "always"),),
                       reasons=("restart changed (in place)",)),),
    ),
    Case(
        id="update-restart-on-failure-n",
        desired=(change(B, restart_policy="on-failure", restart_max_retries=5),),
        containers=(observed_from(B),),
        expect=(Expect("support", UPDATE, changes=(Change("restart", "unless-stopped", "on-failure:5"),)),),
    ),
    Case(
        id="update-restart-on-failure-retries",
        desired=(change(B, restart_policy="on-failure", restart_max_retries=5),),
        containers=(observed_from(change(B, restart_policy="on-failure", restart_max_retries=3)),),
        expect=(Expect("support", UPDATE, changes=(Change("restart", "on-failure:3", "on-failure:5"),)),),
    ),
    Case(
        id="update-all-three",
        desired=(change(B, memory_bytes=1024 * MIB, nano_cpus=2_000_000_000, restart_policy="no"),),
        containers=(observed_from(B),),
        expect=(Expect("support", UPDATE, changes=(
            Change("memory", 512 * MIB, 1024 * MIB), Change("cpus", 1.0, 2.0), Change("restart", "unless-stopped", "no"),
        )),),
    ),
    Case(
        id="update-already-applied-is-noop",
        # the label still records 512M, but `docker update` already set the live value to 1G
        desired=(change(B, memory_bytes=1024 * MIB),),
        containers=(observed_from(B, inspected=True, memory_bytes=1024 * MIB),),
        expect=(Expect("support", NOOP, changes=(), reasons=()),),
    ),
    Case(
        id="update-partly-applied",
        desired=(change(B, memory_bytes=1024 * MIB, restart_policy="always"),),
        containers=(observed_from(B, inspected=True, memory_bytes=1024 * MIB),),
        expect=(Expect("support", UPDATE, changes=(Change("restart", "unless-stopped", "always"),)),),
    ),
    Case(
        id="update-drift-by-docker-update",
        # recorded spec matches the manifest (same hash), but someone ran `docker update`
        desired=(B,),
        containers=(observed_from(B, inspected=True, memory_bytes=2048 * MIB, restart_policy="", nano_cpus=0),),
        expect=(Expect("support", UPDATE, changes=(
            Change("memory", 2048 * MIB, 512 * MIB), Change("cpus", None, 1.0), Change("restart", "no", "unless-stopped"),
        )),),
    ),
    Case(
        id="update-drift-on-failure-retries",
        desired=(change(B, restart_policy="on-failure", restart_max_retries=3),),
        containers=(observed_from(change(B, restart_policy="on-failure", restart_max_retries=3),
                                  inspected=True, restart_max_retries=10),),
        expect=(Expect("support", UPDATE, changes=(Change("restart", "on-failure:10", "on-failure:3"),)),),
    ),
    Case(
        id="inspected-no-drift-is-noop",
        desired=(B,),
        containers=(observed_from(B, inspected=True),),
        expect=(Expect("support", NOOP, changes=(), reasons=()),),
    ),
    Case(
        id="update-while-stopped-and-desired-running",
        desired=(change(B, memory_bytes=1024 * MIB),),
        containers=(observed_from(B, state="exited"),),
        expect=(Expect("support", UPDATE, changes=(Change("memory", 512 * MIB, 1024 * MIB),
                                                   Change("state", "exited", "running")),
                       reasons=("memory changed (in place)", "container is exited, manifest says running")),),
    ),
    Case(
        id="update-while-running-and-desired-stopped",
        desired=(change(B, memory_bytes=1024 * MIB, state="stopped"),),
        containers=(observed_from(B, state="running"),),
        expect=(Expect("support", UPDATE, changes=(Change("memory", 512 * MIB, 1024 * MIB),
                                                   Change("state", "running", "stopped")),
                       reasons=("memory changed (in place)", "container is running, manifest says stopped")),),
    ),
    Case(
        id="update-while-stopped-and-desired-stopped",
        desired=(change(B, memory_bytes=1024 * MIB, state="stopped"),),
        containers=(observed_from(B, state="exited"),),
        expect=(Expect("support", UPDATE, reasons=("memory changed (in place)",)),),
    ),
    Case(
        id="update-undone-after-an-in-place-update",
        # the label (512M) hashes as the manifest does, but the last apply updated it to 1G in place
        desired=(B,),
        containers=(dataclasses.replace(observed_from(B, inspected=True, memory_bytes=1024 * MIB),
                                        applied_hash=_hash_of(change(B, memory_bytes=1024 * MIB))),),
        expect=(Expect("support", UPDATE, changes=(Change("memory", 1024 * MIB, 512 * MIB),),
                       reasons=("memory changed (in place)",)),),
    ),
    Case(
        id="updated-in-place-as-the-record-says-is-noop",
        # the label still records 512M; the last apply's record says it runs the manifest's 1G
        desired=(change(B, memory_bytes=1024 * MIB),),
        containers=(dataclasses.replace(observed_from(B), applied_hash=_hash_of(change(B, memory_bytes=1024 * MIB))),),
        expect=(Expect("support", NOOP, changes=(), reasons=()),),
    ),
]

STATE_CASES = [
    Case(
        id="create-no-container",
        desired=(B,),
        # every field the new container gets, from nothing (issue 24: a create showed no field)
        expect=(Expect("support", CREATE, changes=tuple(
            Change(k, None, v) for k, v in container_spec(B, SECRETS_DIR).items() if v not in (None, {}, [])),
            reasons=("no container",), container_id=None),),
    ),
    Case(
        id="create-stopped-bot",
        desired=(change(B, state="stopped"),),
        expect=(Expect("support", CREATE, reasons=("no container",)),),
    ),
    Case(
        id="noop-same-spec-running",
        desired=(B,),
        containers=(observed_from(B, id="c1"),),
        expect=(Expect("support", NOOP, changes=(), reasons=(), leftovers=(), container_id="c1"),),
    ),
    Case(
        id="noop-restarting-counts-as-running",
        desired=(B,),
        containers=(observed_from(B, state="restarting"),),
        expect=(Expect("support", NOOP),),
    ),
    Case(
        id="noop-state-and-pull-policy-not-in-hash",
        desired=(change(B, pull_policy="Always"),),
        containers=(observed_from(B),),
        expect=(Expect("support", NOOP),),
    ),
    Case(
        id="noop-stopped-and-desired-stopped",
        desired=(change(B, state="stopped"),),
        containers=(observed_from(B, state="exited"),),
        expect=(Expect("support", NOOP),),
    ),
    Case(
        id="noop-same-image-id",
        desired=(B,),
        containers=(observed_from(B, image_id=IMAGE_ID),),
        image_ids={IMAGE: IMAGE_ID},
        expect=(Expect("support", NOOP),),
    ),
    Case(
        id="noop-image-not-local",
        desired=(B,),
        containers=(observed_from(B, image_id=IMAGE_ID),),
        image_ids={IMAGE: None},
        expect=(Expect("support", NOOP),),
    ),
    Case(
        id="start-exited",
        desired=(B,),
        containers=(observed_from(B, state="exited"),),
        expect=(Expect("support", START, changes=(Change("state", "exited", "running"),),
                       reasons=("container is exited, manifest says running",)),),
    ),
    Case(
        id="start-created",
        desired=(B,),
        containers=(observed_from(B, state="created"),),
        expect=(Expect("support", START, changes=(Change("state", "created", "running"),),
                       reasons=("container is created, manifest says running",)),),
    ),
    Case(
        id="stop-running",
        desired=(change(B, state="stopped"),),
        containers=(observed_from(B, state="running"),),
        expect=(Expect("support", STOP, changes=(Change("state", "running", "stopped"),),
                       reasons=("container is running, manifest says stopped",)),),
    ),
    Case(
        id="replace-wins-over-start",
        desired=(change(B, user="1001"),),
        containers=(observed_from(B, state="exited"),),
        expect=(Expect("support", REPLACE, changes=(Change("user", "1000", "1001"),)),),
    ),
]

ORPHAN_AND_CONFLICT_CASES = [
    Case(
        id="orphan",
        desired=(B,),
        containers=(observed_from(B), observed_from(bot("gone"), id="g1")),
        expect=(
            Expect("support", NOOP),
            Expect("gone", ORPHAN, container_id="g1", changes=(),
                   reasons=(f"container botmaker-gone belongs to fleet {FLEET} but no manifest declares bot 'gone'",)),
        ),
    ),
    Case(
        id="orphan-pruned",
        desired=(B,),
        containers=(observed_from(B), observed_from(bot("gone"), id="g1")),
        options=PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, prune=True),
        expect=(Expect("support", NOOP), Expect("gone", REMOVE, container_id="g1")),
    ),
    Case(
        id="orphan-empty-fleet",
        desired=(),
        containers=(observed_from(bot("zeta"), id="z"), observed_from(bot("alpha"), id="a")),
        expect=(Expect("alpha", ORPHAN, container_id="a"), Expect("zeta", ORPHAN, container_id="z")),
    ),
    Case(
        id="foreign-unmanaged-holds-name",
        desired=(B, bot("ops")),
        foreign_by_name={"botmaker-support": foreign("botmaker-support", id="f" * 64)},
        expect=(Expect("ops", CREATE),),
        errors=("bot support", "botmaker-support", "ffffffffffff", "nobody (not created by deployer)"),
    ),
    Case(
        id="foreign-other-fleet-holds-name",
        desired=(B,),
        foreign_by_name={"botmaker-support": foreign("botmaker-support", fleet="prod", managed=True)},
        expect=(),
        errors=("bot support", "belongs to fleet prod", "will not touch it", "cannot be adopted"),
    ),
    Case(
        id="foreign-managed-no-fleet-holds-name",
        desired=(B,),
        foreign_by_name={"botmaker-support": foreign("botmaker-support", managed=True)},
        expect=(),
        errors=("bot support", "no fleet (managed by another tool", "--adopt support"),
    ),
    Case(
        id="interrupted-apply-only-aside-copy",
        desired=(B,),
        containers=(observed_from(B, name=ALIAS, id="old1", state="exited"),),
        expect=(Expect("support", REPLACE, container_id="old1", leftovers=(),
                       changes=(Change("name", ALIAS, "botmaker-support"),),
                       reasons=(f"container is named {ALIAS} by an interrupted apply, not botmaker-support",)),),
    ),
    Case(
        id="interrupted-apply-aside-copy-with-changes",
        desired=(change(B, user="1001"),),
        containers=(observed_from(B, name=ALIAS, id="old1"),),
        expect=(Expect("support", REPLACE,
                       changes=(Change("name", ALIAS, "botmaker-support"), Change("user", "1000", "1001")),
                       reasons=(f"container is named {ALIAS} by an interrupted apply, not botmaker-support", "user changed")),),
    ),
    Case(
        id="interrupted-apply-canonical-plus-leftover",
        desired=(B,),
        containers=(observed_from(B, id="new1"), observed_from(B, name=ALIAS, id="old1", state="exited")),
        expect=(Expect("support", NOOP, container_id="new1", leftovers=("old1",), changes=(),
                       reasons=("copies left by an interrupted apply will be removed: botmaker-support_old_0123456789ab",)),),
    ),
    Case(
        id="renamed-by-hand",
        desired=(B,),
        containers=(observed_from(B, name="botmaker-support-copy", id="copy1"),),
        expect=(Expect("support", REPLACE, container_id="copy1",
                       changes=(Change("name", "botmaker-support-copy", "botmaker-support"),),
                       reasons=("container is named botmaker-support-copy (renamed by hand?), not botmaker-support",)),),
    ),
    Case(
        id="extra-container-with-bot-labels-noop",
        desired=(B,),
        containers=(observed_from(B, id="new1"), observed_from(B, name="botmaker-support-copy", id="copy1")),
        expect=(Expect("support", NOOP, container_id="new1", leftovers=("copy1",), reason_contains=(
            "extra containers carry this bot's labels but were not created by this apply: botmaker-support-copy",)),),
    ),
    Case(
        id="extra-container-with-bot-labels-start",
        desired=(B,),
        containers=(observed_from(B, id="new1", state="exited"),
                    observed_from(B, name="botmaker-support-copy", id="copy1")),
        expect=(Expect("support", START, container_id="new1", leftovers=("copy1",), reason_contains=(
            "container is exited, manifest says running",
            "extra containers carry this bot's labels but were not created by this apply: botmaker-support-copy",)),),
    ),
    Case(
        id="interrupted-apply-canonical-plus-leftover-and-update",
        desired=(change(B, memory_bytes=1024 * MIB),),
        containers=(observed_from(B, id="new1"), observed_from(B, name=ALIAS, id="old1", state="exited")),
        expect=(Expect("support", UPDATE, container_id="new1", leftovers=("old1",)),),
    ),
]

GUARD_CASES = [
    Case(
        id="adopt-unmanaged-name-holder",
        desired=(B,),
        foreign_by_name={"botmaker-support": foreign("botmaker-support", id="f" * 64)},
        options=PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, adopt=frozenset({"support"})),
        expect=(Expect("support", REPLACE, container_id="f" * 64,
                       changes=(Change("owner", "nobody (not created by deployer)", f"fleet {FLEET}"),)),),
    ),
    Case(
        id="adopt-refused-for-other-fleet",
        desired=(B,),
        foreign_by_name={"botmaker-support": foreign("botmaker-support", fleet="prod", managed=True)},
        options=PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, adopt=frozenset({"support"})),
        errors=("bot support", "fleet prod", "cannot be adopted"),
    ),
    Case(
        id="protected-orphan-not-pruned",
        desired=(B,),
        containers=(observed_from(B), observed_from(bot("keep"), id="k1", labels={"botmaker.protect": "true"})),
        options=PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, prune=True),
        expect=(Expect("support", NOOP), Expect("keep", ORPHAN, container_id="k1",
                                                reason_contains=("protected (botmaker.protect=true): never removed",))),
    ),
    Case(
        id="prune-refused-with-zero-bots",
        desired=(),
        containers=(observed_from(bot("a"), id="a1"),),
        options=PlanOptions(traits=DOCKER_TRAITS, prune=True),
        expect=(Expect("a", REMOVE),),
        errors=("refusing to prune with a manifest set of zero bots", f"fleet {FLEET} (1)", "--allow-empty"),
    ),
    Case(
        id="prune-zero-bots-allowed",
        desired=(),
        containers=(observed_from(bot("a"), id="a1"),),
        options=PlanOptions(traits=DOCKER_TRAITS, prune=True, allow_empty=True),
        expect=(Expect("a", REMOVE),),
    ),
    Case(
        id="prune-max-removals",
        desired=(B,),
        containers=(observed_from(B), observed_from(bot("x"), id="x1"), observed_from(bot("y"), id="y1")),
        options=PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, prune=True, max_removals=1),
        expect=(Expect("support", NOOP), Expect("x", REMOVE), Expect("y", REMOVE)),
        errors=("refusing to remove 2 containers: more than --max-removals 1",),
    ),
    Case(
        id="live-no-drift",
        desired=(B,),
        containers=(observed_from(B, inspected=True, live=live_config(B)),),
        expect=(Expect("support", NOOP),),
    ),
    Case(
        id="live-image-defaults-are-not-drift",
        # the daemon merges the image's env, labels and healthcheck in; only what the manifest sets counts
        desired=(change(B, healthcheck=None, user=None),),
        containers=(observed_from(change(B, healthcheck=None, user=None), inspected=True, live=live_config(
            B, env={"PATH": "/usr/bin", "LOG_LEVEL": "info", "NODE_OPTIONS": "--max-old-space-size=768"},
            command=["node", "openclaw.mjs", "gateway"], user="node",
            healthcheck={"test": ["CMD", "true"], "interval": 0, "timeout": 0, "retries": 0, "startPeriod": 0},
            labels={**live_config(B)["labels"], "org.opencontainers.image.version": "2026.2.26"}),),),
        expect=(Expect("support", NOOP),),
    ),
    Case(
        id="live-drift-env",
        desired=(B,),
        containers=(observed_from(B, inspected=True, live=live_config(
            B, env={"LOG_LEVEL": "trace", "NODE_OPTIONS": "--max-old-space-size=768"})),),
        expect=(Expect("support", REPLACE,
                       changes=(Change("env", {"LOG_LEVEL": "trace", "NODE_OPTIONS": "--max-old-space-size=768"},
                                       {"LOG_LEVEL": "info", "NODE_OPTIONS": "--max-old-space-size=768"}),),
                       reasons=("drift: env on the engine differs from the manifest",)),),
    ),
    Case(
        id="live-drift-ports-and-secrets-mount",
        desired=(B,),
        containers=(observed_from(B, inspected=True, live=live_config(
            B, ports=["0.0.0.0:18789:18789/tcp"], secrets_mount=None)),),
        expect=(Expect("support", REPLACE, changes=(
            Change("ports", ["0.0.0.0:18789:18789/tcp"], ["127.0.0.1:18789:18789/tcp"]),
            Change("secrets", None, MOUNT),
        )),),
    ),
]

SECRET_CASES = [
    Case(
        id="secret-rotated",
        desired=(B,),
        containers=(observed_from(B, fingerprints={"ANTHROPIC_API_KEY": "aaa", "TELEGRAM_BOT_TOKEN": "old"}),),
        options=PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, secret_fingerprints={
            "support": {"ANTHROPIC_API_KEY": "aaa", "TELEGRAM_BOT_TOKEN": "new"}}),
        expect=(Expect("support", REPLACE,
                       changes=(Change("secret TELEGRAM_BOT_TOKEN", "(fingerprint)", "(new fingerprint)"),),
                       reasons=("secret TELEGRAM_BOT_TOKEN changed (the gateway reads it at start)",)),),
    ),
    Case(
        id="secret-both-rotated-sorted",
        desired=(B,),
        containers=(observed_from(B, fingerprints={"ANTHROPIC_API_KEY": "a1", "TELEGRAM_BOT_TOKEN": "t1"}),),
        options=PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, secret_fingerprints={
            "support": {"TELEGRAM_BOT_TOKEN": "t2", "ANTHROPIC_API_KEY": "a2"}}),
        expect=(Expect("support", REPLACE, reasons=(
            "secret ANTHROPIC_API_KEY changed (the gateway reads it at start)",
            "secret TELEGRAM_BOT_TOKEN changed (the gateway reads it at start)",
        )),),
    ),
    Case(
        id="secret-same-fingerprints",
        desired=(B,),
        containers=(observed_from(B, fingerprints={"ANTHROPIC_API_KEY": "aaa", "TELEGRAM_BOT_TOKEN": "ttt"}),),
        options=PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, secret_fingerprints={
            "support": {"ANTHROPIC_API_KEY": "aaa", "TELEGRAM_BOT_TOKEN": "ttt"}}),
        expect=(Expect("support", NOOP, changes=()),),
    ),
    Case(
        id="secret-no-recorded-label",
        desired=(B,),
        containers=(observed_from(B),),
        options=PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, secret_fingerprints={"support": {"TELEGRAM_BOT_TOKEN": "ttt"}}),
        expect=(Expect("support", NOOP),),
    ),
    Case(
        id="secret-rotated-while-stopped-replaces",
        desired=(B,),
        containers=(observed_from(B, state="exited", fingerprints={"TELEGRAM_BOT_TOKEN": "old"}),),
        options=PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, secret_fingerprints={"support": {"TELEGRAM_BOT_TOKEN": "new"}}),
        expect=(Expect("support", REPLACE),),
    ),
]

ALL_CASES = REPLACE_CASES + UPDATE_CASES + STATE_CASES + ORPHAN_AND_CONFLICT_CASES + GUARD_CASES + SECRET_CASES


def _run(case: Case) -> Plan:
    return plan(
        fleet_of(*case.desired),
        observed_of(*case.containers, foreign_by_name=case.foreign_by_name, image_ids=case.image_ids),
        case.options,
    )


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_plan_table(case: Case) -> None:
    result = _run(case)
    assert [(a.bot, a.action) for a in result.actions] == [(e.bot, e.action) for e in case.expect]
    for action, exp in zip(result.actions, case.expect):
        if exp.changes is not None:
            assert action.changes == exp.changes
        if exp.reasons is not None:
            assert action.reasons == exp.reasons
        for fragment in exp.reason_contains:
            assert any(fragment in r for r in action.reasons), (fragment, action.reasons)
        if exp.leftovers is not None:
            assert action.leftovers == exp.leftovers
        if exp.container_id is not None:
            assert action.container_id == exp.container_id
    if case.errors:
        assert len(result.errors) == 1, result.errors
        for fragment in case.errors:
            assert fragment in result.errors[0], (fragment, result.errors[0])
        assert result.errors[0] in render_plan(result)
    else:
        assert result.errors == ()


def test_every_action_kind_is_covered() -> None:
    kinds = {e.action for c in ALL_CASES for e in c.expect}
    assert kinds == {CREATE, REPLACE, UPDATE, START, STOP, REMOVE, NOOP, ORPHAN}


def test_every_replace_field_is_covered() -> None:
    spec_fields = set(container_spec(B, SECRETS_DIR)) - {"memory", "cpus", "restart"}
    covered = {c.id.split("-")[1] for c in REPLACE_CASES if c.id.startswith("replace-")}
    assert spec_fields <= covered, spec_fields - covered


def test_update_never_replaces() -> None:
    for case in UPDATE_CASES:
        for action in _run(case).actions:
            assert action.action != REPLACE, case.id


def test_actions_carry_the_desired_spec() -> None:
    desired = change(B, memory_bytes=1024 * MIB)
    result = plan(fleet_of(desired), observed_of(observed_from(B)), OPTS)
    assert result.actions[0].desired == desired


# --- foreign containers, leftovers -------------------------------------------------------------

def test_foreign_container_blocks_only_its_bot() -> None:
    ops = bot("ops")
    result = plan(
        fleet_of(B, ops),
        observed_of(observed_from(ops), foreign_by_name={"botmaker-support": foreign("botmaker-support")}),
        OPTS,
    )
    assert [a.bot for a in result.actions] == ["ops"]
    assert not any(a.bot == "support" for a in result.actions)
    assert "support" in result.errors[0]


def test_foreign_container_with_our_aside_copy_is_not_called_an_orphan() -> None:
    """Our renamed-aside copy of a declared bot is not an orphan (and never pruned) while a foreign
    container holds the canonical name: the plan has an error for the bot instead."""
    result = plan(
        fleet_of(B),
        observed_of(observed_from(B, name=ALIAS, id="old1"),
                    foreign_by_name={"botmaker-support": foreign("botmaker-support")}),
        PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, prune=True),
    )
    assert result.actions == ()
    assert len(result.errors) == 1


def test_leftover_makes_noop_mutate() -> None:
    result = _run(next(c for c in ALL_CASES if c.id == "interrupted-apply-canonical-plus-leftover"))
    assert result.actions[0].mutates
    assert result.has_changes


def test_newest_aside_copy_is_kept_when_no_canonical() -> None:
    a1 = observed_from(B, name="botmaker-support_old_1111", id="old1")
    a2 = observed_from(B, name="botmaker-support_old_2222", id="old2")
    result = plan(fleet_of(B), observed_of(a1, a2), OPTS)
    (action,) = result.actions
    assert action.action == REPLACE
    assert action.container_id == "old2"
    assert action.leftovers == ("old1",)


# --- summary, ordering --------------------------------------------------------------------------

def _mixed() -> tuple:
    bots = {n: bot(n) for n in ("create", "replace", "update", "start", "stop", "noop", "orphan")}
    fleet = fleet_of(
        change(bots["stop"], state="stopped"),
        bots["noop"], change(bots["update"], memory_bytes=1024 * MIB), bots["start"],
        change(bots["replace"], image="openclaw:new"), bots["create"],
    )
    observed = observed_of(
        observed_from(bots["replace"]), observed_from(bots["update"]), observed_from(bots["start"], state="exited"),
        observed_from(bots["stop"]), observed_from(bots["noop"]), observed_from(bots["orphan"]),
    )
    return fleet, observed


def test_summary_counts_and_has_changes() -> None:
    fleet, observed = _mixed()
    result = plan(fleet, observed, OPTS)
    assert result.summary() == {"create": 1, "replace": 1, "update": 1, "start": 1, "stop": 1, "remove": 0,
                                "orphans": 1}
    assert result.has_changes
    pruned = plan(fleet, observed, PlanOptions(traits=DOCKER_TRAITS, secrets_dir=SECRETS_DIR, prune=True))
    assert pruned.summary()["remove"] == 1
    assert pruned.summary()["orphans"] == 0


def test_no_changes_plan() -> None:
    result = plan(fleet_of(B, bot("ops")), observed_of(observed_from(B), observed_from(bot("ops"))), OPTS)
    assert [a.action for a in result.actions] == [NOOP, NOOP]
    assert not result.has_changes
    assert result.summary() == {"create": 0, "replace": 0, "update": 0, "start": 0, "stop": 0, "remove": 0,
                                "orphans": 0}


def test_orphans_alone_are_not_changes() -> None:
    result = plan(fleet_of(), observed_of(observed_from(bot("gone"))), OPTS)
    assert [a.action for a in result.actions] == [ORPHAN]
    assert not result.has_changes
    # but an orphan is drift (issue 24): the fleet is not in sync with its manifests
    assert not result.in_sync and not result.actions[0].in_sync
    assert plan(fleet_of(B), observed_of(observed_from(B)), OPTS).in_sync
    assert plan(fleet_of(), observed_of(observed_from(bot("gone"))), PlanOptions(traits=DOCKER_TRAITS, prune=True)).has_changes


def test_foreign_managed_count_is_passed_through() -> None:
    observed = dataclasses.replace(observed_of(), foreign_managed_count=3)
    result = plan(fleet_of(), observed, OPTS)
    assert result.foreign_managed_count == 3
    assert result.fleet == FLEET


def test_actions_are_sorted_by_bot_whatever_the_input_order() -> None:
    fleet, observed = _mixed()
    result = plan(fleet, observed, OPTS)
    declared = [a.bot for a in result.actions if a.action != ORPHAN]
    assert declared == sorted(declared) == ["create", "noop", "replace", "start", "stop", "update"]
    assert result.actions[-1].bot == "orphan"  # orphans follow the declared bots
    reversed_fleet = dataclasses.replace(fleet, bots=tuple(reversed(fleet.bots)))
    reversed_observed = dataclasses.replace(observed, containers=tuple(reversed(observed.containers)))
    assert plan(reversed_fleet, reversed_observed, OPTS) == result


def test_plan_is_pure() -> None:
    fleet, observed = _mixed()
    assert plan(fleet, observed, OPTS) == plan(fleet, observed, OPTS)


# --- needs_inspect ------------------------------------------------------------------------------

def test_needs_inspect_only_differing_hashes() -> None:
    ops, news = bot("ops"), bot("news")
    same = observed_from(B, id="same")
    differs = observed_from(ops, id="differs")
    unlabelled = observed_from(news, id="nolabel", drop_labels=(LABEL_SPEC_HASH,))
    orphan = observed_from(bot("gone"), id="orphan")
    fleet = fleet_of(B, change(ops, memory_bytes=1024 * MIB), news)
    assert needs_inspect(fleet, (same, differs, unlabelled, orphan), OPTS) == ["differs", "nolabel"]


def test_needs_inspect_goes_by_the_spec_a_container_runs_after_an_in_place_update() -> None:
    """The last apply's record (applied_hash) wins over the label, which an in-place update
    cannot change; an update that failed part-way (UNKNOWN_SPEC) is always inspected."""
    big = change(B, memory_bytes=1024 * MIB)
    updated = dataclasses.replace(observed_from(B), applied_hash=_hash_of(big))
    assert needs_inspect(fleet_of(B), (updated,), OPTS) == [updated.id]  # put back: the label alone says equal
    assert needs_inspect(fleet_of(big), (updated,), OPTS) == []  # runs what the manifest says
    unknown = dataclasses.replace(observed_from(B), applied_hash=UNKNOWN_SPEC)
    assert needs_inspect(fleet_of(B), (unknown,), OPTS) == [unknown.id]


def test_needs_inspect_nothing_when_all_match() -> None:
    assert needs_inspect(fleet_of(B), (observed_from(B),), OPTS) == []


def test_needs_inspect_uses_the_secrets_dir() -> None:
    # the secrets mount is part of the spec: another secrets dir is another hash
    c = observed_from(B, secrets_dir="/elsewhere")
    assert needs_inspect(fleet_of(B), (c,), OPTS) == [c.id]
    assert needs_inspect(fleet_of(B), (c,), PlanOptions(traits=DOCKER_TRAITS, secrets_dir="/elsewhere")) == []


def test_observed_from_matches_hash() -> None:
    c = observed_from(B)
    assert c.labels[LABEL_SPEC_HASH] == spec_hash(container_spec(B, SECRETS_DIR))
    assert c.managed and c.bot == "support" and c.fleet == FLEET
