"""History entries as labels (pure): round trip, shared specs, chunking, the size cap, --to."""

from __future__ import annotations

import pytest

from deployer.core.model import BotSpec, Port, Volume
from deployer.core.spec import container_spec, spec_hash
from deployer.core.vocabulary import LABEL_HISTORY_DATA
from deployer.errors import HistoryError
from deployer.runtime.history import (
    CHUNK,
    MAX_DATA,
    BotRecord,
    Entry,
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
