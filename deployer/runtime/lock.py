"""A per-fleet lock held on the engine itself, kept alive by a heartbeat while its apply runs.

The lock is a never-started marker container named botmaker-lock.<fleet>: container names are
unique, so creating it is atomic and a second runner gets 409. Its labels say who holds it
(host, pid, user, CI job URL), since when, its TTL and beat interval, and a random token.

Labels are immutable, so the lock is renewed by a second kind of marker, the heartbeat:
botmaker-lock.<fleet>.beat.<token>.<n>. Every beat the holder's background thread creates
beat n+1 (a new, unique name: atomic) and then removes beat n, and checks that the lock marker
is still its own. A lock's age is the time since its newest sign of life (the lock marker's
creation, or its holder's newest beat), measured on the engine's clock: both the markers'
creation times and "now" (the Date header of the list answer) come from the engine, so runners
with skewed clocks agree. A lock older than its TTL belongs to a dead (or cut-off) holder and
may be taken over: the taker removes it by ID, so of two takers only one removes it and only
one then wins the create. `deployer unlock FLEET --force` removes a lock by hand.

A holder that cannot beat for a whole TTL (or finds its lock removed) counts its lock as lost:
`FleetLock.lost_reason()` says why, and the applier starts no new action; `FleetLock.check()`,
asked before each new change, also looks the lock marker up on the engine, so a lock removed by
`unlock --force` stops new changes at once, not at the next beat.

A run that lost its lock still has the changes it started to finish (a replace may wait minutes
for a healthcheck): it goes on beating, as a sign of life that no longer claims the lock, until it
releases. A run that started no change (`changing` is still False: planning, or sitting at its
confirmation question) has nothing to finish: at the loss it removes its beats and beats no more,
so nobody waits for it, and it ends without changing anything (the holder sets `changing`, then
checks the lock, before its first change: of the two threads one sees the other's write). Its beats say who it is and its TTL. `unlock --force` leaves a fresh beat in place (and
writes one for a holder too young to have beaten yet), and a new holder waits, before it plans
anything, until no other run shows life: a dead run is silent for its TTL, a live one ends with
its changes. So two runs never change a fleet at once, even after an `unlock --force` of a run
that was not dead. Copies a replace keeps aside carry the lock token of their run in their name,
and `live_runs` names the runs that show life, so a plan (which takes no lock) leaves alone the
bot of a replace that is under way. Why that is no later
than anyone could take the lock: a taker needs the newest beat to be more than a TTL old at the
moment of its list (the Date header minus the round trip is no later than that moment), and a
beat the holder sent at s exists on the engine before the holder hears back. So the holder's
lease runs from the send time of its last beat whose answer came within a TTL of the beat before;
a beat answered later than that makes the lock lost for good, even though the beat succeeded.
"""

from __future__ import annotations

import getpass
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from deployer.backends.base import Marker
from deployer.core import defaults
from deployer.core.vocabulary import (
    BEAT_MARK,
    LABEL_LOCK,
    LABEL_LOCK_BEAT_INTERVAL,
    LABEL_LOCK_BEAT_OF,
    LABEL_LOCK_CI_JOB,
    LABEL_LOCK_EXPIRES,
    LABEL_LOCK_HOST,
    LABEL_LOCK_PID,
    LABEL_LOCK_STARTED,
    LABEL_LOCK_TOKEN,
    LABEL_LOCK_TTL,
    LABEL_LOCK_USER,
    LOCK_PREFIX,
)
from deployer.errors import DeployerError, LockHeld, NameTaken

if TYPE_CHECKING:
    from deployer.backends.base import MarkerStore

DEFAULT_TTL = float(defaults.LOCK_TTL)
BEATS_PER_TTL = 4  # a live holder may miss three beats in a row before its lock can be taken


def lock_name(fleet: str) -> str:
    return LOCK_PREFIX + fleet


def beat_name(fleet: str, token: str, n: int) -> str:
    return f"{lock_name(fleet)}{BEAT_MARK}{token}.{n}"


def beat_interval(ttl: float) -> float:
    return max(0.5, ttl / BEATS_PER_TTL)


def ci_job_url() -> str:
    env = os.environ
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return env.get("CI_JOB_URL") or env.get("BUILD_URL") or ""


def whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return str(os.getuid())


