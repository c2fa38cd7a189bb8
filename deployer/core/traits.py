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

    def aside_name(self, unit_name: str, unit_id: str, run: str = "") -> str:
        """The name of an old unit kept aside during a replace: <name><mark><first 12 of its id>,
        then .<run>, the fleet-lock token of the apply that set it aside (when it has one), so
        that a copy of a run still under way is told from the leftovers of a dead one."""
        assert self.aside_mark is not None, f"{self.unit_noun}s of this backend are never kept aside"
        return f"{unit_name}{self.aside_mark}{unit_id[:12]}" + (f".{run}" if run else "")

    def aside_run(self, name: str) -> str | None:
        """The run (lock token) an aside copy's name carries; None for another name, or a copy set
        aside by a deployer that did not name its run."""
        if self.aside_mark is None or self.aside_mark not in name:
            return None
        return name.split(self.aside_mark, 1)[1].partition(".")[2] or None
