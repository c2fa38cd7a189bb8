"""Apply history kept on the engine: one never-started marker per apply, the newest KEEP kept.

Each entry is botmaker-history.<fleet>.<seq> (seq counts up per fleet and never changes, so
`rollback --to 12` means the same apply tomorrow). Its labels hold compact JSON:
  botmaker.history.meta    revision, time, who, CI job, kind (apply|rollback), result, summary
  botmaker.history.data.N  base64 of zlib-compressed JSON, in chunks of at most CHUNK characters:
                           per bot [spec hash, image ID, state, manifest file, spec hash key], and
                           every distinct canonical spec once (bots sharing a spec share it)
What is recorded is what the engine runs after the apply (one list call): a bot whose change
failed and was rolled back is recorded with the old container's spec and image ID, the image
ID being the one the container was created from (a tag can move; the ID cannot).

Label sizes: dockerd keeps any size, but every list call that shows these markers carries
them, so one entry's data is capped at MAX_DATA characters (about 1,000 distinct bots); a
bigger fleet's entry keeps hashes and image IDs without specs and cannot be rolled back to.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deployer.core.labels import ownership_filters
from deployer.core.spec import canonical_json
from deployer.core.vocabulary import (
    CONTAINER_PREFIX,
    HISTORY_PREFIX,
    LABEL_HISTORY,
    LABEL_HISTORY_DATA,
    LABEL_HISTORY_META,
    LABEL_HISTORY_SEQ,
    LABEL_MANIFEST,
    LABEL_SPEC,
    LABEL_SPEC_HASH,
)
from deployer.errors import HistoryError

if TYPE_CHECKING:
    from deployer.backends.base import Backend, MarkerStore
    from deployer.core.model import ObservedContainer

KEEP = 20
CHUNK = 60_000
MAX_DATA = 1_000_000


@dataclass(frozen=True)
class BotRecord:
    spec_hash: str
    image_id: str
    state: str  # running | stopped, as the engine showed it after the apply
    source_file: str = ""
    spec: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Entry:
    seq: int
    revision: str
    applied_at: str
    applied_by: str
    ci_job: str
    kind: str  # apply | rollback
    result: str
    summary: dict[str, int]
    rollback_to: int | None = None
    bots: dict[str, BotRecord] = field(default_factory=dict)
    restorable: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "entry": self.seq, "revision": self.revision, "applied_at": self.applied_at,
            "applied_by": self.applied_by, "ci_job": self.ci_job, "kind": self.kind,
            "rollback_to": self.rollback_to, "result": self.result, "summary": self.summary,
            "restorable": self.restorable,
            "bots": {name: {"spec_hash": b.spec_hash, "image_id": b.image_id, "state": b.state,
                            "manifest": b.source_file} for name, b in sorted(self.bots.items())},
        }


def entry_name(fleet: str, seq: int) -> str:
    return f"{HISTORY_PREFIX}{fleet}.{seq}"


# --- encoding (pure) -------------------------------------------------------------------------------

def bots_from_containers(containers: list[ObservedContainer]) -> dict[str, BotRecord]:
    """Per bot, what its canonical container runs (aside copies and unlabelled ones are skipped)."""
    bots: dict[str, BotRecord] = {}
    for c in containers:
        bot = c.bot
        if not bot or c.name != CONTAINER_PREFIX + bot:
            continue
        try:
            spec = json.loads(c.labels.get(LABEL_SPEC, ""))
        except ValueError:
            spec = None
        bots[bot] = BotRecord(c.labels.get(LABEL_SPEC_HASH, ""), c.image_id, "running" if c.running else "stopped",
                              c.labels.get(LABEL_MANIFEST, ""), spec if isinstance(spec, dict) else None)
    return bots


def encode_labels(fleet: str, entry: Entry) -> dict[str, str]:
    meta = {"revision": entry.revision, "at": entry.applied_at, "by": entry.applied_by, "ci": entry.ci_job,
            "kind": entry.kind, "to": entry.rollback_to, "result": entry.result, "summary": entry.summary}
    specs: dict[str, Any] = {}
    rows: dict[str, list[Any]] = {}
    for name, b in sorted(entry.bots.items()):
        key = b.spec_hash if b.spec is not None else ""
        if b.spec is not None:
            specs.setdefault(key, b.spec)
        rows[name] = [b.spec_hash, b.image_id, b.state, b.source_file, key]
    data = _pack({"bots": rows, "specs": specs})
    if len(data) > MAX_DATA:  # too big to carry on every list call: keep the record, not the specs
        data = _pack({"bots": {n: r[:4] + [""] for n, r in rows.items()}, "specs": {}})
        meta["unrestorable"] = f"specs of {len(specs)} bots exceed {MAX_DATA} characters"
    labels = {LABEL_HISTORY: fleet, LABEL_HISTORY_SEQ: str(entry.seq), LABEL_HISTORY_META: canonical_json(meta)}
    for i in range(0, max(1, len(data)), CHUNK):
        labels[f"{LABEL_HISTORY_DATA}{i // CHUNK}"] = data[i:i + CHUNK]
    return labels


def decode_labels(labels: dict[str, str]) -> Entry:
    try:
        seq = int(labels[LABEL_HISTORY_SEQ])
        meta = json.loads(labels[LABEL_HISTORY_META])
        chunks = sorted((int(k[len(LABEL_HISTORY_DATA):]), v) for k, v in labels.items() if k.startswith(LABEL_HISTORY_DATA))
        data = _unpack("".join(v for _, v in chunks))
        bots = {
            name: BotRecord(h, image_id, state, source, data["specs"].get(key) if key else None)
            for name, (h, image_id, state, source, key) in data["bots"].items()
        }
    except (KeyError, ValueError, TypeError, zlib.error) as exc:
        raise HistoryError(f"unreadable history entry ({type(exc).__name__}: {exc})") from None
    return Entry(seq, meta.get("revision", ""), meta.get("at", ""), meta.get("by", ""), meta.get("ci", ""),
                 meta.get("kind", "apply"), meta.get("result", ""), meta.get("summary") or {}, meta.get("to"), bots,
                 restorable=not meta.get("unrestorable") and all(b.spec is not None for b in bots.values()))


def _pack(data: Any) -> str:
    return base64.b64encode(zlib.compress(canonical_json(data).encode(), 9)).decode("ascii")


def _unpack(text: str) -> Any:
    return json.loads(zlib.decompress(base64.b64decode(text.encode("ascii"), validate=True)))


def find_entry(entries: list[Entry], to: str) -> Entry:
    """`--to 12` / `--to #12`: that entry; `--to <revision or a prefix of 4+ chars>`: the newest
    entry with it."""
    wanted = to.lstrip("#")
    known = ", ".join(f"#{e.seq}" for e in entries) or "none"
    if wanted.isdigit() and len(wanted) < 7:
        found = [e for e in entries if e.seq == int(wanted)]
        if not found:
            raise HistoryError(f"no history entry #{wanted} (kept: {known})")
        return found[0]
    if len(wanted) < 4:
        raise HistoryError(f"--to {to}: give an entry number or at least 4 characters of a revision")
    found = [e for e in entries if e.revision == wanted or e.revision.startswith(wanted)]
    revisions = sorted({e.revision for e in found})
    if not found:
        raise HistoryError(f"no history entry has revision {wanted} (kept: {known})")
    if len(revisions) > 1:
        raise HistoryError(f"--to {to} matches several revisions: {', '.join(revisions)}; give more of it")
    return max(found, key=lambda e: e.seq)


# --- on the engine ----------------------------------------------------------------------------------

def read_history(engine: MarkerStore, fleet: str) -> list[Entry]:
    """The kept entries of a fleet, newest first (one list call)."""
    _, markers = engine.list_markers(LABEL_HISTORY, fleet)
    entries = []
    for m in markers:
        if m.name.startswith(HISTORY_PREFIX + fleet + "."):
            entries.append(decode_labels(m.labels))
    return sorted(entries, key=lambda e: e.seq, reverse=True)


def write_entry(engine: Backend, fleet: str, entry: Entry, *, keep: int = KEEP) -> Entry:
    """Record what the fleet runs now as the next entry (call it while holding the fleet lock),
    then remove entries beyond the newest `keep`."""
    containers = engine.list_containers(labels=ownership_filters(fleet))
    _, markers = engine.list_markers(LABEL_HISTORY, fleet)
    ours = [(int(m.labels.get(LABEL_HISTORY_SEQ, "0") or 0), m) for m in markers if m.name.startswith(HISTORY_PREFIX + fleet + ".")]
    seq = max((s for s, _ in ours), default=0) + 1
    entry = Entry(seq, entry.revision, entry.applied_at, entry.applied_by, entry.ci_job, entry.kind, entry.result,
                  entry.summary, entry.rollback_to, bots_from_containers(containers))
    engine.create_marker(entry_name(fleet, seq), encode_labels(fleet, entry))
    for old_seq, m in ours:
        if old_seq <= seq - keep:
            engine.remove_marker(m.id, m.name)
    return entry


__all__ = ["Entry", "BotRecord", "read_history", "write_entry", "find_entry", "KEEP"]


def render_history(fleet: str, entries: list[Entry], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"fleet": fleet, "entries": [e.as_json() for e in entries]}, indent=2, sort_keys=True)
    if not entries:
        return f"fleet {fleet} has no recorded applies"
    lines = []
    for e in entries:
        what = f"rollback to #{e.rollback_to}" if e.kind == "rollback" else "apply"
        lines.append(f"#{e.seq}  {e.applied_at}  {what}  revision {e.revision}  by {e.applied_by}"
                     + (f"  ({e.ci_job})" if e.ci_job else ""))
        lines.append(f"    result: {e.result}" + ("" if e.restorable else "  [specs not recorded: cannot roll back]"))
        for name, b in sorted(e.bots.items()):
            image = (b.spec or {}).get("image", "?")
            image = "image pinned by a rollback" if image.startswith("sha256:") else image
            lines.append(f"    {name:<30} {b.state:<8} {b.spec_hash:<36} {image} ({b.image_id.split(':', 1)[-1][:12]})")
    return "\n".join(lines)
