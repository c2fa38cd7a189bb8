"""Revision stamps: which git revision of which manifest file was applied, when and by whom.

Container labels are immutable, so they record what a container was created from; the fleet's
last-applied record (a marker container replaced on every apply, even when no container
changed) records the latest apply, and which containers it left running a spec other than
their label's (updated in place since they were created): without it, a manifest put back to
what such a label says would be planned as no change (see ObservedContainer.runs_hash).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from deployer.backends.base import MarkerStore
from deployer.core.model import BotSpec
from deployer.core.spec import canonical_json
from deployer.core.vocabulary import (
    LABEL_APPLIED_AT,
    LABEL_APPLIED_BY,
    LABEL_CI_JOB,
    LABEL_MANAGED,
    LABEL_MANIFEST,
    LABEL_RECORD,
    LABEL_RESULT,
    LABEL_REVISION,
    LABEL_SUMMARY,
    LABEL_UPDATED_IN_PLACE,
    MANAGED_RECORD,
    RECORD_PREFIX,
)
from deployer.runtime.lock import ci_job_url, whoami


def git_revision(paths: list[str]) -> str:
    """HEAD of the repository holding the manifests, '-dirty' when they have local changes."""
    first = Path(paths[0]) if paths else Path(".")
    where = first if first.is_dir() else first.parent
    try:
        head = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--", *map(os.path.abspath, paths)],
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass(frozen=True)
class Stamp:
    revision: str
    applied_at: str
    applied_by: str
    # the apply's fleet-lock token: the old units its replaces keep aside carry it in their name,
    # so that nobody takes them for leftovers while this run lives ("": none)
    run: str = ""

    @classmethod
    def now(cls, revision: str, run: str = "") -> Stamp:
        return cls(revision, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   f"{whoami()}@{socket.gethostname()}", run)

    def labels_for(self, bot: BotSpec) -> dict[str, str]:
        return {LABEL_REVISION: self.revision, LABEL_MANIFEST: bot.source_file,
                LABEL_APPLIED_AT: self.applied_at, LABEL_APPLIED_BY: self.applied_by}


def record_name(fleet: str) -> str:
    return RECORD_PREFIX + fleet


def write_record(engine: MarkerStore, fleet: str, stamp: Stamp, summary: dict[str, int], result: str,
                 updated_in_place: Mapping[str, str] | None = None) -> None:
    """Replace the fleet's last-applied record (call it while holding the fleet lock).
    `updated_in_place`: the containers the apply leaves updated in place (history.in_place_after)."""
    old = engine.find_marker(record_name(fleet))
    if old is not None:
        engine.remove_marker(old[0], record_name(fleet))
    labels = {
        LABEL_RECORD: fleet, LABEL_REVISION: stamp.revision, LABEL_APPLIED_AT: stamp.applied_at,
        LABEL_APPLIED_BY: stamp.applied_by, LABEL_SUMMARY: json.dumps(summary, sort_keys=True), LABEL_RESULT: result,
        LABEL_CI_JOB: ci_job_url(),
    }
    if updated_in_place:
        # listed by the observer's one list call of managed units (a label key they share), which
        # is how a plan learns of them at no extra call; a fleet never updated in place has none
        labels |= {LABEL_UPDATED_IN_PLACE: canonical_json(dict(updated_in_place)), LABEL_MANAGED: MANAGED_RECORD}
    engine.create_marker(record_name(fleet), labels)


def read_record(engine: MarkerStore, fleet: str) -> dict[str, str] | None:
    found = engine.find_marker(record_name(fleet))
    if found is None:
        return None
    labels = found[1]
    return {
        "revision": labels.get(LABEL_REVISION, ""), "applied_at": labels.get(LABEL_APPLIED_AT, ""),
        "applied_by": labels.get(LABEL_APPLIED_BY, ""), "summary": labels.get(LABEL_SUMMARY, ""),
        "result": labels.get(LABEL_RESULT, ""), "ci_job": labels.get(LABEL_CI_JOB, ""),
    }


def updated_in_place_of(labels: Mapping[str, str]) -> dict[str, str]:
    """A record's units updated in place (unit id -> the hash of the spec it runs); {} when it
    lists none or cannot be read (then the labels are taken at their word, as before)."""
    try:
        data = json.loads(labels.get(LABEL_UPDATED_IN_PLACE) or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, str) and v}
