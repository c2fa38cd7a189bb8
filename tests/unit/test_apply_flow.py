"""The apply flow (deployer.flows.apply.run_apply) against an in-memory engine: what it asks and
shows, in which order, the one outcome it returns, the record and history it leaves, and that
the fleet lock is gone afterwards whatever happened. The CLI's exit codes are a table of outcomes."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from typing import Any

import pytest

from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.backends.swarm.traits import SWARM_TRAITS
from deployer.core.model import Action, BotSpec, FleetSpec, Plan
from deployer.core.vocabulary import HISTORY_PREFIX, LABEL_MANAGED, LOCK_PREFIX, UNKNOWN_SPEC
from deployer.errors import DeployerError, LockHeld, StalePlan
from deployer.flows.apply import ApplyHooks, ApplyOutcome, ApplyRequest, ApplyStatus, result_line, run_apply
from deployer.flows.planfile import SavedPlan, state_fingerprints
from deployer.flows.prepare import PlanSettings, plan_options, prepare
from deployer.plan.document import plan_document
from deployer.plan.planner import PlanOptions
from deployer.runtime.applier import ApplyReport, BotResult
from deployer.runtime.history import Entry, read_history
from deployer.runtime.lock import FleetLock
from deployer.runtime.observe import gather
from deployer.runtime.stamps import Stamp, read_record, record_name, updated_in_place_of, write_record
from tests.support.fake_backend import FakeBackend as Fake

FLEET = "flow"
BAD_IMAGE = "bad:1"


class Engine(Fake):  # type: ignore[misc, valid-type]
    """The fake, plus the image lookup the observer makes and markers that can be told to fail."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fail_marker_create: set[str] = set()
        self.fail_marker_remove: set[str] = set()

    def image_info(self, ref: str) -> tuple[str | None, str | None]:
        parent = getattr(super(), "image_info", None)
        return parent(ref) if parent else (self.image_id(ref), None)

    def create_marker(self, name: str, labels: dict[str, str]) -> str:
        if name in self.fail_marker_create:
            raise DeployerError(f"create {name}: engine said no")  # what every engine error is
        return str(super().create_marker(name, labels))

    def remove_marker(self, marker_id: str, name: str = "") -> None:
        if name in self.fail_marker_remove:
            raise DeployerError(f"remove {name}: engine said no")
        super().remove_marker(marker_id, name)


def fleet(*names: str, image: str = "app:1") -> FleetSpec:
    return FleetSpec(name=FLEET, secrets_dir=None, bots=tuple(BotSpec(name=n, image=image) for n in names))


def request(spec: FleetSpec, **kw: Any) -> ApplyRequest:
    return ApplyRequest(fleet=spec, revision=kw.pop("revision", "rev1"), wait_timeout=5, **kw)


class Said:
    """Hooks that write down what they were told, in order, and answer `answer` when asked."""

    def __init__(self, answer: bool = True, *, raise_in_confirm: BaseException | None = None):
        self.events: list[tuple[str, Any]] = []
        self.answer = answer
        self.raise_in_confirm = raise_in_confirm

    def hooks(self) -> ApplyHooks:
        return ApplyHooks(notify=lambda text: self.events.append(("notify", text)),
                          show=lambda prepared, notes: self.events.append(("show", list(notes))),
                          confirm=self._confirm,
                          progress=lambda bot, event, message: self.events.append(("progress", (bot, event))),
                          applied=lambda report, result: self.events.append(("applied", result)))

    def _confirm(self, plan: Plan) -> bool:
        self.events.append(("confirm", plan.summary()["create"]))
        if self.raise_in_confirm is not None:
            raise self.raise_in_confirm
        return self.answer

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


def lock_markers(engine: Engine) -> list[str]:
    _, markers = engine.list_markers("botmaker.lock", FLEET)
    return [m.name for m in markers if m.name.startswith(LOCK_PREFIX)]


def bots_on(engine: Engine) -> list[str]:
    return sorted(c.name for c in engine.list_containers(labels=["botmaker.managed=true", f"botmaker.fleet={FLEET}"]))


