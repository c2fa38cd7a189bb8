"""Rollback: the fleet as a history entry recorded it, as a FleetSpec the usual planner and
applier take (with the lock, confirmation, budget and record of any apply).

Each bot is rebuilt from its recorded canonical spec (specinverse.bot_from_spec) with its image
pinned to the image ID it ran: a tag may point elsewhere now. Secrets are today's files (only
fingerprints were ever recorded), so a rotated secret stays rotated.
"""

from __future__ import annotations

from deployer.core.model import FleetSpec
from deployer.core.spec_inverse import bot_from_spec, secrets_dir_of
from deployer.errors import HistoryError
from deployer.runtime.history import Entry


def fleet_at(entry: Entry, fleet: str) -> FleetSpec:
    if not entry.restorable:
        raise HistoryError(f"history entry #{entry.seq} of fleet {fleet} did not record every bot's spec "
                           "(too big, or unreadable specs), so it cannot be rolled back to")
    bots = []
    secrets_dir = None
    for name, rec in sorted(entry.bots.items()):
        assert rec.spec is not None
        bots.append(bot_from_spec(name, rec.spec, state=rec.state, pull_policy="Never", source_file=rec.source_file,
                                  image=rec.image_id or None))
        secrets_dir = secrets_dir or secrets_dir_of(name, rec.spec)
    return FleetSpec(name=fleet, secrets_dir=secrets_dir, bots=tuple(bots))


def banner(entry: Entry, fleet: str) -> str:
    return (f"Rollback of fleet {fleet} to history entry #{entry.seq}: revision {entry.revision}, applied "
            f"{entry.applied_at} by {entry.applied_by} ({entry.result}).")


def notes(entry: Entry, spec: FleetSpec, secrets_dir: str | None) -> list[str]:
    pinned = sorted({f"{(rec.spec or {}).get('image')} -> {rec.image_id.split(':', 1)[-1][:12]}"
                     for rec in entry.bots.values() if rec.image_id})
    out = [f"Note: this is a rollback to entry #{entry.seq}; images are pinned to the image IDs that ran then "
           f"(a tag may have moved since): {', '.join(pinned) or 'none'}."]
    if any(b.secrets for b in spec.bots):
        out.append(f"Note: secrets are today's files in {secrets_dir}: rotated secrets are not rolled back.")
    out.append("Warning: the next `deployer apply` of the manifests on the branch rolls this forward again, "
               "unless the manifests are reverted in git (git revert) to match.")
    return out

