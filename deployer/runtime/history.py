"""Apply history kept on the engine: one never-started marker per apply, the newest KEEP kept.

Each entry is botmaker-history.<fleet>.<seq> (seq counts up per fleet and never changes, so
`rollback --to 12` means the same apply tomorrow). Its labels hold compact JSON:
  botmaker.history.meta    revision, time, who, CI job, kind (apply|rollback), result, summary
  botmaker.history.data.N  base64 of zlib-compressed JSON, in chunks of at most CHUNK characters:
                           per bot [spec hash, image ID, state, manifest file, spec hash key],
                           every distinct canonical spec once (bots sharing a spec share it), and
                           what the apply did to each bot it touched (created, updated, failed, ...)
What is recorded is what the engine runs after the apply (one list call for image IDs and
states). The spec is not read from the container's label alone, which is written at create and
cannot follow an in-place update (docker update changes limits, not labels): a bot the apply
changed, or found unchanged, runs the spec the apply planned, so that is recorded; any other bot
(failed and rolled back, not started) its label's spec with the in-place settings an inspect
before the apply saw. Image IDs are the ones the containers were created from (a tag can move;
the ID cannot).

Label sizes: dockerd keeps any size, but every list call that shows these markers carries
them, so one entry's data is capped at MAX_DATA characters (about 1,000 distinct bots); a
bigger fleet's entry keeps hashes and image IDs without specs and cannot be rolled back to.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deployer.core.encodings import cpus_from_nano, restart_string
from deployer.core.labels import ownership_filters
from deployer.core.model import DONE, FAILED, NOOP, NOT_REMOVED, NOT_STARTED, REPLACE, Method
from deployer.core.spec import canonical_json, spec_hash
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
    UNKNOWN_SPEC,
)
from deployer.errors import HistoryError
from deployer.plan.planner import PlanOptions, desired_spec

if TYPE_CHECKING:
    from deployer.backends.base import Backend, MarkerStore
    from deployer.core.model import Observed, ObservedContainer, Plan
    from deployer.runtime.applier import ApplyReport

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
    # what the apply did to each bot it touched, one of OUTCOMES; None: not recorded (an entry
    # written before deployer kept it)
    changes: dict[str, str] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "entry": self.seq, "revision": self.revision, "applied_at": self.applied_at,
            "applied_by": self.applied_by, "ci_job": self.ci_job, "kind": self.kind,
            "rollback_to": self.rollback_to, "result": self.result, "summary": self.summary,
            "restorable": self.restorable,
            "changes": None if self.changes is None else dict(sorted(self.changes.items())),
            "bots": {name: {"spec_hash": b.spec_hash, "image_id": b.image_id, "state": b.state,
                            "manifest": b.source_file} for name, b in sorted(self.bots.items())},
        }




def changes_of(report: ApplyReport) -> dict[str, str]:
    """Per bot the apply touched, what became of it (one of OUTCOMES)."""
    out: dict[str, str] = {}
    for r in report.results:
        out[r.bot] = DONE.get(r.action, r.action) if r.ok else FAILED
    for a in report.not_started:
        out[a.bot] = NOT_STARTED
    for bot in report.skipped:
        out[bot] = NOT_REMOVED
    return out


def entry_name(fleet: str, seq: int) -> str:
    return f"{HISTORY_PREFIX}{fleet}.{seq}"


# --- encoding (pure) -------------------------------------------------------------------------------

def bots_from_containers(containers: list[ObservedContainer], applied: Mapping[str, dict[str, Any]] | None = None,
                         inspected: Mapping[str, ObservedContainer] | None = None,
                         in_place_fields: frozenset[str] = frozenset()) -> dict[str, BotRecord]:
    """Per bot, what its canonical container runs (aside copies and unlabelled ones are skipped):
    its image ID and state as listed; its spec from `applied` (bot -> the canonical spec the apply
    put in place or found in place), else from its label, with the in-place fields an inspect of
    the same container saw (`inspected`, by container ID) where the backend changes them in place."""
    bots: dict[str, BotRecord] = {}
    for c in containers:
        bot = c.bot
        if not bot or c.name != CONTAINER_PREFIX + bot:
            continue
        spec: dict[str, Any] | None
        if applied is not None and bot in applied:
            spec = applied[bot]
        else:
            try:
                spec = json.loads(c.labels.get(LABEL_SPEC, ""))
            except ValueError:
                spec = None
            seen = (inspected or {}).get(c.id)
            if isinstance(spec, dict) and seen is not None and seen.inspected:
                spec = as_run(spec, seen, in_place_fields)
        if isinstance(spec, dict):
            digest = c.labels.get(LABEL_SPEC_HASH, "") if spec == _label_spec(c) else spec_hash(spec)
        else:
            spec, digest = None, c.labels.get(LABEL_SPEC_HASH, "")
        bots[bot] = BotRecord(digest, c.image_id, "running" if c.running else "stopped",
                              c.labels.get(LABEL_MANIFEST, ""), spec)
    return bots


def as_run(spec: dict[str, Any], c: ObservedContainer, in_place_fields: frozenset[str]) -> dict[str, Any]:
    """A recorded spec with the live values of the fields the backend changes in place (memory,
    cpus, restart on Docker), as an inspect of the container saw them."""
    live = {"memory": c.memory_bytes or None, "cpus": cpus_from_nano(c.nano_cpus),
            "restart": restart_string(c.restart_policy, c.restart_max_retries)}
    return {**spec, **{k: v for k, v in live.items() if k in in_place_fields and k in spec}}


def _label_spec(c: ObservedContainer) -> Any:
    try:
        return json.loads(c.labels.get(LABEL_SPEC, ""))
    except ValueError:
        return None


def in_place_after(observed: Observed, plan: Plan, options: PlanOptions,
                   report: ApplyReport | None = None) -> dict[str, str]:
    """The units this apply leaves running a spec other than their label's, by id, with the hash of
    that spec: for the record, which the next plan reads (no engine call here).

    A unit runs its action's desired spec when the planner found it so (a no-op) or its update,
    start or stop succeeded; then it is listed when that spec's hash is not its label's. A unit
    the plan did not inspect was taken at its runs_hash, which stays. A unit this apply left alone
    or failed to change keeps what it ran before: the live settings an inspect saw, else what the
    last record said; an in-place update that failed may have changed some settings, so its spec
    is UNKNOWN_SPEC (the next plan inspects it). Replaced and removed units are gone."""
    ok = {r.bot for r in report.results if r.ok} if report is not None else set()
    failed = {r.bot for r in report.results if not r.ok} if report is not None else set()
    acting = {a.container_id: a for a in plan.actions if a.container_id}
    out: dict[str, str] = {}
    for c in observed.containers:
        label = c.labels.get(LABEL_SPEC_HASH)
        a = acting.get(c.id)
        runs: str | None = _ran_before(c, options)
        if a is not None and a.desired is not None and a.method is not Method.LEAVE:
            # a replace makes a new unit (or, in the engine, relabels this one); finishing one
            # keeps the unit an earlier apply made, with its in-place changes
            same_unit = a.action != REPLACE or a.method is Method.FINISH_REPLACE
            if a.action == NOOP or (a.bot in ok and same_unit):
                runs = spec_hash(desired_spec(a.desired, options)) if c.inspected else c.applied_hash
            elif a.bot in ok:
                continue  # replaced
            elif a.bot in failed and a.method in (Method.IN_PLACE, Method.HOT_RELOAD):
                runs = UNKNOWN_SPEC
        elif a is not None and a.bot in ok:
            continue  # removed
        if runs and runs != label:
            out[c.id] = runs
    return out


def _ran_before(c: ObservedContainer, options: PlanOptions) -> str | None:
    """The hash of the spec a unit ran when it was observed: its label's spec with the live
    in-place settings when it was inspected, else the last record's word (None: its label's)."""
    spec = _label_spec(c) if c.inspected else None
    if not isinstance(spec, dict):
        return c.applied_hash
    live = as_run(spec, c, options.traits.in_place_fields)
    return None if live == spec else spec_hash(live)


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
    changes = {} if entry.changes is None else {"changes": dict(sorted(entry.changes.items()))}
    data = _pack({"bots": rows, "specs": specs, **changes})
    if len(data) > MAX_DATA:  # too big to carry on every list call: keep the record, not the specs
        data = _pack({"bots": {n: r[:4] + [""] for n, r in rows.items()}, "specs": {}, **changes})
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
        changes = data.get("changes")
        changes = None if changes is None else {str(k): str(v) for k, v in dict(changes).items()}
    except (KeyError, ValueError, TypeError, zlib.error) as exc:
        raise HistoryError(f"unreadable history entry ({type(exc).__name__}: {exc})") from None
    return Entry(seq, meta.get("revision", ""), meta.get("at", ""), meta.get("by", ""), meta.get("ci", ""),
                 meta.get("kind", "apply"), meta.get("result", ""), meta.get("summary") or {}, meta.get("to"), bots,
                 restorable=not meta.get("unrestorable") and all(b.spec is not None for b in bots.values()),
                 changes=changes)


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


def write_entry(engine: Backend, fleet: str, entry: Entry, *, applied: Mapping[str, dict[str, Any]] | None = None,
                inspected: Mapping[str, ObservedContainer] | None = None, keep: int = KEEP) -> Entry:
    """Record what the fleet runs now as the next entry (call it while holding the fleet lock),
    then remove entries beyond the newest `keep`. `applied` and `inspected`: see
    bots_from_containers; `entry` gives the meta and the changes."""
    containers = engine.list_containers(labels=ownership_filters(fleet))
    _, markers = engine.list_markers(LABEL_HISTORY, fleet)
    ours = [(int(m.labels.get(LABEL_HISTORY_SEQ, "0") or 0), m) for m in markers if m.name.startswith(HISTORY_PREFIX + fleet + ".")]
    seq = max((s for s, _ in ours), default=0) + 1
    entry = Entry(seq, entry.revision, entry.applied_at, entry.applied_by, entry.ci_job, entry.kind, entry.result,
                  entry.summary, entry.rollback_to,
                  bots_from_containers(containers, applied, inspected, engine.traits.in_place_fields),
                  changes=entry.changes)
    engine.create_marker(entry_name(fleet, seq), encode_labels(fleet, entry))
    for old_seq, m in ours:
        if old_seq <= seq - keep:
            engine.remove_marker(m.id, m.name)
    return entry


__all__ = ["Entry", "BotRecord", "read_history", "write_entry", "find_entry", "changes_of", "KEEP"]
