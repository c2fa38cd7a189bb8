"""What differs between backends, as data the planner and the applier read (no engine here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Traits:
    """What differs between backends, as data the planner and applier read.

    in_place_fields: canonical spec fields a unit can change without being recreated (on a
        single host: what `docker update` changes).
    aside_mark: the name mark of the old unit kept aside during a replace, so that it can be
        restored on rollback; None when the backend has no aside copy: then a replace is one
        engine-side update (InEngineReplace.replace_unit) that stops the old task first and
        rolls back by itself (a swarm service update with order stop-first).
    secret_delivery: how a bot's secret files reach it: "bind-dir" (a host directory mounted at
        /run/secrets) or "engine-secrets" (the engine's own secret objects).
    unit_noun: what one bot's unit is called in messages ("container", "service").
    """

    in_place_fields: frozenset[str]
    aside_mark: str | None
    secret_delivery: str
    unit_noun: str = "container"