def test_a_first_apply_shows_asks_applies_reports_records_and_unlocks() -> None:
    engine, said = Engine(), Said()
    outcome = run_apply(request(fleet("a", "b")), engine, said.hooks())
    assert outcome.status is ApplyStatus.APPLIED and outcome.error is None and outcome.warnings == []
    assert outcome.plan is not None and outcome.plan.summary()["create"] == 2
    assert outcome.report is not None and [r.ok for r in outcome.report.results] == [True, True]
    assert outcome.result == "2 succeeded, 0 failed"
    kinds = said.kinds()
    assert kinds[:2] == ["show", "confirm"] and kinds[-1] == "applied" and set(kinds[2:-1]) == {"progress"}
    assert ("applied", "2 succeeded, 0 failed") in said.events
    assert bots_on(engine) == ["botmaker-a", "botmaker-b"]
    record = read_record(engine, FLEET)
    assert record is not None and record["result"] == "2 succeeded, 0 failed" and record["revision"] == "rev1"
    [entry] = read_history(engine, FLEET)
    assert (entry.kind, entry.result, entry.rollback_to, entry.revision) == ("apply", "2 succeeded, 0 failed", None,
                                                                            "rev1")
    assert lock_markers(engine) == []


def test_nothing_to_change_is_recorded_without_asking_and_adds_no_history() -> None:
    engine = Engine()
    run_apply(request(fleet("a")), engine)
    said = Said()
    outcome = run_apply(request(fleet("a"), revision="rev2"), engine, said.hooks())
    assert outcome.status is ApplyStatus.NO_CHANGES and outcome.report is None and outcome.result == "no changes"
    assert said.kinds() == ["show"]
    record = read_record(engine, FLEET)
    assert record is not None and (record["result"], record["revision"]) == ("no changes", "rev2")
    assert len(read_history(engine, FLEET)) == 1
    assert lock_markers(engine) == []


def test_a_no_said_to_the_question_changes_nothing_and_records_nothing() -> None:
    engine, said = Engine(), Said(answer=False)
    outcome = run_apply(request(fleet("a")), engine, said.hooks())
    assert outcome.status is ApplyStatus.CANCELLED and outcome.report is None
    assert said.kinds() == ["show", "confirm"]
    assert bots_on(engine) == [] and read_record(engine, FLEET) is None and lock_markers(engine) == []


def test_a_plan_with_errors_is_shown_then_refused_without_asking() -> None:
    engine = Engine()
    run_apply(request(fleet("a", "b")), engine)
    said = Said()
    outcome = run_apply(request(fleet("a"), settings=PlanSettings(prune=True, max_removals=0)), engine, said.hooks())
    assert outcome.status is ApplyStatus.REFUSED
    assert outcome.plan is not None and outcome.plan.errors and "--max-removals 0" in outcome.plan.errors[0]
    assert said.kinds() == ["show"]
    assert bots_on(engine) == ["botmaker-a", "botmaker-b"] and lock_markers(engine) == []


def test_a_held_lock_fails_the_run_before_anything_is_planned() -> None:
    engine = Engine()
    other = FleetLock(engine, FLEET, ttl=60, timeout=0)
    other.acquire()
    try:
        said = Said()
        outcome = run_apply(request(fleet("a")), engine, said.hooks())
    finally:
        other.release()
    assert outcome.status is ApplyStatus.FAILED and isinstance(outcome.error, LockHeld)
    assert outcome.prepared is None and said.kinds() == [] and bots_on(engine) == []


def test_the_expired_lock_of_a_dead_run_is_taken_over_and_said_at_once() -> None:
    engine = Engine()
    now = [1000.0]
    engine.clock = lambda: now[0]
    dead = FleetLock(engine, FLEET, ttl=5)
    dead.acquire()
    dead._stop_heartbeat()  # SIGKILL: no more beats, no release
    now[0] += 7
    said = Said()
    outcome = run_apply(request(fleet("a")), engine, said.hooks())
    assert outcome.status is ApplyStatus.APPLIED and outcome.took_over
    assert said.events[0] == ("notify", f"Took over the expired lock of {outcome.took_over}.")
    assert lock_markers(engine) == []


def test_an_interrupt_ends_in_the_outcome_and_the_lock_is_released() -> None:
    engine, said = Engine(), Said(raise_in_confirm=KeyboardInterrupt())
    outcome = run_apply(request(fleet("a")), engine, said.hooks())
    assert outcome.status is ApplyStatus.INTERRUPTED and outcome.report is None
    assert bots_on(engine) == [] and lock_markers(engine) == []


def test_a_hook_that_raises_propagates_after_the_lock_is_released() -> None:
    engine, said = Engine(), Said(raise_in_confirm=RuntimeError("the terminal went away"))
    with pytest.raises(RuntimeError, match="the terminal went away"):
        run_apply(request(fleet("a")), engine, said.hooks())
    assert lock_markers(engine) == []