def _iso(label: str | float | None) -> str:
    """Epoch seconds (as a label stores them) as UTC ISO time; '?' when unreadable."""
    try:
        return datetime.fromtimestamp(float(label or ""), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return "?"


def _float(text: str | None, default: float) -> float:
    try:
        return float(text or "")
    except ValueError:
        return default


@dataclass(frozen=True)
class HolderState:
    """What the markers say about the current holder (pure data, for the decision to take over)."""

    marker: Marker
    age: float  # seconds since its newest sign of life, on the engine's clock (whole seconds)
    ttl: float
    interval: float
    heartbeat: bool  # False: a lock of an older deployer, judged by its expiry label

    @property
    def expired(self) -> bool:
        if not self.heartbeat:
            return self.age > 0
        # ages are whole seconds, truncated on both ends: only age - 1 >= ttl proves > ttl
        return self.age - 1 >= self.ttl

    @property
    def silent(self) -> bool:
        """It missed a beat: dead, or cut off from the engine. Either way it beats again soon or
        expires within one TTL, so a new runner waits for it rather than failing."""
        return self.heartbeat and self.age > self.interval + max(1.0, self.interval / 4)

    @property
    def remaining(self) -> float:
        return max(0.0, self.ttl + 1 - self.age) if self.heartbeat else 0.0


def holder_state(fleet: str, markers: list[Marker], now: float) -> HolderState | None:
    """The lock marker among a fleet's lock markers and how long ago its holder showed life."""
    main = next((m for m in markers if m.name == lock_name(fleet)), None)
    if main is None:
        return None
    token = main.labels.get(LABEL_LOCK_TOKEN)
    if not token:  # written by a deployer without heartbeats: its expiry label is all there is
        return HolderState(main, time.time() - _float(main.labels.get(LABEL_LOCK_EXPIRES), 0.0), 0.0, 0.0, False)
    last = max([main.created] + [m.created for m in markers
                                 if m.labels.get(LABEL_LOCK_BEAT_OF) == token and m.name.startswith(lock_name(fleet) + BEAT_MARK)])
    ttl = _float(main.labels.get(LABEL_LOCK_TTL), DEFAULT_TTL)
    interval = _float(main.labels.get(LABEL_LOCK_BEAT_INTERVAL), beat_interval(ttl))
    return HolderState(main, int(now) - int(last), ttl, interval, True)


def _beat_state(m: Marker, now: float) -> HolderState:
    """How long ago a heartbeat marker was written, judged by the TTL of its run (beats carry it;
    one of an older deployer is judged by the default)."""
    ttl = _float(m.labels.get(LABEL_LOCK_TTL), DEFAULT_TTL)
    return HolderState(m, int(now) - int(m.created), ttl, _float(m.labels.get(LABEL_LOCK_BEAT_INTERVAL), beat_interval(ttl)), True)


def _beats(fleet: str, markers: list[Marker]) -> list[Marker]:
    return [m for m in markers if m.name.startswith(lock_name(fleet) + BEAT_MARK) and m.labels.get(LABEL_LOCK_BEAT_OF)]


def runs_without_the_lock(fleet: str, markers: list[Marker], now: float, *, besides: str = "") -> dict[str, HolderState]:
    """Runs that do not hold the fleet's lock (nor are `besides`) but still show life: a heartbeat
    younger than their TTL. What is left of a holder whose lock was removed (`unlock --force`) or
    taken over after it went silent: alive, it is finishing the changes it had started; dead, it
    falls silent for good. By token, each with its newest beat."""
    main = next((m for m in markers if m.name == lock_name(fleet)), None)
    holder = main.labels.get(LABEL_LOCK_TOKEN) if main is not None else None
    out: dict[str, HolderState] = {}
    for m in _beats(fleet, markers):
        token = m.labels[LABEL_LOCK_BEAT_OF]
        if token in (holder, besides):
            continue
        state = _beat_state(m, now)
        if not state.expired and (token not in out or state.age < out[token].age):
            out[token] = state
    return out


def live_runs(fleet: str, markers: list[Marker], now: float) -> dict[str, str]:
    """Lock token -> who, for every run of the fleet that shows life: the lock's holder unless it
    expired, and runs that lost the lock but still beat (see runs_without_the_lock)."""
    out = {token: describe_holder(state.marker.labels, state)
           for token, state in runs_without_the_lock(fleet, markers, now).items()}
    state = holder_state(fleet, markers, now)
    token = state.marker.labels.get(LABEL_LOCK_TOKEN) if state is not None else None
    if state is not None and token and not state.expired:
        out[token] = describe_holder(state.marker.labels, state)
    return out


def describe_holder(labels: dict[str, str], state: HolderState | None = None) -> str:
    who = f"{labels.get(LABEL_LOCK_USER, '?')}@{labels.get(LABEL_LOCK_HOST, '?')} pid {labels.get(LABEL_LOCK_PID, '?')}"
    job = labels.get(LABEL_LOCK_CI_JOB)
    if state is not None and state.heartbeat:
        life = f"last heartbeat {state.age:.0f}s ago, TTL {state.ttl:.0f}s"
    else:
        life = f"expires {_iso(labels.get(LABEL_LOCK_EXPIRES))}"
    return f"{who}{f' ({job})' if job else ''}, since {_iso(labels.get(LABEL_LOCK_STARTED))}, {life}"


@dataclass
class FleetLock:
    engine: MarkerStore
    fleet: str
    ttl: float = DEFAULT_TTL  # seconds without a heartbeat after which the lock may be taken over
    timeout: float = 0.0
    poll: float = 1.0
    interval: float | None = None  # beat interval; default ttl / BEATS_PER_TTL
    notify: Callable[[str], None] | None = None  # told when we wait for a holder, or for a run that lost the lock
    notice_every: float = 10.0  # while waiting, say again that we wait every this many seconds
    marker_id: str | None = None
    took_over: str | None = None  # description of an expired holder we replaced
    lost: str | None = None  # set by the heartbeat when the lock can no longer be vouched for
    # set by the holder before its first change (then checks the lock): only a run that may have started
    # changes keeps beating once it lost the lock; one that started none falls silent at once
    changing: bool = False
    token: str = field(default_factory=lambda: secrets.token_hex(6))
    beats: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _beat_id: str | None = field(default=None, repr=False)
    _vouched: float = field(default=0.0, repr=False)  # monotonic time before our last proof of life
    _who: dict[str, str] = field(default_factory=dict, repr=False)  # our lock's labels; our beats carry them too

    def __post_init__(self) -> None:
        if self.interval is None:
            self.interval = beat_interval(self.ttl)

    def acquire(self) -> None:
        """Create the lock marker, taking over an expired one; then start the heartbeat, and hold
        off while a run that lost the lock still shows life (_wait_for_runs_without_the_lock).
        While it waits for a holder it says so through `notify`: once, then every notice_every s."""
        deadline = time.monotonic() + self.timeout
        pending_takeover: str | None = None
        told = False
        said: float | None = None  # when we last said that we wait
        while True:
            now = time.time()
            labels = {
                LABEL_LOCK: self.fleet, LABEL_LOCK_HOST: socket.gethostname(), LABEL_LOCK_PID: str(os.getpid()),
                LABEL_LOCK_USER: whoami(), LABEL_LOCK_CI_JOB: ci_job_url(), LABEL_LOCK_STARTED: f"{now:.0f}",
                LABEL_LOCK_EXPIRES: f"{now + self.ttl:.0f}", LABEL_LOCK_TOKEN: self.token,
                LABEL_LOCK_TTL: f"{self.ttl:g}", LABEL_LOCK_BEAT_INTERVAL: f"{self.interval:g}",
            }
            sent = time.monotonic()
            try:
                self.marker_id = self.engine.create_marker(lock_name(self.fleet), labels)
            except NameTaken:
                pending_takeover = None
            else:
                self.took_over, self._vouched, self._who = pending_takeover, sent, labels
                self._clear_stale_beats()
                self._start_heartbeat()
                try:
                    self._wait_for_runs_without_the_lock(deadline)
                except BaseException:
                    self.release()
                    raise
                return
            engine_now, markers = self.engine.list_markers(LABEL_LOCK, self.fleet)
            state = holder_state(self.fleet, markers, engine_now)
            if state is None:
                held = self.engine.find_marker(lock_name(self.fleet))
                if held is None:
                    continue  # released between our create and our look: try again at once
                # the name is held by a container without our lock label: judge it by its labels
                state = HolderState(Marker(held[0], lock_name(self.fleet), held[1], 0.0),
                                    time.time() - _float(held[1].get(LABEL_LOCK_EXPIRES), time.time() + 1), 0.0, 0.0, False)
            if state.expired:
                # Removing by ID: if another runner took over first, this removes nothing of theirs.
                # Whoever removes it, only one of us wins the create that follows.
                pending_takeover = describe_holder(state.marker.labels, state)
                try:
                    self.engine.remove_marker(state.marker.id, lock_name(self.fleet))
                except DeployerError:
                    pass  # gone already: somebody else removed it
                continue
            limit = deadline
            holder = describe_holder(state.marker.labels, state)
            if state.silent:
                limit = max(limit, time.monotonic() + state.remaining + self.poll)
            if time.monotonic() >= limit:
                waited = f" after waiting {self.timeout:.0f}s" if self.timeout else ""
                raise LockHeld(
                    f"fleet {self.fleet} is locked by {holder}{waited}; wait "
                    f"for it (--lock-timeout), or if that run is dead: deployer unlock {self.fleet} --force"
                )
            left = limit - time.monotonic()
            if state.silent and not told:
                said = self._say(f"fleet {self.fleet}: the lock of {holder} has missed its heartbeat; waiting up to "
                                 f"{state.remaining:.0f}s for it to expire", None)
                told = True
            elif not told:  # --lock-timeout: say whom we wait for, once, then now and then (as Terraform does)
                said = self._say(f"fleet {self.fleet} is locked by {holder}; waiting up to {left:.0f}s for it "
                                 "(--lock-timeout)...", None)
                told = True
            else:
                said = self._say(f"fleet {self.fleet}: still waiting for the lock ({holder}); {left:.0f}s left", said)
            time.sleep(min(self.poll, max(0.05, limit - time.monotonic())))

    def _say(self, text: str, last: float | None) -> float | None:
        """Tell `text` unless something was said less than notice_every seconds ago (last: when);
        returns when the last notice was said."""
        now = time.monotonic()
        if self.notify is None or (last is not None and now - last < self.notice_every):
            return last
        self.notify(text)
        return now

    def _wait_for_runs_without_the_lock(self, deadline: float) -> None:
        """Hold off, right after taking the lock, while a run that lost it still shows life: alive,
        it is finishing changes it started (a replace with its old unit aside); dead, its beats
        fall silent within its TTL. We wait for it at most its TTL, or --lock-timeout if longer:
        a run still beating then is alive, and we leave (LockHeld) rather than change the fleet
        beside it."""
        said: float | None = None
        give_up: float | None = None
        while True:
            now, markers = self.engine.list_markers(LABEL_LOCK, self.fleet)
            runs = runs_without_the_lock(self.fleet, markers, now, besides=self.token)
            if not runs:
                if give_up is not None:
                    self._clear_stale_beats()  # what is left of a run that fell silent
                return
            state = max(runs.values(), key=lambda r: r.remaining)
            who = describe_holder(state.marker.labels, state)
            if give_up is None:
                give_up = max(deadline, time.monotonic() + state.remaining + self.poll)
            if time.monotonic() >= give_up:
                raise LockHeld(
                    f"fleet {self.fleet}: a run that lost the fleet lock (deployer unlock --force, or a takeover) is "
                    f"still finishing its changes: {who}; nothing was changed: wait for it (--lock-timeout) and "
                    "apply again")
            said = self._say(
                f"fleet {self.fleet}: a run that lost the fleet lock still shows life: {who}; waiting for it to "
                f"finish its changes (or fall silent) before changing anything, up to "
                f"{give_up - time.monotonic():.0f}s", said)
            time.sleep(self.poll)

    def check(self) -> str | None:
        """Asked before each new change: why this run must not start one, or None. Besides what
        the heartbeat found, it looks the lock marker up on the engine (one lookup by name), so a
        lock removed by `deployer unlock --force` stops new changes at once, not at the next beat."""
        reason = self.lost_reason()
        if reason is not None or self.marker_id is None:
            return reason
        try:
            held = self.engine.find_marker(lock_name(self.fleet))
        except DeployerError:
            return None  # the engine did not answer: the change would tell, and the heartbeat's TTL guards the rest
        if held is None or held[0] != self.marker_id:
            self.lost = self.lost or _REMOVED
            return self.lost
        return None

    # -- the heartbeat ---------------------------------------------------------------------------
    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat_loop, name=f"lock-heartbeat-{self.fleet}", daemon=True)
        self._thread.start()

    def lost_reason(self) -> str | None:
        """Why this lock can no longer be vouched for, or None. Also true while a beat hangs: a
        taker needs more than a TTL on the engine's clock since our last beat was made, and that
        beat was sent no earlier than _vouched, so by then we have already stopped starting changes."""
        if self.lost:
            return self.lost
        if self.marker_id is not None and time.monotonic() - self._vouched > self.ttl:
            return f"no heartbeat could be written for {self.ttl:g}s (--lock-ttl); another run may take the lock over"
        return None

    def _beat_loop(self) -> None:
        """Beat until released. Once the lock is lost the beats go on, no longer a claim on the
        lock but a sign of life: a run that lost it still finishes the changes it started, and the
        next holder waits for them (see _wait_for_runs_without_the_lock)."""
        assert self.interval is not None
        error = ""
        try:
            while not self._stop.wait(self.interval):
                if self.marker_id is None:
                    break  # released (or given up) meanwhile
                if self.lost and not self.changing:
                    self._fall_silent()
                    break
                if self.lost:
                    try:
                        self._beat(check=False)
                    except DeployerError:
                        pass  # the engine does not answer: we cannot show life, and nobody waits on a silent run
                    continue
                sent = time.monotonic()
                try:
                    landed = self._beat()
                    if landed - self._vouched > self.ttl:
                        # the beat came later than our lease: a taker may have acted on the gap
                        raise _Lost(f"a heartbeat took until {landed - self._vouched:.1f}s after the previous one, "
                                    f"longer than --lock-ttl {self.ttl:g}s")
                    self._vouched, error = sent, ""
                except _Lost as exc:
                    self.lost = str(exc)
                except DeployerError as exc:
                    error = str(exc)
                if not self.lost and time.monotonic() - self._vouched > self.ttl:
                    self.lost = (f"no heartbeat could be written for {self.ttl:g}s (--lock-ttl), so another run "
                                 f"may take the lock over" + (f": {error}" if error else ""))
                if self.lost and not self.changing:
                    self._fall_silent()
                    break
        except Exception as exc:  # noqa: BLE001 - a thread must not die with a traceback on stderr
            self.lost = f"the lock heartbeat failed: {type(exc).__name__}: {exc}"

    def _fall_silent(self) -> None:
        """Lost before any change: remove our beats (also the one `unlock --force` left for us), so the
        next holder need not wait for a run that has nothing to finish."""
        self._remove_own_beats()

    def _beat(self, check: bool = True) -> float:
        """Write the next beat; returns the monotonic time its create was answered (the beat
        exists on the engine by then). With check, then make sure the lock is still ours."""
        self.beats += 1
        labels = beat_labels(self.fleet, self.token, self._who)
        try:
            new_id = self.engine.create_marker(beat_name(self.fleet, self.token, self.beats), labels)
        except NameTaken:  # a beat of ours whose answer was lost: the next number is free
            self.beats += 1
            new_id = self.engine.create_marker(beat_name(self.fleet, self.token, self.beats), labels)
        landed = time.monotonic()
        old, self._beat_id = self._beat_id, new_id
        if old is not None:
            try:
                self.engine.remove_marker(old, "the previous heartbeat")
            except DeployerError:
                pass  # a stale beat of ours proves nothing newer; the next holder clears it
        if not check:
            return landed
        held = self.engine.find_marker(lock_name(self.fleet))
        if held is None or held[0] != self.marker_id:
            raise _Lost(_REMOVED)
        return landed

    def _remove_beat(self) -> None:
        if self._beat_id is not None:
            try:
                self.engine.remove_marker(self._beat_id, "the lock heartbeat")
            finally:
                self._beat_id = None

    def _stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(5.0, 2 * float(self.interval or 0)))
        self._thread = None

    def _clear_stale_beats(self) -> None:
        """Heartbeats of earlier holders that have fallen silent (dead, or released while crashing)
        are only clutter. A fresh one is a run that lost the lock and may still be finishing its
        changes: it stays (we wait for that run)."""
        try:
            now, markers = self.engine.list_markers(LABEL_LOCK, self.fleet)
            for m in markers:
                if (m.name.startswith(lock_name(self.fleet) + BEAT_MARK) and m.labels.get(LABEL_LOCK_BEAT_OF) != self.token
                        and _beat_state(m, now).expired):
                    self.engine.remove_marker(m.id, m.name)
        except DeployerError:
            pass

    def release(self) -> None:
        """Remove the lock marker first, then our beats: the other order leaves, for a moment, a
        lock without its heartbeat, whose age is then its creation time, and a waiter would take
        over a live lock (seen in CI: "Took over ... last heartbeat 32s ago" after a clean apply)."""
        self._stop_heartbeat()
        if self.marker_id is None:
            return
        try:
            self.engine.remove_marker(self.marker_id, lock_name(self.fleet))
        except DeployerError:
            if not self.lost:  # a lost lock was removed by whoever took it: nothing of ours is left
                self.marker_id = None
                self._remove_own_beats()
                raise
        self.marker_id = None
        self._remove_own_beats()

    def _remove_own_beats(self) -> None:
        try:
            self._remove_beat()
            _, markers = self.engine.list_markers(LABEL_LOCK, self.fleet)
            for m in markers:  # a beat of ours whose removal failed earlier
                if m.labels.get(LABEL_LOCK_BEAT_OF) == self.token:
                    self.engine.remove_marker(m.id, m.name)
        except DeployerError:
            pass  # a stray beat is only clutter: the next holder clears it

    def __enter__(self) -> FleetLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class _Lost(DeployerError):
    pass


