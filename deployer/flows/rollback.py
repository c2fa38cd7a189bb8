"""Rollback: the fleet as a history entry recorded it, as a FleetSpec the usual planner and
applier take (with the lock, confirmation, budget and record of any apply).

Each bot is rebuilt from its recorded canonical spec (spec_inverse.bot_from_spec). Its image is
pinned to the image ID it ran only where its tag has moved since (it resolves to another image
now, or to none); a tag that still resolves to the recorded image is kept, so a rollback to what
runs is no change, and after a rollback the manifests of that entry (a git revert) plan no change
either: no bot is replaced for the pin alone. Secrets are today's files (only fingerprints were
ever recorded), so a rotated secret stays rotated.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from deployer.core.labels import ownership_filters
from deployer.core.model import FleetSpec, ObservedContainer
from deployer.core.spec_inverse import bot_from_spec, secrets_dir_of
from deployer.core.vocabulary import CONTAINER_PREFIX, LABEL_SPEC_HASH
from deployer.errors import HistoryError
from deployer.runtime.history import Entry

if TYPE_CHECKING:
    from deployer.backends.base import Backend


def fleet_at(entry: Entry, fleet: str, *, keep_tags: Collection[str] = ()) -> FleetSpec:
    """The fleet as `entry` recorded it; images pinned to their recorded IDs except for the bots
    in `keep_tags` (see tags_to_keep)."""
    if not entry.restorable:
        raise HistoryError(f"history entry #{entry.seq} of fleet {fleet} did not record every bot's spec "
                           "(too big, or unreadable specs), so it cannot be rolled back to")
    bots = []
    secrets_dir = None
    for name, rec in sorted(entry.bots.items()):
        assert rec.spec is not None
        image = None if name in keep_tags else rec.image_id or None
        bots.append(bot_from_spec(name, rec.spec, state=rec.state, pull_policy="Never", source_file=rec.source_file,
                                  image=image))
        secrets_dir = secrets_dir or secrets_dir_of(name, rec.spec)
    return FleetSpec(name=fleet, secrets_dir=secrets_dir, bots=tuple(bots))


def tags_to_keep(entry: Entry, newest: Entry | None, running: Mapping[str, ObservedContainer],
                 tag_ids: Mapping[str, str | None]) -> set[str]:
    """The bots of `entry` that may keep their recorded tag instead of the pinned image ID:
    - the tag still resolves here to the image ID the entry recorded (`tag_ids`; a tag that moved
      would make a new container run another image), whatever the bot runs now, and
    - where the bot's container (`running`, by bot) runs that very image, the planner will look at
      its in-place settings where they matter: when the recorded spec hashes as the container's
      label does, the planner takes the label's word for the settings; a label is stale when the
      newest entry (`newest`, what runs now) records another hash for the bot: an in-place update
      changed the container since it was made. Pinned, its spec hashes differently, so the
      container is inspected and its settings compared. (A container that runs another image is
      replaced anyway, its settings with it.)"""
    keep: set[str] = set()
    for name, rec in entry.bots.items():
        c = running.get(name)
        tag = (rec.spec or {}).get("image")
        if not rec.image_id or not isinstance(tag, str) or tag_ids.get(tag) != rec.image_id:
            continue
        if c is not None and c.image_id == rec.image_id and stale_label(c, rec.spec_hash, newest, name):
            continue
        keep.add(name)
    return keep


def stale_label(c: ObservedContainer, target_hash: str, newest: Entry | None, name: str) -> bool:
    """The container's spec label hashes as the target does, but the newest entry records another
    hash for the bot (updated in place since it was made): the planner would not inspect it."""
    label = c.labels.get(LABEL_SPEC_HASH)
    now = newest.bots.get(name) if newest is not None else None
    return target_hash == label and (now is None or now.spec_hash != label)


def restorable_fleet(engine: Backend, entries: list[Entry], entry: Entry, fleet: str) -> FleetSpec:
    """fleet_at with the tags kept that tags_to_keep allows, from one list call and one image
    lookup per recorded tag (`entries`: the kept history, newest first)."""
    fleet_at(entry, fleet)  # refuses an entry that cannot be restored before asking the engine
    running = {c.bot: c for c in engine.list_containers(labels=ownership_filters(fleet))
               if c.bot and c.name == CONTAINER_PREFIX + c.bot}
    tags = {(rec.spec or {}).get("image") for rec in entry.bots.values() if rec.image_id}
    tag_ids = {tag: engine.image_id(tag) for tag in sorted(t for t in tags if isinstance(t, str))}
    keep = tags_to_keep(entry, entries[0] if entries else None, running, tag_ids)
    return fleet_at(entry, fleet, keep_tags=keep)


def banner(entry: Entry, fleet: str) -> str:
    return (f"Rollback of fleet {fleet} to history entry #{entry.seq}: revision {entry.revision}, applied "
            f"{entry.applied_at} by {entry.applied_by} ({entry.result}).")


def notes(entry: Entry, spec: FleetSpec, secrets_dir: str | None) -> list[str]:
    images = {b.name: b.image for b in spec.bots}
    pinned = sorted({f"{(rec.spec or {}).get('image')} -> {rec.image_id.split(':', 1)[-1][:12]}"
                     for name, rec in entry.bots.items()
                     if rec.image_id and images.get(name) == rec.image_id != (rec.spec or {}).get("image")})
    if pinned:
        out = [f"Note: this is a rollback to entry #{entry.seq}; where a tag resolves to another image now, the image is "
               f"pinned to the image ID it ran then (a tag may have moved since): {', '.join(pinned)}."]
    else:
        out = [f"Note: this is a rollback to entry #{entry.seq}; no image is pinned: the bots run the images "
               "they ran then, and keep their tags."]
    if any(b.secrets for b in spec.bots):
        out.append(f"Note: secrets are today's files in {secrets_dir}: rotated secrets are not rolled back.")
    out.append("Warning: the next `deployer apply` of the manifests on the branch rolls this forward again, "
               "unless the manifests are reverted in git (git revert) to match.")
    return out