def test_failed_bots_are_in_the_report_and_the_record() -> None:
    engine = Engine(bad_images=frozenset({BAD_IMAGE}))
    outcome = run_apply(request(fleet("a", "b", image=BAD_IMAGE), max_failures=1, parallelism=1), engine)
    assert outcome.status is ApplyStatus.APPLIED and outcome.report is not None
    assert len(outcome.report.failed) == 1 and [a.bot for a in outcome.report.not_started] == ["b"]
    assert outcome.result == "0 succeeded, 1 failed, 1 not started"
    record = read_record(engine, FLEET)
    assert record is not None and record["result"] == outcome.result


def test_a_record_that_cannot_be_written_after_an_apply_is_a_warning_then_the_lock_release_one() -> None:
    engine = Engine()
    engine.fail_marker_create.add(record_name(FLEET))
    engine.fail_marker_remove.add(LOCK_PREFIX + FLEET)
    outcome = run_apply(request(fleet("a")), engine)
    assert outcome.status is ApplyStatus.APPLIED and outcome.error is None
    unlock = f"run: deployer unlock {FLEET} --force"
    assert outcome.warnings == [
        f"could not write the fleet's last-applied record: create {record_name(FLEET)}: engine said no",
        f"could not release the lock: remove {LOCK_PREFIX}{FLEET}: engine said no; {unlock}",
    ]


def test_a_record_that_cannot_be_written_for_no_changes_fails_the_run() -> None:
    engine = Engine()
    run_apply(request(fleet("a")), engine)
    engine.fail_marker_create.add(record_name(FLEET))
    outcome = run_apply(request(fleet("a")), engine)
    assert outcome.status is ApplyStatus.FAILED and "engine said no" in str(outcome.error)
    assert lock_markers(engine) == []


def saved_plan_of(spec: FleetSpec, engine: Engine) -> SavedPlan:
    options = plan_options(spec, None, traits=DOCKER_TRAITS)
    prepared = prepare(spec, options, engine, preflight=False)
    return SavedPlan(FLEET, [], {}, {}, state_fingerprints(prepared.fleet, prepared.observed, prepared.options),
                     plan_document(prepared.plan))


def test_a_saved_plan_is_applied_as_saved_and_refused_once_the_engine_moved() -> None:
    engine = Engine()
    run_apply(request(fleet("a")), engine)
    saved = saved_plan_of(fleet("a", "b"), engine)
    run_apply(request(fleet("a", "c")), engine)  # someone else's apply in between
    said = Said()
    outcome = run_apply(request(fleet("a", "b"), saved=saved), engine, said.hooks())
    assert outcome.status is ApplyStatus.FAILED and isinstance(outcome.error, StalePlan)
    assert said.kinds() == []  # stale: not even shown
    assert bots_on(engine) == ["botmaker-a", "botmaker-c"] and lock_markers(engine) == []

    fresh = saved_plan_of(fleet("a", "b"), engine)
    assert run_apply(request(fleet("a", "b"), saved=fresh), engine).status is ApplyStatus.APPLIED
    assert "botmaker-b" in bots_on(engine)


def test_a_rollback_is_recorded_as_one_and_the_next_apply_says_it_rolls_forward() -> None:
    engine = Engine()
    run_apply(request(fleet("a")), engine)
    [first] = read_history(engine, FLEET)
    run_apply(request(fleet("a", "b")), engine)
    said = Said()
    outcome = run_apply(ApplyRequest(fleet=fleet("a"), settings=PlanSettings(prune=True), rollback_of=first,
                                     wait_timeout=5), engine, said.hooks())
    assert outcome.status is ApplyStatus.APPLIED and outcome.result == "1 succeeded, 0 failed"
    assert any("rollback to entry #1" in note for note in outcome.notes)
    assert ("show", outcome.notes) in said.events
    record = read_record(engine, FLEET)
    assert record is not None and record["result"] == "rollback to #1: 1 succeeded, 0 failed"
    assert record["revision"] == first.revision
    newest = read_history(engine, FLEET)[0]
    assert (newest.kind, newest.rollback_to) == ("rollback", 1)

    forward = run_apply(request(fleet("a", "b")), engine)
    by = f"(applied {record['applied_at']} by {record['applied_by']})"
    assert forward.notes == [f"Note: fleet {FLEET} runs a rollback to #1 {by}; "
                             + "this apply rolls it forward to the manifests."]


def test_an_apply_over_an_ordinary_record_has_no_notes() -> None:
    engine = Engine()
    write_record(engine, FLEET, _stamp(), {}, "3 succeeded, 0 failed")
    assert run_apply(request(fleet("a")), engine).notes == []


def _stamp() -> Any:
    from deployer.runtime.stamps import Stamp

    return Stamp("r", "2026-01-01T00:00:00Z", "me@here")


