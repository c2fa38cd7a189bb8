"""The shared encodings and the bot label set: one home each, used by the canonical spec, the
planner, validation, rollback and every backend."""

from __future__ import annotations

import json

import pytest

from deployer.core.encodings import (
    cpus_from_nano,
    format_memory,
    image_tag,
    nano_from_cpus,
    parse_memory,
    parse_restart,
    restart_string,
    split_image_ref,
)
from deployer.core.labels import bot_labels, ownership_filters
from deployer.core.model import BotSpec
from deployer.core.spec import container_spec, spec_hash
from deployer.core.vocabulary import LABEL_BOT, LABEL_FLEET, LABEL_MANAGED, LABEL_SPEC, LABEL_SPEC_HASH


@pytest.mark.parametrize("policy, retries, text", [
    ("no", 0, "no"), (None, None, "no"), ("", 3, "no"), ("always", 5, "always"),
    ("unless-stopped", 0, "unless-stopped"), ("on-failure", 3, "on-failure:3"), ("on-failure", None, "on-failure:0"),
])
def test_restart_string(policy, retries, text):
    assert restart_string(policy, retries) == text


@pytest.mark.parametrize("text", ["no", "always", "unless-stopped", "on-failure:0", "on-failure:7"])
def test_parse_restart_inverts_restart_string(text):
    assert restart_string(*parse_restart(text)) == text


@pytest.mark.parametrize("cpus", [0.25, 0.5, 1.0, 1.5, 2.0, 0.001, 3.75])
def test_cpus_round_trip(cpus):
    assert cpus_from_nano(nano_from_cpus(cpus)) == cpus


def test_unset_cpus():
    assert nano_from_cpus(None) is None and cpus_from_nano(None) is None and cpus_from_nano(0) is None


@pytest.mark.parametrize("ref, tag, pull", [
    ("openclaw:2026.2.26", "2026.2.26", ("openclaw", "2026.2.26")),
    ("ghcr.io/openclaw/openclaw:1.2", "1.2", ("ghcr.io/openclaw/openclaw", "1.2")),
    ("registry:5000/app", None, ("registry:5000/app", "latest")),
    ("registry:5000/app:3", "3", ("registry:5000/app", "3")),
    ("app@sha256:" + "a" * 64, "@digest", ("app@sha256:" + "a" * 64, None)),
    ("busybox", None, ("busybox", "latest")),
])
def test_image_refs(ref, tag, pull):
    assert image_tag(ref) == tag
    assert split_image_ref(ref) == pull


@pytest.mark.parametrize("size, text", [
    (64 * 1024**2, "64m"), (1024**3, "1g"), (1536 * 1024**2, "1536m"), (4 * 1024**3, "4g"), (512 * 1024, "512k"),
    (1000, "1000b"), (1, "1b"), (0, "0b"),
])
def test_format_memory_in_the_manifests_units(size, text):
    assert format_memory(size) == text
    assert parse_memory(text) == size  # what the plan shows can be written in a manifest as it is


def test_bot_labels_ours_win_and_carry_the_spec():
    bot = BotSpec(name="ana", image="openclaw:1", labels=(("team", "x"), (LABEL_FLEET, "forged")), runtime="container",
                  provider=(("name", "anthropic"), ("model", "claude")), channels=("telegram",))
    spec = container_spec(bot)
    labels = bot_labels(bot, fleet="prod", spec=spec, spec_hash=spec_hash(spec), extra={"botmaker.revision": "abc"})
    assert labels["team"] == "x" and labels["botmaker.revision"] == "abc"
    assert labels[LABEL_FLEET] == "prod" and labels[LABEL_BOT] == "ana" and labels[LABEL_MANAGED] == "true"
    assert json.loads(labels[LABEL_SPEC]) == spec and labels[LABEL_SPEC_HASH] == spec_hash(spec)
    assert labels["botmaker.provider"] == "anthropic" and labels["botmaker.model"] == "claude"
    assert labels["botmaker.channels"] == "telegram" and "botmaker.name" not in labels


def test_ownership_filters():
    assert ownership_filters() == [f"{LABEL_MANAGED}=true"]
    assert ownership_filters("prod") == [f"{LABEL_MANAGED}=true", f"{LABEL_FLEET}=prod"]
