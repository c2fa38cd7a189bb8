"""bot_from_spec is the inverse of hashing.container_spec (rollback rebuilds BotSpecs from it)."""

from __future__ import annotations

import dataclasses

import pytest

from deployer.core.model import BotSpec, Healthcheck, Port, Volume
from deployer.core.spec import container_spec, spec_hash
from deployer.core.spec_inverse import SPEC_KEYS, bot_from_spec, secrets_dir_of
from deployer.errors import UnrestorableSpec

FULL = BotSpec(
    name="alpha",
    image="ghcr.io/acme/openclaw:2026.1",
    labels=(("team", "support"), ("tier", "gold")),
    pull_policy="Always",
    provider=(("model", "claude"), ("name", "anthropic")),
    channels=("telegram", "discord"),
    secrets=("ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"),
    env=(("LOG_LEVEL", "debug"), ("A_FIRST", "x=y:z")),
    command=("node", "gateway.js", "--port", "18789"),
    user="1000:1000",
    ports=(Port(18789, 8080), Port(53, 5353, "::1", "udp"), Port(18790, 9090, "0.0.0.0")),
    volumes=(Volume("/srv/alpha/state", "/home/node/.openclaw"), Volume("alpha-cache", "/cache", True)),
    memory_bytes=512 * 1024 * 1024,
    nano_cpus=1_500_000_000,
    restart_policy="on-failure",
    restart_max_retries=5,
    state="stopped",
    healthcheck=Healthcheck(("CMD-SHELL", "curl -fsS localhost:18789/health"), 10_000_000_000, 3_000_000_000, 4,
                            30_000_000_000),
    network="botnet",
    source_file="bots/alpha.yaml",
)
MINIMAL = BotSpec(name="beta", image="openclaw:1")


@pytest.mark.parametrize("bot", [FULL, MINIMAL, dataclasses.replace(FULL, nano_cpus=1, memory_bytes=None,
                                                                    restart_policy="always", healthcheck=None,
                                                                    command=(), user=None)])
@pytest.mark.parametrize("secrets_dir", [None, "/srv/secrets", "/"])
def test_round_trip_through_the_canonical_spec(bot, secrets_dir):
    spec = container_spec(bot, secrets_dir)
    back = bot_from_spec(bot.name, spec, state=bot.state, pull_policy=bot.pull_policy, source_file=bot.source_file)
    assert container_spec(back, secrets_dir) == spec
    assert spec_hash(container_spec(back, secrets_dir)) == spec_hash(spec)
    assert (back.state, back.pull_policy, back.source_file) == (bot.state, bot.pull_policy, bot.source_file)
    expected_dir = secrets_dir.rstrip("/") or "/" if secrets_dir and bot.secrets else None
    assert secrets_dir_of(bot.name, spec) == expected_dir


def test_full_bot_comes_back_field_by_field():
    back = bot_from_spec(FULL.name, container_spec(FULL, "/srv/secrets"), state="stopped", pull_policy="Always",
                         source_file="bots/alpha.yaml")
    # the canonical spec keeps sets as sets: env/labels/provider by key, channels and ports sorted
    assert back == dataclasses.replace(FULL, env=tuple(sorted(FULL.env)), channels=tuple(sorted(FULL.channels)),
                                       ports=tuple(sorted(FULL.ports, key=lambda p: f"{p.host_ip}:{p.host_port}:"
                                                                                   f"{p.container_port}/{p.protocol}")),
                                       volumes=tuple(sorted(FULL.volumes, key=lambda v: v.source)))


def test_image_can_be_pinned_to_the_id_it_ran():
    spec = container_spec(FULL)
    back = bot_from_spec(FULL.name, spec, image="sha256:" + "ab" * 32)
    assert back.image == "sha256:" + "ab" * 32
    assert container_spec(back)["image"] == "sha256:" + "ab" * 32
    assert {k: v for k, v in container_spec(back).items() if k != "image"} == \
        {k: v for k, v in spec.items() if k != "image"}


def test_every_field_of_the_canonical_spec_is_known():
    """container_spec gaining a field fails here until bot_from_spec restores it too."""
    assert set(container_spec(MINIMAL)) == SPEC_KEYS
    assert set(container_spec(FULL, "/s")) == SPEC_KEYS


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(gateway={"port": 1}), "unknown fields: gateway"),
    (lambda s: s.pop("env"), "missing fields: env"),
])
def test_a_spec_of_another_version_is_refused(change, message):
    spec = container_spec(FULL)
    change(spec)
    with pytest.raises(UnrestorableSpec, match=message):
        bot_from_spec("alpha", spec)