def test_the_result_line_names_what_did_not_happen() -> None:
    report = ApplyReport(results=[BotResult("a", "create", True, ""), BotResult("b", "create", False, "x")],
                         skipped=["c"], interrupted=True)
    assert result_line(report) == "1 succeeded, 1 failed, 1 skipped (interrupted)"
    report.not_started = [Action("d", "create")]  # never started: not counted as failed (issue 24)
    assert result_line(report) == "1 succeeded, 1 failed, 1 not started, 1 skipped (interrupted)"


# --- the CLI's exit codes, from outcomes ------------------------------------------------------------

def _report(*, failed: bool = False, not_started: bool = False, interrupted: bool = False) -> ApplyReport:
    return ApplyReport(results=[BotResult("a", "create", not failed, "")], interrupted=interrupted,
                       not_started=[Action("b", "create")] if not_started else [])


@pytest.mark.parametrize("outcome, code", [
    (ApplyOutcome(ApplyStatus.APPLIED, report=_report()), 0),
    (ApplyOutcome(ApplyStatus.APPLIED, report=_report(), warnings=["could not write the record"]), 0),
    (ApplyOutcome(ApplyStatus.APPLIED, report=_report(failed=True)), 1),
    (ApplyOutcome(ApplyStatus.APPLIED, report=_report(not_started=True)), 1),
    (ApplyOutcome(ApplyStatus.APPLIED, report=_report(failed=True, interrupted=True)), 130),
    (ApplyOutcome(ApplyStatus.NO_CHANGES), 0),
    (ApplyOutcome(ApplyStatus.REFUSED), 1),
    (ApplyOutcome(ApplyStatus.CANCELLED), 1),
    (ApplyOutcome(ApplyStatus.FAILED), 1),
    (ApplyOutcome(ApplyStatus.INTERRUPTED), 130),
    (ApplyOutcome(ApplyStatus.INTERRUPTED, report=_report()), 130),
    (ApplyOutcome(ApplyStatus.APPLIED, report=_report(), late_interrupt=True), 130),
])
def test_exit_codes_of_outcomes(outcome: ApplyOutcome, code: int) -> None:
    from deployer.cli.apply import _exit_code

    assert _exit_code(outcome) == code


def test_a_rollback_request_stamps_the_entry_revision_not_git(monkeypatch: pytest.MonkeyPatch) -> None:
    import deployer.runtime.stamps

    monkeypatch.setattr(deployer.runtime.stamps, "git_revision", lambda paths: pytest.fail("asked git"))
    engine = Engine()
    entry = Entry(7, "abc123", "t", "me", "", "apply", "ok", {})
    run_apply(ApplyRequest(fleet=fleet("a"), rollback_of=entry, wait_timeout=5), engine)
    record = read_record(engine, FLEET)
    assert record is not None and record["revision"] == "abc123" and record["result"].startswith("rollback to #7: ")


def test_the_cli_says_the_error_then_the_warnings_after_the_release(capsys: pytest.CaptureFixture[str]) -> None:
    from deployer.cli.apply import _said
    from deployer.core.problems import Problem
    from deployer.errors import InvalidSecrets

    error = InvalidSecrets([Problem("secrets/a", 0, 0, "", "mode 0644: readable by others")])
    code = _said(ApplyOutcome(ApplyStatus.FAILED, error=error, warnings=["could not release the lock: gone"]))
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.splitlines() == ["secrets/a: mode 0644: readable by others", "1 error(s), 0 warning(s)",
                                "error: 1 secret problem(s); nothing was changed",
                                "warning: could not release the lock: gone"]


