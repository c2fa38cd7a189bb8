"""Issue 24: rollback pins a bot's image to the recorded image ID only where that is needed: the
tag has moved (resolves to another image now, or to none), or the container runs the recorded
image and its spec label is stale (updated in place since it was made) in a way that would keep
the planner from looking. A bot that runs another image now keeps a tag that still resolves to the
recorded image (review of issue 24: else the manifests of the entry replace it again)."""

from __future__ import annotations

import pytest

from deployer.core.model import BotSpec, ObservedContainer
from deployer.core.spec import container_spec, spec_hash
from deployer.core.vocabulary import LABEL_SPEC_HASH
from deployer.flows.rollback import fleet_at, notes, tags_to_keep
from deployer.runtime.history import BotRecord, Entry

TAG, OLD, NEW = "app:1", "sha256:" + "1" * 64, "sha256:" + "2" * 64
PLAIN = container_spec(BotSpec(name="a", image=TAG))
LIMITED = container_spec(BotSpec(name="a", image=TAG, memory_bytes=64 << 20))


def entry(spec: dict, image_id: str = OLD, seq: int = 1) -> Entry:
    return Entry(seq, "rev", "2026-12-01T22:00:00Z", "me", "", "apply", "1 succeeded, 0 failed", {}, None,
                 {"a": BotRecord(spec_hash(spec), image_id, "running", "", spec)})


def container(label_spec: dict, image_id: str = OLD) -> ObservedContainer:
    return ObservedContainer("c1", "botmaker-a", TAG, image_id, "running", {LABEL_SPEC_HASH: spec_hash(label_spec)})


CASES = [
    # target,          newest entry,      container (label, image ID runs), tag resolves to, kept?
    ("what runs now", entry(PLAIN), entry(PLAIN), container(PLAIN), OLD, True),
    ("another spec, same image", entry(LIMITED), entry(PLAIN), container(PLAIN), OLD, True),
    ("runs another image, the tag moved to it", entry(PLAIN), entry(PLAIN, NEW), container(PLAIN, NEW), NEW, False),
    ("runs another image, the tag did not move", entry(PLAIN), entry(PLAIN, NEW), container(PLAIN, NEW), OLD, True),
    ("runs another image, stale label hashes like the target", entry(PLAIN), entry(LIMITED, NEW),
     container(PLAIN, NEW), OLD, True),
    ("the tag moved", entry(PLAIN), entry(PLAIN), container(PLAIN), NEW, False),
    ("tag gone", entry(PLAIN), entry(PLAIN), container(PLAIN), None, False),
    # updated in place to LIMITED since: the label still says PLAIN; a target of PLAIN hashes like
    # the label, so the planner would not inspect: pinned, it is inspected and the limit seen
    ("stale label, target hashes like it", entry(PLAIN), entry(LIMITED), container(PLAIN), OLD, False),
    ("stale label, target differs from it", entry(LIMITED), entry(LIMITED), container(PLAIN), OLD, True),
    ("no container, the tag did not move", entry(PLAIN), entry(PLAIN), None, OLD, True),
    ("no container, the tag moved", entry(PLAIN), entry(PLAIN), None, NEW, False),
    ("no image ID recorded (swarm)", entry(PLAIN, ""), entry(PLAIN, ""), container(PLAIN, ""), None, False),
]


@pytest.mark.parametrize("target, newest, running, tag_id, kept", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_tags_to_keep(target, newest, running, tag_id, kept):
    keep = tags_to_keep(target, newest, {"a": running} if running else {}, {TAG: tag_id})
    assert keep == ({"a"} if kept else set())


def test_fleet_at_pins_only_what_is_not_kept_and_the_note_says_which():
    e = entry(PLAIN)
    [kept] = fleet_at(e, "demo", keep_tags={"a"}).bots
    [pinned] = fleet_at(e, "demo").bots
    assert (kept.image, pinned.image) == (TAG, OLD)
    assert "no image is pinned" in notes(e, fleet_at(e, "demo", keep_tags={"a"}), None)[0]
    assert f"pinned to the image ID it ran then (a tag may have moved since): {TAG} -> {'1' * 12}." in \
        notes(e, fleet_at(e, "demo"), None)[0]