_REMOVED = ("the fleet lock was removed by someone else (deployer unlock --force, or a takeover after our heartbeat "
            "stopped)")
# who holds a lock, as its labels say; its heartbeats carry the same, so a run that lost the lock can be named
_WHO = (LABEL_LOCK_HOST, LABEL_LOCK_PID, LABEL_LOCK_USER, LABEL_LOCK_CI_JOB, LABEL_LOCK_STARTED, LABEL_LOCK_TTL, LABEL_LOCK_BEAT_INTERVAL)


def beat_labels(fleet: str, token: str, who: dict[str, str]) -> dict[str, str]:
    return {LABEL_LOCK: fleet, LABEL_LOCK_BEAT_OF: token, **{k: v for k, v in who.items() if k in _WHO}}


def current_holder(engine: MarkerStore, fleet: str) -> str | None:
    """Who holds the fleet's lock and how lively it is, or None when it is free."""
    now, markers = engine.list_markers(LABEL_LOCK, fleet)
    state = holder_state(fleet, markers, now)
    if state is not None:
        return describe_holder(state.marker.labels, state)
    held = engine.find_marker(lock_name(fleet))
    return None if held is None else describe_holder(held[1])


@dataclass(frozen=True)
class Unlocked:
    holder: str  # who held the lock that was removed
    alive: HolderState | None = None  # its run's last sign of life when that is within its TTL


