"""The planner: a pure function of (desired fleet, observed engine state, options) → Plan.

No I/O here. Whatever the plan needs from the engine (the label-filtered container list, an
inspect of the containers whose recorded spec differs, the local image IDs behind tags) is
gathered beforehand into an `Observed` value, so a plan can be reproduced and unit-tested
from data alone.

The planner makes every decision the plan carries, from the backend's traits and OpenClaw's
reload classes: which changes force a replacement and why (Change.forces_replacement, .why),
and how each action is carried out (Action.method: hot reload, in-place update, stop-first or
in-engine replace, ...). The renderer prints them and the applier follows them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from deployer.core.encodings import cpus_from_nano, restart_string
from deployer.core.model import (
    CREATE,
    NOOP,
    ORPHAN,
    REMOVE,
    REPLACE,
    START,
    STOP,
    UPDATE,
    Action,
    BotSpec,
    Change,
    FleetSpec,
    Method,
    Observed,
    ObservedContainer,
    Plan,
    parse_fingerprint_label,
)
from deployer.core.spec import container_spec, spec_hash
from deployer.core.traits import Traits
from deployer.core.vocabulary import LABEL_PROTECT, LABEL_SECRETS, LABEL_SPEC
from deployer.openclaw.config import (
    CONFIG_FILE,
    STATE_MOUNT,
    config_changes,
    parse_config,
    reload_class,
    render_config,
)


@dataclass(frozen=True)
class PlanOptions:
    # the backend's (the one that observed the fleet): which fields change in place, the mark of
    # an aside copy, the unit's noun. No default: the planner knows no engine of its own.
    traits: Traits
    secrets_dir: str | None = None
    prune: bool = False
    allow_empty: bool = False  # --prune with zero bots would remove the whole fleet
    max_removals: int | None = None
    adopt: frozenset[str] = frozenset()  # bots whose name-holding foreign container may be replaced
    # bot -> {secret name -> keyed fingerprint}, from the secrets checks; never values
    secret_fingerprints: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, hash=False)


def _is_aside(name: str, traits: Traits) -> bool:
    return traits.aside_mark is not None and traits.aside_mark in name


CONFIG_FIELD = "config "  # plan changes of the generated openclaw.json: "config <OpenClaw path>"
RELOADS = "the gateway reloads its config (no restart)"


def forces_replacement(field_name: str, traits: Traits) -> bool:
    """Whether a new value of `field_name` can only be had with a new unit on a backend with these
    traits: a field outside its in-place ones, or a config path OpenClaw restarts for. (Removing
    an in-place limit forces one too: the engine can change a limit, not unset it.)"""
    if field_name.startswith(CONFIG_FIELD):
        return reload_class(field_name[len(CONFIG_FIELD):]) == "restart"
    return field_name not in traits.in_place_fields


def replace_method(traits: Traits) -> Method:
    """A backend that keeps the old unit aside gets the deployer's stop-first replace (which
    restores the aside copy on failure); one without replaces in the engine, which stops first
    and rolls back by itself (a swarm service update)."""
    return Method.STOP_FIRST_REPLACE if traits.aside_mark is not None else Method.IN_ENGINE_REPLACE


@dataclass
class _Findings:
    """What differs for one bot: the changes that force a replace, those the unit takes without
    one (in place, or by the gateway's hot reload), and the plan's reason lines in the order they
    were found. Each change's reason is its `why`."""

    forcing: list[Change] = field(default_factory=list)
    riding: list[Change] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def forces(self, name: str, before: Any, after: Any, why: str, *, first: bool = False) -> None:
        self._add(self.forcing, Change(name, before, after, forces_replacement=True, why=why), first)

    def rides(self, name: str, before: Any, after: Any, why: str) -> None:
        self._add(self.riding, Change(name, before, after, forces_replacement=False, why=why), False)

    def note(self, why: str, *, first: bool = False) -> None:
        """A reason line that is no change of its own (extra copies, the reload)."""
        self.reasons.insert(0 if first else len(self.reasons), why)

    def _add(self, changes: list[Change], change: Change, first: bool) -> None:
        changes.insert(0 if first else len(changes), change)
        self.note(change.why, first=first)


def desired_spec(bot: BotSpec, options: PlanOptions) -> dict[str, Any]:
    return container_spec(bot, options.secrets_dir)


def plan(fleet: FleetSpec, observed: Observed, options: PlanOptions) -> Plan:
    by_bot: dict[str, list[ObservedContainer]] = {}
    for c in observed.containers:
        by_bot.setdefault(c.bot or "", []).append(c)

    actions: list[Action] = []
    errors: list[str] = []
    noun = options.traits.unit_noun  # "container", "service": what one bot runs as
    for bot in sorted(fleet.bots, key=lambda b: b.name):
        foreign = observed.foreign_by_name.get(bot.container_name)
        if foreign is not None and bot.name in options.adopt and foreign.fleet in (None, ""):
            why = (f"adopt: {noun} {bot.container_name} ({foreign.id[:12]}) is not managed by fleet "
                   f"{observed.fleet}; it is replaced by one that is")
            actions.append(Action(
                bot.name, REPLACE, (why,),
                (Change("owner", _owner(foreign), f"fleet {observed.fleet}", forces_replacement=True, why=why),),
                container_id=foreign.id, desired=bot, how=replace_method(options.traits),
                # copies of ours (say, renamed aside) are the bot's, not orphans: cleaned up after
                leftovers=tuple(sorted(c.id for c in by_bot.pop(bot.name, []))),
            ))
            continue
        if foreign is not None:
            hint = ("it belongs to another fleet and cannot be adopted" if foreign.fleet
                    else f"remove or rename it by hand, or take it over with --adopt {bot.name}")
            errors.append(
                f"bot {bot.name}: {noun} {bot.container_name} ({foreign.id[:12]}) already exists and belongs to "
                f"{_owner(foreign)}; deployer will not touch it: {hint}"
            )
            by_bot.pop(bot.name, None)  # the bot is declared: its own copies are not orphans
            continue
        actions.append(_plan_bot(bot, by_bot.pop(bot.name, []), observed, options))

    for bot_name in sorted(by_bot):
        for c in sorted(by_bot[bot_name], key=lambda c: c.name):
            reasons = [f"{noun} {c.name} belongs to fleet {observed.fleet} but no manifest declares bot {bot_name!r}"
                       if bot_name else f"{noun} {c.name} carries fleet {observed.fleet}'s labels but no bot-id"]
            protected = c.labels.get(LABEL_PROTECT) == "true"
            recorded = _recorded_spec(c) or {}
            if recorded.get("runtime") == "openclaw":
                reasons.append("an OpenClaw bot: its state dir and generated config stay on the host "
                               "(the deployer never deletes them)")
            if protected:
                reasons.append(f"protected ({LABEL_PROTECT}=true): never removed")
            kind, how = (REMOVE, Method.REMOVE) if options.prune and not protected else (ORPHAN, Method.LEAVE)
            actions.append(Action(bot=bot_name or c.name, action=kind, reasons=tuple(reasons), container_id=c.id,
                                  how=how))
    errors.extend(_prune_guards(fleet, actions, options))
    return Plan(
        fleet=fleet.name,
        actions=tuple(actions),
        foreign_managed_count=observed.foreign_managed_count,
        errors=tuple(errors),
    )


def _owner(c: ObservedContainer) -> str:
    if c.fleet:
        return f"fleet {c.fleet}"
    return "no fleet (managed by another tool, e.g. the dashboard)" if c.managed else "nobody (not created by deployer)"


def _prune_guards(fleet: FleetSpec, actions: list[Action], options: PlanOptions) -> list[str]:
    """Refusals that protect against mass deletion; they make the whole plan unappliable."""
    if not options.prune:
        return []
    removals = sum(1 for a in actions if a.action == REMOVE)
    errors = []
    if not fleet.bots and not options.allow_empty:
        errors.append(
            f"refusing to prune with a manifest set of zero bots: that would remove every container of fleet "
            f"{fleet.name} ({removals}); pass --allow-empty if that is really what you want"
        )
    if options.max_removals is not None and removals > options.max_removals:
        errors.append(f"refusing to remove {removals} containers: more than --max-removals {options.max_removals}")
    return errors


def _plan_bot(bot: BotSpec, containers: list[ObservedContainer], observed: Observed, options: PlanOptions) -> Action:
    want = desired_spec(bot, options)
    noun = options.traits.unit_noun
    if not containers:
        created: tuple[str, ...] = (f"no {noun}",)
        state = _state_dir(bot)
        if state:
            created += (f"state dir {state} is created if missing and never deleted (not even by --prune)",)
        # every field the new unit gets, as changes from nothing (a reviewer sees what will run)
        fields = tuple(Change(name, None, value, why=created[0]) for name, value in want.items()
                       if value not in (None, {}, []))
        return Action(bot.name, CREATE, created, fields, desired=bot, write_config=bot.is_openclaw,
                      how=Method.CREATE)

    canonical = [c for c in containers if c.name == bot.container_name]
    # A container renamed aside by an interrupted replace is still ours; keep the newest one.
    current = canonical[0] if canonical else sorted(containers, key=lambda c: c.name)[-1]
    # botmaker.protect=true is never removed, not even as an extra copy; an aside copy (renamed by
    # our own interrupted replace) is still finished: its replacement already exists.
    kept = [c for c in containers
            if c is not current and c.labels.get(LABEL_PROTECT) == "true" and not _is_aside(c.name, options.traits)]
    leftovers = tuple(sorted(c.id for c in containers if c is not current and c not in kept))
    base: dict[str, Any] = dict(bot=bot.name, container_id=current.id, leftovers=leftovers, desired=bot)
    # a copy set aside by a run that still shows life (it lost the lock, or this is a plan, which
    # takes none): its replace is under way, and nothing of this bot is touched until it ends
    busy = next(((c, run) for c in containers if (run := options.traits.aside_run(c.name)) in observed.live_runs),
                None)
    if busy is not None:
        copy, run = busy
        why = (f"a replace by a run still under way ({observed.live_runs[run]}) keeps {copy.name} aside: "
               f"the bot is left alone until that run ends")
        return Action(bot.name, NOOP, (why,), container_id=current.id, desired=bot, how=Method.LEAVE)

    found = _diff(bot, want, current, observed, options.traits)
    if bot.is_openclaw:
        _config_diff(bot, observed, found, options.traits)
    hot_config = any(c.field.startswith(CONFIG_FIELD) for c in found.riding)
    for name in _rotated_secrets(bot, current, options):
        found.forces(f"secret {name}", "(fingerprint)", "(new fingerprint)",
                     f"secret {name} changed (the gateway reads it at start)")
    if current.name != bot.container_name:
        how = "by an interrupted apply" if _is_aside(current.name, options.traits) else "(renamed by hand?)"
        found.forces("name", current.name, bot.container_name,
                     f"{noun} is named {current.name} {how}, not {bot.container_name}", first=True)
    extras = [c.name for c in containers if c is not current and not _is_aside(c.name, options.traits) and c not in kept]
    if extras:
        found.note(f"extra {noun}s carry this bot's labels but were not created by this apply: {', '.join(extras)}")
    if kept:
        found.note(f"extra {noun}s carry this bot's labels but are protected ({LABEL_PROTECT}=true) "
                   f"and never removed: {', '.join(c.name for c in kept)}")
    asides = [c for c in containers if c is not current and _is_aside(c.name, options.traits)]
    if asides and current.name == bot.container_name and bot.state == "running" and not found.forcing:
        finish = _finish_replace(bot, current, asides, found, noun, base)
        if finish is not None:
            return finish
    if found.forcing:
        return Action(action=REPLACE, reasons=tuple(found.reasons), changes=tuple(found.forcing + found.riding),
                      write_config=bot.is_openclaw, how=replace_method(options.traits), **base)
    if found.riding:
        # docker update neither starts nor stops a container; the state change rides along
        if bot.state == "running" and not current.running:
            found.rides("state", current.state, "running", _state_why(current, "running", noun))
        elif bot.state == "stopped" and (current.running or current.paused):
            found.rides("state", current.state, "stopped", _state_why(current, "stopped", noun))
        if hot_config and current.running and bot.state == "running":
            found.note(RELOADS, first=True)
            return Action(action=UPDATE, reasons=tuple(found.reasons), changes=tuple(found.riding),
                          write_config=True, how=Method.HOT_RELOAD, fallback=replace_method(options.traits), **base)
        return Action(action=UPDATE, reasons=tuple(found.reasons), changes=tuple(found.riding),
                      write_config=hot_config, how=Method.IN_PLACE, **base)
    # `reasons` can only hold the extra-containers note here; keep it, they are removed as leftovers
    if bot.state == "running" and not current.running:
        why = _state_why(current, "running", noun)
        return Action(action=START, reasons=(why, *found.reasons), how=Method.UNPAUSE if current.paused else Method.START,
                      changes=(Change("state", current.state, "running", why=why),), **base)
    if bot.state == "stopped" and (current.running or current.paused):
        why = _state_why(current, "stopped", noun)
        return Action(action=STOP, reasons=(why, *found.reasons), how=Method.STOP,
                      changes=(Change("state", current.state, "stopped", why=why),), **base)
    left = [c.name for c in asides if c.id in leftovers]
    reasons_noop = (f"copies left by an interrupted apply will be removed: {', '.join(left)}",) if left else ()
    return Action(action=NOOP, reasons=reasons_noop + tuple(found.reasons), how=Method.CLEAN_UP, **base)


def _finish_replace(bot: BotSpec, current: ObservedContainer, asides: list[ObservedContainer], found: _Findings,
                    noun: str, base: dict[str, Any]) -> Action | None:
    """An earlier apply renamed the old unit aside and made the new one (`current`, which matches
    the manifest) but did not see it prove itself: the replace is finished as it would have been.
    The new unit is waited for (started or unpaused first if need be; healthy when the bot has a
    healthcheck) before the old copy goes, and if it does not prove itself the old copy is
    restored. The copy restored is the oldest aside: the one that ran before the first replace
    that was left unfinished. None: nothing to finish here that the usual actions do not do (the
    new unit is ready and an in-place change rides along: it is made, then the copies go)."""
    old = min(asides, key=lambda c: (c.created, c.name))
    ready = current.running and (bot.healthcheck is None or current.health == "healthy")
    if ready and found.riding:
        return None
    base = {**base, "aside": old.id}
    names = ", ".join(c.name for c in asides)
    if ready:  # planned as the clean-up it almost is; the step still makes sure before the old copy goes
        reasons = (f"copies left by an interrupted apply will be removed: {names}", *found.reasons)
        return Action(action=NOOP, reasons=reasons, how=Method.FINISH_REPLACE, **base)
    shown = current.state + (f" ({current.health})" if current.health and current.running else "")
    wait = "ready and healthy" if bot.healthcheck is not None else "ready"
    why = (f"a replace was interrupted: the new {noun} is {shown} and the old one is kept aside as {old.name}; "
           f"apply waits for the new one to be {wait} before the old one is removed, and restores the old one "
           f"if it is not")
    changes = list(found.riding)
    if not current.running:
        changes.append(Change("state", current.state, "running", why=why))
    if bot.healthcheck is not None and current.health != "healthy":
        changes.append(Change("health", current.health or "(none yet)", "healthy", why=why))
    hot_config = any(c.field.startswith(CONFIG_FIELD) for c in found.riding)
    return Action(action=REPLACE, reasons=(why, *found.reasons), changes=tuple(changes), write_config=hot_config,
                  how=Method.FINISH_REPLACE, **base)


def _state_why(current: ObservedContainer, wanted: str, noun: str) -> str:
    why = f"{noun} is {current.state}, manifest says {wanted}"
    if current.paused and wanted == "running":
        return why + ": it will be unpaused (a paused unit cannot be started)"
    return why


def _diff(bot: BotSpec, want: dict[str, Any], current: ObservedContainer, observed: Observed,
          traits: Traits) -> _Findings:
    found = _Findings()
    # A matching hash proves the unit runs the manifest's spec (the label's, or the last apply's
    # for a unit it updated in place); the live in-place settings are still compared when an
    # inspect was made (they may have been changed by `docker update`).
    if current.runs_hash == spec_hash(want):
        recorded: dict[str, Any] | None = want
    else:
        recorded = _recorded_spec(current)
    if recorded is None:
        found.forces("spec", "(not recorded)", "(manifest)", f"{traits.unit_noun} carries no readable botmaker.spec label")
        return found
    if recorded is not want or current.inspected:
        for field_name in want:
            before, after = recorded.get(field_name), want[field_name]
            if not forces_replacement(field_name, traits):
                before = _actual_in_place(current, field_name, before)
                if before == after:
                    continue
                if after is None:
                    # docker update cannot remove a limit, only change it
                    found.forces(field_name, before, after, f"{field_name} limit removed (docker update cannot unset it)")
                else:
                    found.rides(field_name, before, after, f"{field_name} changed (in place)")
            elif before != after:
                found.forces(field_name, before, after, f"{field_name} changed")
    if current.live is not None:
        _drift(want, current.live, found.forcing, found.reasons)
    # The tag may now point at another image (pulled or rebuilt since the container was made).
    local_id = observed.image_ids.get(bot.image)
    if (
        not any(c.field == "image" for c in found.forcing)
        and local_id
        and current.image_id
        and local_id != current.image_id
    ):
        found.forces("image_id", _short(current.image_id), _short(local_id),
                     f"image {bot.image} now points to a different image ID")
    return found


def _config_diff(bot: BotSpec, observed: Observed, found: _Findings, traits: Traits) -> None:
    """The generated config against the file on the host: hot paths are reloaded by the running
    gateway, restart-class paths (gateway port/bind/auth mode, ...) replace the container."""
    raw = observed.configs.get(bot.name)
    current = parse_config(raw)
    if current is None:
        what = "missing" if raw is None else "not a JSON object"
        found.forces("config", f"({what})", "(generated)", f"the generated config {CONFIG_FILE} on the host is {what}")
        return
    for path, before, after in config_changes(current, render_config(bot)):
        name = CONFIG_FIELD + path
        if forces_replacement(name, traits):
            found.forces(name, before, after, f"config {path} changed (the gateway restarts for it)")
        else:
            found.rides(name, before, after, f"config {path} changed (hot reload)")


def _state_dir(bot: BotSpec) -> str | None:
    return next((v.source for v in bot.volumes if bot.is_openclaw and v.target == STATE_MOUNT), None)


def _drift(want: dict[str, Any], live: dict[str, Any], replace: list[Change], reasons: list[str]) -> None:
    """Compare the real configuration (from an inspect) with the manifest, field by field.

    In-place fields are compared by _diff already. For env and labels only the keys the
    manifest sets are compared (the daemon merges the image's in); command and user only
    when the manifest sets them.
    """
    already = {c.field for c in replace}
    checks: list[tuple[str, Any, Any]] = [
        ("image", want["image"], live["image"]),
        ("ports", want["ports"], live["ports"]),
        ("volumes", want["volumes"], live["volumes"]),
        ("secrets", want["secrets"]["mount"], live["secrets_mount"]),
        ("network", want["network"], live["network"]),
        ("env", want["env"], {k: live["env"].get(k) for k in want["env"]}),
        ("labels", want["labels"], {k: live["labels"].get(k) for k in want["labels"]}),
    ]
    if want["command"] is not None:
        checks.append(("command", want["command"], live["command"]))
    if want["user"] is not None:
        checks.append(("user", want["user"], live["user"]))
    if want.get("hostname") is not None:
        checks.append(("hostname", want["hostname"], live.get("hostname")))
    if want["healthcheck"] is not None:  # without one in the manifest, the image's may apply
        checks.append(("healthcheck", want["healthcheck"], live["healthcheck"]))
    if "placement" in live:  # a backend that places units (swarm): a constraint changed by hand is drift
        checks.append(("placement", want.get("placement"), live["placement"]))
    for name, desired, actual in checks:
        if name not in already and desired != actual:
            why = f"drift: {name} on the engine differs from the manifest"
            replace.append(Change(name, actual, desired, forces_replacement=True, why=why))
            reasons.append(why)


def _rotated_secrets(bot: BotSpec, current: ObservedContainer, options: PlanOptions) -> list[str]:
    """Secrets whose content changed since the container was made (keyed fingerprints only)."""
    wanted = options.secret_fingerprints.get(bot.name)
    if not wanted:
        return []
    recorded = parse_fingerprint_label(current.labels.get(LABEL_SECRETS)) or {}
    return [name for name in sorted(wanted) if name in recorded and recorded[name] != wanted[name]]


def _actual_in_place(current: ObservedContainer, field_name: str, recorded: Any) -> Any:
    """The live value of a docker-update field when an inspect is available; else the recorded one."""
    if not current.inspected:
        return recorded
    if field_name == "memory":
        return current.memory_bytes or None
    if field_name == "cpus":
        return cpus_from_nano(current.nano_cpus)
    if field_name == "restart":
        return restart_string(current.restart_policy, current.restart_max_retries)
    return recorded  # pragma: no cover


def _recorded_spec(c: ObservedContainer) -> dict[str, Any] | None:
    try:
        data = json.loads(c.labels.get(LABEL_SPEC, ""))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _short(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def needs_inspect(fleet: FleetSpec, containers: tuple[ObservedContainer, ...], options: PlanOptions) -> list[str]:
    """IDs of containers whose spec differs from the manifest (as its label, or the last apply for
    a container it updated in place, says: ObservedContainer.runs_hash): only these may need their
    live in-place settings read (everything else is proven unchanged by the hash)."""
    wanted = {b.name: spec_hash(desired_spec(b, options)) for b in fleet.bots}
    return [c.id for c in containers if c.bot in wanted and c.runs_hash != wanted[c.bot]]


__all__ = ["PlanOptions", "plan", "needs_inspect", "desired_spec", "forces_replacement", "replace_method"]