@pytest.mark.parametrize("status, stream, line", [
    (ApplyStatus.REFUSED, "err", "error: the plan has errors (above); nothing was changed"),
    (ApplyStatus.CANCELLED, "out", "Apply cancelled; nothing was changed."),
    (ApplyStatus.INTERRUPTED, "err", "Interrupted before any change was made; nothing was changed."),
])
def test_the_cli_says_how_an_apply_ended_without_changes(status: ApplyStatus, stream: str, line: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from deployer.cli.apply import _said

    _said(ApplyOutcome(status))
    out, err = capsys.readouterr()
    assert (out if stream == "out" else err) == line + "\n" and (err if stream == "out" else out) == ""


def test_an_interrupt_after_the_last_change_says_nothing_was_left_undone(capsys: pytest.CaptureFixture[str]) -> None:
    from deployer.cli.apply import _said

    code = _said(ApplyOutcome(ApplyStatus.APPLIED, report=_report(), late_interrupt=True))
    out, err = capsys.readouterr()
    assert code == 130 and out == ""
    assert err == "Interrupted after the last change was made: nothing was left undone (the summary is above).\n"


# --- interrupts: real signals, however many, once changes have started (issue 24, defect 1) --------

def sigint() -> None:
    """Ctrl-C: SIGINT to this process, handled in the main thread (pytest's) between two bytecodes."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.1)  # two signals sent at once may arrive as one


class Interrupting(Said):
    """Hooks that press Ctrl-C `times` times while the first bot is under way."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def hooks(self) -> ApplyHooks:
        def progress(bot: str, event: str, message: str) -> None:
            self.events.append(("progress", (bot, event)))
            if (bot, event) == ("a", "start"):
                for _ in range(self.times):
                    sigint()

        return dataclasses.replace(super().hooks(), progress=progress)


@pytest.mark.parametrize("times", [1, 2, 3])
def test_ctrl_c_once_or_again_finishes_the_bot_under_way_and_records_what_ran(times: int) -> None:
    engine = Engine(ready_delay=0.5)
    said = Interrupting(times)
    outcome = run_apply(request(fleet("a", "b", "c", "d", "e"), parallelism=1), engine, said.hooks())
    assert outcome.status is ApplyStatus.APPLIED and outcome.report is not None
    report = outcome.report
    assert report.interrupted and [(r.bot, r.ok) for r in report.results] == [("a", True)]
    assert [a.bot for a in report.not_started] == ["b", "c", "d", "e"]
    assert report.stopped == "the apply was interrupted"
    assert outcome.result == "1 succeeded, 0 failed, 4 not started (interrupted)"
    notices = [text for kind, text in said.events if kind == "notify"]
    assert notices[0] == "interrupt received, finishing 1 bot under way; no new change starts"
    assert len(notices) == times and all(n.startswith("interrupt received again, still finishing 1 bot under way")
                                         for n in notices[1:])
    assert said.kinds()[-1] == "applied"  # the summary was shown
    assert bots_on(engine) == ["botmaker-a"]
    record = read_record(engine, FLEET)
    assert record is not None and record["result"] == outcome.result
    [entry] = read_history(engine, FLEET)
    assert entry.result == outcome.result
    assert lock_markers(engine) == []


class InterruptedWhileRecording(Engine):
    """Ctrl-C while the record (or the history entry) is being written."""

    def __init__(self, marker_prefix: str) -> None:
        super().__init__()
        self.marker_prefix = marker_prefix

    def create_marker(self, name: str, labels: dict[str, str]) -> str:
        if name.startswith(self.marker_prefix):
            sigint()
        return super().create_marker(name, labels)


@pytest.mark.parametrize("marker_prefix", [record_name(FLEET), HISTORY_PREFIX])
def test_ctrl_c_while_the_record_is_written_does_not_stop_it(marker_prefix: str) -> None:
    engine = InterruptedWhileRecording(marker_prefix)
    said = Said()
    outcome = run_apply(request(fleet("a")), engine, said.hooks())
    assert outcome.status is ApplyStatus.APPLIED and outcome.late_interrupt and outcome.warnings == []
    assert outcome.report is not None and not outcome.report.interrupted
    assert ("notify", "interrupt received after the last change: writing the record and the history entry, "
                      "then releasing the lock") in said.events
    record = read_record(engine, FLEET)
    assert record is not None and record["result"] == "1 succeeded, 0 failed"
    assert [e.result for e in read_history(engine, FLEET)] == ["1 succeeded, 0 failed"]
    assert lock_markers(engine) == []


def test_ctrl_c_while_the_summary_is_shown_still_writes_the_record() -> None:
    engine = Engine()
    said = Said()
    hooks = dataclasses.replace(said.hooks(), applied=lambda report, result: sigint())
    outcome = run_apply(request(fleet("a")), engine, hooks)
    assert outcome.status is ApplyStatus.APPLIED and outcome.late_interrupt
    record = read_record(engine, FLEET)
    assert record is not None and record["result"] == "1 succeeded, 0 failed"
    assert len(read_history(engine, FLEET)) == 1 and lock_markers(engine) == []


def test_ctrl_c_before_any_change_still_unwinds_and_the_handler_is_put_back() -> None:
    engine = Engine()
    hooks = dataclasses.replace(Said().hooks(), confirm=lambda plan: (sigint(), True)[1])
    outcome = run_apply(request(fleet("a")), engine, hooks)
    assert outcome.status is ApplyStatus.INTERRUPTED and outcome.report is None
    assert bots_on(engine) == [] and read_record(engine, FLEET) is None and lock_markers(engine) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_history_records_an_in_place_update_and_what_each_apply_changed() -> None:
    """Issue 24: the container's spec label cannot follow an in-place update; the entry must."""
    engine = Engine()
    run_apply(request(fleet("a")), engine)
    limited = BotSpec(name="a", image="app:1", memory_bytes=64 << 20)
    outcome = run_apply(request(FleetSpec(name=FLEET, bots=(limited,))), engine)
    assert outcome.plan is not None and [a.action for a in outcome.plan.actions] == ["update"]
    run_apply(request(FleetSpec(name=FLEET, bots=(limited, BotSpec(name="b", image="app:1")))), engine)
    third, second, first = read_history(engine, FLEET)
    assert first.bots["a"].spec is not None and first.bots["a"].spec["memory"] is None
    assert second.bots["a"].spec is not None and second.bots["a"].spec["memory"] == 64 << 20
    assert second.bots["a"].spec_hash != first.bots["a"].spec_hash
    assert third.bots["a"].spec_hash == second.bots["a"].spec_hash  # unchanged: still its limit
    assert [first.changes, second.changes, third.changes] == [{"a": "created"}, {"a": "updated"}, {"b": "created"}]


def memory_of(engine: Engine, bot: str) -> int:
    [c] = [c for c in engine.containers.values() if c.name == f"botmaker-{bot}"]
    return int(c.memory_bytes)


def unit_inspects(engine: Engine) -> list[str]:
    """The units inspected (not the markers the lock and the record look up by name)."""
    return [c.name for c in engine.calls_of("inspect") if c.id]


def test_undoing_an_in_place_update_is_planned_and_applied_in_place() -> None:
    """An in-place update leaves the container's spec label (and its hash) as they were at create:
    the manifest put back as it was then hashes as the label does, and must still be planned as
    the update back, with no inspect on the no-op plans around it."""
    def limited(megabytes: int) -> FleetSpec:
        return FleetSpec(name=FLEET, bots=(BotSpec(name="a", image="app:1", memory_bytes=megabytes << 20),
                                           BotSpec(name="b", image="app:1")))

    engine = Engine()
    run_apply(request(limited(64)), engine)
    [created] = [c.id for c in engine.containers.values() if c.name == "botmaker-a"]
    outcome = run_apply(request(limited(96)), engine)
    assert outcome.plan is not None and [a.action for a in outcome.plan.actions] == ["update", "noop"]
    assert memory_of(engine, "a") == 96 << 20
    engine.log.clear()
    again = run_apply(request(limited(96)), engine)  # what runs: no change, and no inspect to know it
    assert again.status is ApplyStatus.NO_CHANGES and unit_inspects(engine) == []
    back = run_apply(request(limited(64)), engine)
    assert back.plan is not None and [a.action for a in back.plan.actions] == ["update", "noop"]
    [change] = back.plan.actions[0].changes
    assert (change.field, change.before, change.after) == ("memory", 96 << 20, 64 << 20)
    assert back.status is ApplyStatus.APPLIED and memory_of(engine, "a") == 64 << 20
    assert [c.id for c in engine.containers.values() if c.name == "botmaker-a"] == [created]  # in place
    engine.log.clear()
    last = run_apply(request(limited(64)), engine)
    assert last.status is ApplyStatus.NO_CHANGES and unit_inspects(engine) == []


def in_place_record(engine: Engine) -> dict[str, str]:
    found = engine.find_marker(record_name(FLEET))
    assert found is not None
    return updated_in_place_of(found[1])


def test_an_in_place_update_that_failed_part_way_is_inspected_by_the_next_plan() -> None:
    """`docker update` took effect, then the step failed: what the container runs is unknown,
    so the record says so and the next plan reads its live settings."""
    def limited(megabytes: int) -> FleetSpec:
        return FleetSpec(name=FLEET, bots=(BotSpec(name="a", image="app:1", memory_bytes=megabytes << 20),))

    engine = Engine()
    run_apply(request(limited(64)), engine)
    engine.fail_on("update", "botmaker-a", after=True)
    failed = run_apply(request(limited(96)), engine)
    assert failed.result == "0 succeeded, 1 failed" and memory_of(engine, "a") == 96 << 20
    [a] = [c.id for c in engine.containers.values() if c.name == "botmaker-a"]
    assert in_place_record(engine) == {a: UNKNOWN_SPEC}
    back = run_apply(request(limited(64)), engine)
    assert back.plan is not None and [a.action for a in back.plan.actions] == ["update"]
    assert memory_of(engine, "a") == 64 << 20 and in_place_record(engine) == {}


def test_the_record_forgets_a_container_updated_in_place_once_it_is_replaced_and_keeps_the_others() -> None:
    def spec(megabytes: int, image: str = "app:1") -> FleetSpec:
        return FleetSpec(name=FLEET, bots=(BotSpec(name="a", image=image, memory_bytes=megabytes << 20),
                                           BotSpec(name="b", image="app:1", memory_bytes=megabytes << 20)))

    engine = Engine()
    run_apply(request(spec(64)), engine)
    assert in_place_record(engine) == {}  # nothing updated in place: the record lists nothing
    run_apply(request(spec(96)), engine)
    ids = {c.name: c.id for c in engine.containers.values() if not c.marker}
    hashes = in_place_record(engine)
    assert set(hashes) == {ids["botmaker-a"], ids["botmaker-b"]}
    run_apply(request(spec(96, image="app:2")), engine)  # a is replaced; b is left as it runs
    assert in_place_record(engine) == {ids["botmaker-b"]: hashes[ids["botmaker-b"]]}


def test_history_records_the_in_place_settings_of_a_bot_whose_start_failed() -> None:
    """A container the last record says runs its in-place update is not inspected when the
    manifest matches it; when its start then fails, the entry still records what it runs (the
    update), not its stale label."""
    def limited(megabytes: int) -> FleetSpec:
        return FleetSpec(name=FLEET, bots=(BotSpec(name="a", image="app:1", memory_bytes=megabytes << 20),))

    engine = Engine()
    run_apply(request(limited(64)), engine)
    run_apply(request(limited(96)), engine)
    [a] = [c for c in engine.containers.values() if c.name == "botmaker-a"]
    a.status = "exited"  # stopped by hand
    engine.fail_on("start", "botmaker-a")
    engine.log.clear()
    failed = run_apply(request(limited(96)), engine)
    assert failed.plan is not None and [x.action for x in failed.plan.actions] == ["start"]
    assert failed.result == "0 succeeded, 1 failed" and unit_inspects(engine) == []
    newest = read_history(engine, FLEET)[0]
    assert newest.bots["a"].spec is not None and newest.bots["a"].spec["memory"] == 96 << 20
    assert in_place_record(engine) == {a.id: newest.bots["a"].spec_hash}


def test_on_a_backend_without_in_place_fields_the_record_lists_nothing() -> None:
    """Swarm: every change is a replace in the engine, which relabels the unit with its new spec."""
    def limited(megabytes: int) -> FleetSpec:
        return FleetSpec(name=FLEET, bots=(BotSpec(name="a", image="app:1", memory_bytes=megabytes << 20),))

    engine = Engine(traits=SWARM_TRAITS)
    run_apply(request(limited(64)), engine)
    changed = run_apply(request(limited(96)), engine)
    assert changed.plan is not None and [a.action for a in changed.plan.actions] == ["replace"]
    assert in_place_record(engine) == {} and LABEL_MANAGED not in (engine.find_marker(record_name(FLEET)) or ("", {}))[1]
    back = run_apply(request(limited(64)), engine)
    assert back.plan is not None and [a.action for a in back.plan.actions] == ["replace"]
    assert memory_of(engine, "a") == 64 << 20


def test_the_observer_finds_its_fleets_in_place_record_in_its_one_list_call() -> None:
    """Only this fleet's record counts; other rows that carry the managed label without 'true'
    are neither this fleet's containers nor other fleets'; an unreadable list is no list."""
    big = FleetSpec(name=FLEET, bots=(BotSpec(name="a", image="app:1", memory_bytes=96 << 20),))
    engine = Engine()
    run_apply(request(dataclasses.replace(big, bots=(dataclasses.replace(big.bots[0], memory_bytes=64 << 20),))),
              engine)
    run_apply(request(big), engine)
    [(cid, runs)] = in_place_record(engine).items()
    write_record(engine, "other", Stamp.now("r"), {}, "1 succeeded", {cid: "v1-not-what-runs"})
    engine.create_marker("botmaker-someone-else", {LABEL_MANAGED: "false", "botmaker.fleet": FLEET})
    engine.log.clear()
    observed = gather(engine, big, PlanOptions(traits=DOCKER_TRAITS))
    assert [(c.id, c.applied_hash, c.inspected) for c in observed.containers] == [(cid, runs, False)]
    assert observed.foreign_managed_count == 0
    assert [c.kind for c in engine.log] == ["list", "inspect_image"]
    for unreadable in ("not json", "[1]", '{"x": 1}', ""):
        assert updated_in_place_of({"botmaker.updated-in-place": unreadable}) == {}


def test_ctrl_c_just_after_the_last_change_is_deferred_is_not_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review of issue 24, item 5: ^C the moment the flow hands interrupts to `late` (after the
    applier returned, before the outcome is filled in) is said and exits 130, not overwritten."""
    from deployer.flows import apply as flow
    from deployer.runtime.interrupts import Interrupts

    class SignalAfterLate(Interrupts):
        def defer(self, callback: Any) -> None:
            super().defer(callback)
            if getattr(callback, "__name__", "") == "late":
                sigint()

    monkeypatch.setattr(flow, "Interrupts", SignalAfterLate)
    said = Said()
    outcome = run_apply(request(fleet("a")), Engine(), said.hooks())
    assert outcome.status is ApplyStatus.APPLIED and outcome.report is not None
    assert not outcome.report.interrupted and outcome.late_interrupt
    assert ("notify", "interrupt received after the last change: writing the record and the history entry, "
                      "then releasing the lock") in said.events


class InterruptedWhileReleasing(Engine):
    """Ctrl-C while the lock marker is being removed."""

    def remove_marker(self, marker_id: str, name: str = "") -> None:
        if name.startswith(LOCK_PREFIX) and ".beat." not in name:
            sigint()
        super().remove_marker(marker_id, name)


def test_a_second_ctrl_c_while_the_lock_is_released_before_any_change_still_releases_it() -> None:
    """Review of issue 24, item 4: ^C at the question, then ^C again during the release: the run
    still ends in its outcome (exit 130 from the CLI, not click's "Aborted!") and the lock is gone,
    not left until its TTL."""
    engine = InterruptedWhileReleasing()
    said = Said()
    hooks = dataclasses.replace(said.hooks(), confirm=lambda plan: (sigint(), True)[1])
    outcome = run_apply(request(fleet("a")), engine, hooks)
    assert outcome.status is ApplyStatus.INTERRUPTED and outcome.report is None
    assert bots_on(engine) == [] and lock_markers(engine) == []
    assert [t for k, t in said.events if k == "notify"] == ["interrupt received again: releasing the lock"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    from deployer.cli.apply import _exit_code

    assert _exit_code(outcome) == 130


# --- review of issue 24, item 3: hooks that fail (a closed stdout) lose nothing -------------------

def test_a_failing_progress_hook_is_said_once_then_left_and_the_apply_goes_on_and_is_recorded() -> None:
    engine, said = Engine(), Said()
    calls: list[tuple[str, str]] = []

    def progress(bot: str, event: str, message: str) -> None:
        calls.append((bot, event))
        raise BrokenPipeError(32, "Broken pipe")

    hooks = dataclasses.replace(said.hooks(), progress=progress)
    outcome = run_apply(request(fleet("a", "b", "c"), parallelism=1), engine, hooks)
    assert outcome.status is ApplyStatus.APPLIED and outcome.report is not None
    assert outcome.result == "3 succeeded, 0 failed"
    assert calls == [("a", "start")]  # never called again
    notices = [t for k, t in said.events if k == "notify"]
    assert len(notices) == 1 and notices[0].startswith("warning: progress could not be shown (BrokenPipeError"), notices
    assert bots_on(engine) == ["botmaker-a", "botmaker-b", "botmaker-c"]
    record = read_record(engine, FLEET)
    assert record is not None and record["result"] == outcome.result
    assert [e.result for e in read_history(engine, FLEET)] == [outcome.result]
    assert lock_markers(engine) == []


def test_a_summary_hook_that_fails_still_leaves_the_record_and_history_entry() -> None:
    engine, said = Engine(), Said()

    def applied(report: ApplyReport, result: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):
        run_apply(request(fleet("a")), engine, dataclasses.replace(said.hooks(), applied=applied))
    record = read_record(engine, FLEET)
    assert record is not None and record["result"] == "1 succeeded, 0 failed"
    assert [e.result for e in read_history(engine, FLEET)] == ["1 succeeded, 0 failed"]
    assert lock_markers(engine) == []


def test_a_lock_removed_while_the_plan_is_asked_about_changes_nothing() -> None:
    """Review of issue 24, item 2: `unlock --force` while the run sits at its question."""
    from deployer.errors import LockLost
    from deployer.runtime.lock import force_unlock

    engine = Engine()
    hooks = dataclasses.replace(Said().hooks(), confirm=lambda plan: (force_unlock(engine, FLEET), True)[1])
    outcome = run_apply(request(fleet("a")), engine, hooks)
    assert outcome.status is ApplyStatus.FAILED and isinstance(outcome.error, LockLost)
    assert str(outcome.error).startswith(f"fleet {FLEET}: the lock was lost while the plan awaited confirmation: ")
    assert str(outcome.error).endswith("nothing was changed: plan and apply again")
    assert outcome.report is None and bots_on(engine) == [] and read_record(engine, FLEET) is None
    assert engine.list_markers("botmaker.lock", FLEET)[1] == []
