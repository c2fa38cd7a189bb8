"""History entries as labels (pure): round trip, shared specs, chunking, the size cap, --to; what an
entry records after an in-place update, and how `history` shows what each entry changed."""

from __future__ import annotations

import json

import pytest

from deployer.cli.render import render_history
from deployer.core.model import CREATE, NOOP, REMOVE, REPLACE, UPDATE, Action, BotSpec, ObservedContainer, Port, Volume
from deployer.core.spec import container_spec, spec_hash
from deployer.core.vocabulary import LABEL_BOT, LABEL_HISTORY_DATA, LABEL_SPEC, LABEL_SPEC_HASH
from deployer.errors import HistoryError
from deployer.runtime.applier import ApplyReport, BotResult
from deployer.runtime.history import (
    CHUNK,
    MAX_DATA,
    BotRecord,
    Entry,
    bots_from_containers,
    changes_of,
    decode_labels,
    encode_labels,
    find_entry,
)


def record(i: int, *, distinct: bool = True) -> tuple[str, BotRecord]:
    """A bot like a real fleet's (distinct env, port, state dir, secrets mount); with
    distinct=False one whose canonical spec is the same as every other's."""
    bot = BotSpec(name=f"bot{i:04d}", image="ghcr.io/acme/openclaw:2026.1",
                  env=(("BOT_INDEX", str(i) if distinct else "0"), ("LOG_LEVEL", "info")),
                  secrets=("ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN") if distinct else (),
                  ports=(Port(18789, 20000 + i if distinct else 20000),),
                  volumes=(Volume(f"/srv/bots/bot{i:04d}" if distinct else "/srv/shared", "/home/node/.openclaw"),),
                  memory_bytes=512 << 20, nano_cpus=500_000_000)
    spec = container_spec(bot, "/srv/secrets")
    return bot.name, BotRecord(spec_hash(spec), "sha256:" + f"{i:064x}", "running", f"bots/{bot.name}.yaml", spec)


def entry(bots: dict[str, BotRecord], seq: int = 7, revision: str = "3f2a9c1e") -> Entry:
    return Entry(seq, revision, "2026-12-01T22:00:00Z", "ci@runner", "https://ci/job/1", "apply",
                 "2 succeeded, 0 failed", {"create": 2}, None, bots)


def test_round_trip():
    bots = dict(record(i) for i in range(3))
    back = decode_labels(encode_labels("demo", entry(bots)))
    assert back == entry(bots) and back.restorable
    assert {n: b.spec for n, b in back.bots.items()} == {n: b.spec for n, b in bots.items()}


def test_bots_sharing_a_spec_store_it_once():
    same = dict(record(i, distinct=False) for i in range(200))
    distinct = dict(record(i) for i in range(200))
    size = lambda bots: sum(len(v) for k, v in encode_labels("demo", entry(bots)).items() if k.startswith(LABEL_HISTORY_DATA))
    assert size(same) < size(distinct) / 3


def test_1000_bots_fit_in_chunked_labels():
    bots = dict(record(i) for i in range(1000))
    labels = encode_labels("demo", entry(bots))
    chunks = [v for k, v in labels.items() if k.startswith(LABEL_HISTORY_DATA)]
    assert len(chunks) > 1 and all(len(c) <= CHUNK for c in chunks)
    assert sum(map(len, chunks)) <= MAX_DATA
    back = decode_labels(labels)
    assert back.restorable and len(back.bots) == 1000 and back.bots["bot0999"].spec == bots["bot0999"].spec


def test_too_big_keeps_hashes_and_image_ids_but_cannot_be_restored(monkeypatch):
    import deployer.runtime.history as history

    monkeypatch.setattr(history, "MAX_DATA", 500)
    bots = dict(record(i) for i in range(20))
    back = decode_labels(encode_labels("demo", entry(bots)))
    assert not back.restorable
    assert {n: (b.spec_hash, b.image_id) for n, b in back.bots.items()} == \
        {n: (b.spec_hash, b.image_id) for n, b in bots.items()}


def test_unreadable_entry_is_one_error():
    labels = encode_labels("demo", entry(dict(record(i) for i in range(2))))
    labels[LABEL_HISTORY_DATA + "0"] = "not base64 !!"
    with pytest.raises(HistoryError, match="unreadable history entry"):
        decode_labels(labels)


ENTRIES = [entry({}, 12, "aaaa1111"), entry({}, 11, "bbbb2222"), entry({}, 10, "aaaa1111"),
           entry({}, 9, "aaaa9999")]


@pytest.mark.parametrize("to, seq", [("11", 11), ("#10", 10), ("bbbb", 11), ("aaaa1111", 12), ("aaaa9", 9)])
def test_find_entry(to, seq):
    assert find_entry(ENTRIES, to).seq == seq


@pytest.mark.parametrize("to, message", [
    ("3", r"no history entry #3 \(kept: #12, #11, #10, #9\)"),
    ("aaaa", "matches several revisions: aaaa1111, aaaa9999"),
    ("abc", "at least 4 characters"),
    ("cccc", "no history entry has revision cccc"),
])
def test_find_entry_refusals(to, message):
    with pytest.raises(HistoryError, match=message):
        find_entry(ENTRIES, to)


# --- issue 24: what an entry records and how `history` shows it ------------------------------------