def force_unlock(engine: MarkerStore, fleet: str) -> Unlocked | None:
    """Remove the fleet's lock whoever holds it, and the heartbeats that have fallen silent;
    returns the holder it removed (None: the fleet was not locked).

    A holder that showed life within its TTL may not be dead: its newest heartbeat stays (one is
    written for it when it has not beaten yet), so that the next holder waits for that run to end
    its changes, or to stay silent for its TTL, before it changes anything."""
    now, markers = engine.list_markers(LABEL_LOCK, fleet)
    state = holder_state(fleet, markers, now)
    token = state.marker.labels.get(LABEL_LOCK_TOKEN) if state is not None else None
    fresh = None
    for m in _beats(fleet, markers):
        beat = _beat_state(m, now)
        if m.labels.get(LABEL_LOCK_BEAT_OF) == token and not beat.expired:
            fresh = beat
        elif beat.expired:
            engine.remove_marker(m.id, m.name)
    if state is None:
        held = engine.find_marker(lock_name(fleet))  # a lock marker without our labels
        if held is None:
            return None
        engine.remove_marker(held[0], lock_name(fleet))
        return Unlocked(describe_holder(held[1]))
    if token and fresh is None and state.heartbeat and not state.expired:
        engine.create_marker(beat_name(fleet, token, 0), beat_labels(fleet, token, state.marker.labels))
        fresh = state
    engine.remove_marker(state.marker.id, lock_name(fleet))
    return Unlocked(describe_holder(state.marker.labels, state), fresh if state.heartbeat else None)