def test_changes_of_says_what_became_of_each_bot():
    report = ApplyReport(
        results=[BotResult("a", CREATE, True, "created"), BotResult("b", REPLACE, True, "replaced"),
                 BotResult("c", UPDATE, True, "updated"), BotResult("d", NOOP, True, "cleaned up"),
                 BotResult("e", REPLACE, False, "unhealthy; rolled back", rolled_back=True),
                 BotResult("g", REMOVE, True, "removed")],
        not_started=[Action("h", UPDATE)], skipped=["i"])
    assert changes_of(report) == {"a": "created", "b": "replaced", "c": "updated", "d": "cleaned up",
                                  "e": "failed", "g": "removed", "h": "not started",
                                  "i": "not removed"}


def big_entry(changes: dict[str, str] | None) -> Entry:
    bots = dict(record(i, distinct=False) for i in range(1000))
    return Entry(3, "3f2a9c1e", "2026-12-01T22:00:00Z", "ci@runner", "", "apply", "12 succeeded, 1 failed",
                 {"replace": 13}, None, bots, changes=changes)


def test_history_text_says_what_changed_bounded_and_lists_bots_only_when_asked():
    changes = {f"bot{i:04d}": "replaced" for i in range(12)} | {"bot0500": "failed"}
    e = big_entry(changes)
    text = render_history("demo", [e], "text")
    lines = text.splitlines()
    assert lines[1:4] == [
        "    result: 12 succeeded, 1 failed",
        "    replaced 12: " + ", ".join(f"bot{i:04d}" for i in range(10)) + " +2 more",
        "    failed 1: bot0500",
    ], text
    assert len(lines) == 5 and "--entry N, or --bots" in lines[-1], text
    with_bots = render_history("demo", [e], "text", bots=True).splitlines()
    assert len(with_bots) == 4 + 1 + 1000 and "    bots (1000):" in with_bots
    assert any(line.strip().startswith("bot0999 ") and "ghcr.io/acme/openclaw:2026.1 (" in line for line in with_bots)


def test_history_json_keeps_every_bot_and_the_changes():
    e = decode_labels(encode_labels("demo", big_entry({"bot0001": "updated"})))
    doc = json.loads(render_history("demo", [e], "json"))
    [row] = doc["entries"]
    assert len(row["bots"]) == 1000 and row["changes"] == {"bot0001": "updated"}
    assert set(row) == {"entry", "revision", "applied_at", "applied_by", "ci_job", "kind", "rollback_to", "result",
                        "summary", "restorable", "changes", "bots"}


def test_an_entry_written_before_changes_were_kept_reads_and_says_so():
    labels = encode_labels("demo", entry(dict(record(i) for i in range(2))))  # changes=None: not written
    back = decode_labels(labels)
    assert back.changes is None
    assert "planned: 2 create (which bots changed was not recorded)" in render_history("demo", [back], "text")


def labelled(bot: BotSpec, cid: str = "c1", **kw) -> ObservedContainer:
    spec = container_spec(bot)
    return ObservedContainer(cid, "botmaker-" + bot.name, bot.image, "sha256:" + "1" * 64, "running",
                             {LABEL_BOT: bot.name, LABEL_SPEC: json.dumps(spec), LABEL_SPEC_HASH: spec_hash(spec)},
                             **kw)


def test_an_entry_records_the_applied_spec_not_the_stale_label():
    """An in-place update cannot change the container's label: the applied spec is recorded."""
    before = BotSpec(name="a", image="app:1")
    after = BotSpec(name="a", image="app:1", memory_bytes=64 << 20, nano_cpus=500_000_000)
    c = labelled(before)
    [rec] = bots_from_containers([c], {"a": container_spec(after)}).values()
    assert rec.spec == container_spec(after) and rec.spec_hash == spec_hash(container_spec(after))
    [rec] = bots_from_containers([c]).values()  # nothing applied: the label, and its own hash
    assert rec.spec == container_spec(before) and rec.spec_hash == c.labels[LABEL_SPEC_HASH]


def test_a_bot_not_applied_is_recorded_with_the_live_in_place_settings_an_inspect_saw():
    c = labelled(BotSpec(name="a", image="app:1"))
    seen = ObservedContainer(c.id, c.name, c.image, c.image_id, c.state, c.labels, memory_bytes=64 << 20,
                             nano_cpus=500_000_000, restart_policy="always", restart_max_retries=0, inspected=True)
    [rec] = bots_from_containers([c], {}, {c.id: seen}, frozenset({"memory", "cpus", "restart"})).values()
    assert (rec.spec["memory"], rec.spec["cpus"], rec.spec["restart"]) == (64 << 20, 0.5, "always")
    assert rec.spec_hash == spec_hash(container_spec(BotSpec(name="a", image="app:1", memory_bytes=64 << 20,
                                                             nano_cpus=500_000_000, restart_policy="always")))
    [rec] = bots_from_containers([c], {}, {c.id: seen}, frozenset()).values()  # no in-place fields: the label's
    assert rec.spec_hash == c.labels[LABEL_SPEC_HASH]
    [rec] = bots_from_containers([c], {}, {"another": seen}, frozenset({"memory"})).values()  # another container
    assert rec.spec_hash == c.labels[LABEL_SPEC_HASH]
