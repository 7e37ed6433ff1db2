"""Keep Prefect's follow-up runs in step with the case store, and run the reminder ladder.

The store's `followups` rows are the truth; Prefect's scheduled runs of
`reintegration-followup` are how coordinators see what is coming. `reconcile` compares the two
and repairs Prefect: a follow-up due within the horizon gets a run (idempotency key per
follow-up and generation, so none is created twice), a moved one is rescheduled, a deleted one
(or a whole replaced Prefect database) is recreated, and the follow-ups of an ended case, or
declined by the person, are stopped. Each follow-up still without its report climbs the ladder
(models/followup_ladder.py: a notice ahead, a reminder, overdue, a breach), each rung once (the
ledger's `followup-<rung>`); a case whose person declined further contact closes once its last
follow-up's due date passed.

Plain Python with an injected clock, a small `FollowUpRuns` interface and `Notify` and `Closed`
callbacks, so the logic is tested without a server and this module sends nothing itself:
orchestration/followup_runs.py is the Prefect implementation of the runs, and
tasks/followups.py queues the notices in the transaction that records them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.crypto import MasterKey
from safepassage.models.followup_ladder import DEFAULT_LADDER, RUNG_ACTIONS, FollowUpLadder, Rung
from safepassage.models.followup_plan import is_overdue, report_by, run_time
from safepassage.models.store.db import Store
from safepassage.models.store.followups import (
    NOT_STARTED,
    PENDING,
    FollowUpState,
    PendingFollowUp,
    declined_to_close,
    pending_followups,
)
from safepassage.models.store.orm import Case, CaseAction, FollowUp
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Stage

logger = logging.getLogger("safepassage.followups")

ACTOR = "followup-scheduler"
#: A run more than this far from its wanted time is moved (Prefect rounds nothing, but clocks
#: and the compressed clock's "now" differ by moments between calls).
TOLERANCE = dt.timedelta(seconds=60)
#: Prefect's state types, as strings: this module does not import prefect.
NOT_STARTED_RUN = "SCHEDULED"
FINISHED_RUN = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})


@dataclass(frozen=True)
class RunSpec:
    """A follow-up run to create: its parameters follow from reference and number."""

    reference: str
    number: int
    scheduled_for: dt.datetime
    idempotency_key: str
    name: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class RunInfo:
    """What Prefect knows of a run: its state type and, if not started, when it is scheduled."""

    run_id: str
    state_type: str
    scheduled_for: dt.datetime | None


class FollowUpRuns(Protocol):
    """Where follow-up runs live (Prefect in production, a fake in tests)."""

    def find(self, run_ids: Sequence[str]) -> dict[str, RunInfo]:
        """Return the runs that exist among `run_ids`, by id."""
        ...

    def create(self, spec: RunSpec) -> str:
        """Create the run (or return the existing one with the same key); return its id."""
        ...

    def delete(self, run_id: str) -> None:
        """Delete a run that has not started (gone already is fine)."""
        ...

    def cancel(self, run_id: str) -> None:
        """Cancel a run that started (a suspended one waiting for a report, say)."""
        ...


class Notify(Protocol):
    """Queue a rung's notice, in the transaction that records the rung in the ledger."""

    def __call__(
        self,
        session: Session,
        master_key: MasterKey,
        case: Case,
        *,
        rung: Rung,
        number: int,
        due_on: dt.date,
        report_by: dt.date,
        now: dt.datetime,
    ) -> None:
        """Queue the notice (the reconcile records the rung itself, once)."""
        ...


class Closed(Protocol):
    """Queue the notice that a case closed (the person declined further contact)."""

    def __call__(
        self, session: Session, master_key: MasterKey, case: Case, *, now: dt.datetime
    ) -> None:
        """Queue the notice (the reconcile closed the case in this transaction)."""
        ...


def run_key(reference: str, number: int, generation: int) -> str:
    """Return the idempotency key of a follow-up's run; a moved run gets a new generation."""
    return f"followup:{reference}:{number}:g{generation}"


def run_name(reference: str, number: int) -> str:
    """Return the run's name as the UI shows it."""
    return f"followup-{reference}-{number}"


@dataclass
class ReconcileReport:
    """What a reconcile did; counts and (reference, number) pairs only, nothing personal."""

    examined: int = 0
    created: int = 0
    recreated: int = 0
    rescheduled: int = 0
    unscheduled: int = 0
    cancelled: int = 0
    #: Declined follow-ups whose run was stopped (or found gone) and forgotten.
    declined: int = 0
    #: Each rung sent: (reference, follow-up number, rung).
    notified: list[tuple[str, int, Rung]] = field(default_factory=list)
    #: Cases closed because the person declined contact and the last due date passed.
    closed: list[str] = field(default_factory=list)
    broken: list[tuple[str, int]] = field(default_factory=list)

    @property
    def escalated(self) -> list[tuple[str, int]]:
        """Return the follow-ups escalated by this reconcile (overdue or breach)."""
        return [(r, n) for r, n, rung in self.notified if rung in {Rung.OVERDUE, Rung.BREACH}]

    @property
    def touched(self) -> list[str]:
        """Return the references of the cases notified or closed, once each, in order."""
        return list(dict.fromkeys([r for r, _, _ in self.notified] + self.closed))

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready values."""
        return {
            "examined": self.examined,
            "created": self.created,
            "recreated": self.recreated,
            "rescheduled": self.rescheduled,
            "unscheduled": self.unscheduled,
            "cancelled": self.cancelled,
            "declined": self.declined,
            "notified": [f"{ref}#{n}:{rung.value}" for ref, n, rung in self.notified],
            "escalated": [f"{ref}#{n}" for ref, n in self.escalated],
            "closed": list(self.closed),
            "broken": [f"{ref}#{n}" for ref, n in self.broken],
        }


@dataclass
class _RunChange:
    """A row's new run fields, written after Prefect was changed."""

    id: int
    flow_run_id: str | None
    scheduled_for: dt.datetime | None
    generation: int
    to_state: FollowUpState | None


def reconcile(
    store: Store,
    runs: FollowUpRuns,
    *,
    now: dt.datetime,
    horizon_days: int,
    notify: Notify,
    closed: Closed,
    ladder: FollowUpLadder = DEFAULT_LADDER,
    hour_utc: int = 9,
    reference: str | None = None,
    compressed: bool = False,
) -> ReconcileReport:
    """Bring Prefect's follow-up runs in line with the store, climb the ladder, close declined.

    Safe to repeat and to run concurrently: runs are created under idempotency keys, and each
    rung is recorded in the ledger. `compressed` (the demo's compressed clock, one case only)
    schedules every pending follow-up of `reference` for `now` instead of its due date. The
    caller delivers the queued notices (`report.touched`) after it returns.
    """
    if compressed and reference is None:
        raise ValueError("the compressed clock applies to one case: pass its reference")
    today = now.astimezone(dt.UTC).date()
    through = today + dt.timedelta(days=horizon_days)
    # A notice goes out before its follow-up's run is scheduled if the horizon is the shorter.
    read_through = max(through, today + dt.timedelta(days=ladder.notice_days_before))
    report = ReconcileReport()
    with store.transaction() as session:
        rows = pending_followups(
            session, through=read_through, reference=reference, whole_case=compressed
        )
        report.examined = len(rows)
        rows = [_settle(session, row, today=today, now=now, report=report) for row in rows]
        _climb(session, store, rows, ladder=ladder, today=today, now=now, notify=notify,
               report=report)  # fmt: skip
        _close_declined(
            session, store, today=today, now=now, reference=reference, closed=closed,
            report=report,
        )  # fmt: skip
    existing = runs.find([row.flow_run_id for row in rows if row.flow_run_id])
    changes: list[_RunChange] = []
    for row in rows:
        run = existing.get(row.flow_run_id) if row.flow_run_id else None
        if row.state == FollowUpState.DECLINED:  # stopped, then forgotten: not read again
            _stop(runs, run)
            report.declined += 1
            changes.append(_RunChange(row.id, None, None, row.run_generation, None))
            continue
        if row.case_ended:
            _stop(runs, run)
            continue
        want = now if compressed else run_time(row.due_on, hour_utc)
        in_horizon = compressed or row.due_on <= through or row.state not in NOT_STARTED
        change = _align(runs, row, run, want=want, in_horizon=in_horizon, report=report)
        if change is not None:
            changes.append(change)
    if changes:
        with store.transaction() as session:
            for change in changes:
                _write(session, change, now=now)
    return report


def _settle(
    session: Session,
    row: PendingFollowUp,
    *,
    today: dt.date,
    now: dt.datetime,
    report: ReconcileReport,
) -> PendingFollowUp:
    """Apply what needs no Prefect: stop the follow-ups of ended cases, mark overdue ones.

    Most rows need neither: they are loaded as ORM objects only when they change.
    """
    if row.case_ended and row.state != FollowUpState.DECLINED:
        _set_state(session, row, FollowUpState.CANCELLED, now=now)
        report.cancelled += 1
        return row._replace(state=FollowUpState.CANCELLED.value)
    if (
        row.state != FollowUpState.OVERDUE
        and _pending(row)
        and is_overdue(row.due_on, row.window_days, today)
    ):
        _set_state(session, row, FollowUpState.OVERDUE, now=now)
        return row._replace(state=FollowUpState.OVERDUE.value)
    return row


def _pending(row: PendingFollowUp) -> bool:
    return not row.case_ended and FollowUpState(row.state) in PENDING


def _climb(
    session: Session,
    store: Store,
    rows: list[PendingFollowUp],
    *,
    ladder: FollowUpLadder,
    today: dt.date,
    now: dt.datetime,
    notify: Notify,
    report: ReconcileReport,
) -> None:
    """Send each follow-up's rung due today, once: one query reads the rungs already sent."""
    due = [
        (row, rung)
        for row in rows
        if _pending(row) and (rung := ladder.due_now(row.due_on, row.window_days, today))
    ]
    if not due:
        return
    case_ids = sorted({row.case_id for row, _ in due})
    done: set[tuple[int, str, int]] = set()
    batch = 1000  # bound parameters per statement stay well inside every backend's limit
    for start in range(0, len(case_ids), batch):
        query = select(CaseAction.case_id, CaseAction.action, CaseAction.attempt).where(
            CaseAction.case_id.in_(case_ids[start : start + batch]),
            CaseAction.action.in_(RUNG_ACTIONS),
        )
        done.update((c, a, n) for c, a, n in session.execute(query))
    for row, rung in due:
        if (row.case_id, rung.action, row.number) in done:
            continue
        case = session.get(Case, row.case_id)
        assert case is not None
        deadline = report_by(row.due_on, row.window_days)
        detail = {"follow_up": row.number, "due_on": row.due_on.isoformat(),
                  "report_by": deadline.isoformat()}  # fmt: skip
        # Recorded again here: another reconcile may have sent it since the read.
        if record_action(session, case, rung.action, row.number, now=now, actor=ACTOR,
                         detail=detail):  # fmt: skip
            notify(session, store.master_key, case, rung=rung, number=row.number,
                   due_on=row.due_on, report_by=deadline, now=now)  # fmt: skip
            report.notified.append((row.reference, row.number, rung))


def _close_declined(
    session: Session,
    store: Store,
    *,
    today: dt.date,
    now: dt.datetime,
    reference: str | None,
    closed: Closed,
    report: ReconcileReport,
) -> None:
    """Close each open case whose person declined contact, once its last due date passed."""
    for case_id, ref, last_due in declined_to_close(session, today=today, reference=reference):
        case = session.get(Case, case_id)
        assert case is not None
        set_stage(
            session, case, Stage.CLOSED, actor=ACTOR, now=now,
            detail={"reason": "followup-contact-declined", "last_due_on": last_due.isoformat()},
        )  # fmt: skip
        closed(session, store.master_key, case, now=now)
        report.closed.append(ref)


def _set_state(
    session: Session, row: PendingFollowUp, state: FollowUpState, *, now: dt.datetime
) -> None:
    followup = session.get(FollowUp, row.id)
    assert followup is not None  # read in this transaction
    followup.state = state.value
    followup.updated_at = now


def _stop(runs: FollowUpRuns, run: RunInfo | None) -> None:
    if run is None or run.state_type in FINISHED_RUN:
        return
    if run.state_type == NOT_STARTED_RUN:
        runs.delete(run.run_id)
    else:
        runs.cancel(run.run_id)


def _align(
    runs: FollowUpRuns,
    row: PendingFollowUp,
    run: RunInfo | None,
    *,
    want: dt.datetime,
    in_horizon: bool,
    report: ReconcileReport,
) -> _RunChange | None:
    """Make Prefect hold the one run the row needs; return the row's new run fields, if any."""
    generation = row.run_generation
    if run is not None and run.state_type in FINISHED_RUN:
        # A run that ended without a report was stopped on purpose or failed: a person looks
        # (the row stays pending and, past its window, escalated); recreating it could loop.
        report.broken.append((row.reference, row.number))
        logger.warning("follow-up %s of %s: its run ended", row.number, row.reference)
        return None
    if run is not None and run.state_type != NOT_STARTED_RUN:
        return None  # started: the flow marks the row waiting itself
    if run is not None and row.state in NOT_STARTED:
        on_time = run.scheduled_for is not None and abs(run.scheduled_for - want) <= TOLERANCE
        if in_horizon and on_time:
            if row.state == FollowUpState.SCHEDULED:
                return None
            # A planned row whose run exists (another reconcile made it meanwhile): record it.
            return _RunChange(
                row.id, run.run_id, run.scheduled_for, generation, FollowUpState.SCHEDULED
            )
        runs.delete(run.run_id)
        generation += 1
        if not in_horizon:  # moved beyond the horizon: the store keeps it until it comes near
            report.unscheduled += 1
            return _RunChange(row.id, None, None, generation, FollowUpState.PLANNED)
        report.rescheduled += 1
    elif run is not None:
        return None  # the mission was asked already; its run waits to start: leave it
    elif not in_horizon:
        if row.state == FollowUpState.PLANNED:
            return None
        report.unscheduled += 1  # its run is gone and its date moved away: back to the store
        return _RunChange(row.id, None, None, generation, FollowUpState.PLANNED)
    elif row.flow_run_id is not None:
        report.recreated += 1  # Prefect lost it (deleted, or its database replaced)
    else:
        report.created += 1
    if row.state not in NOT_STARTED and row.scheduled_for is not None:
        want = row.scheduled_for  # started before: the same time (and key) as then
    spec = RunSpec(
        reference=row.reference,
        number=row.number,
        scheduled_for=want,
        idempotency_key=run_key(row.reference, row.number, generation),
        name=run_name(row.reference, row.number),
        tags=("followup", f"programme:{row.programme}", f"mission:{row.country.lower()}"),
    )
    run_id = runs.create(spec)
    to_state = FollowUpState.SCHEDULED if row.state in NOT_STARTED else None
    return _RunChange(row.id, run_id, want, generation, to_state)


def _write(session: Session, change: _RunChange, *, now: dt.datetime) -> None:
    followup = session.get(FollowUp, change.id)
    if followup is None:  # the case was erased meanwhile
        return
    followup.flow_run_id = change.flow_run_id
    followup.scheduled_for = change.scheduled_for
    followup.run_generation = change.generation
    followup.updated_at = now
    # Only a row nobody started since the read changes state: the flow may have marked it
    # waiting (or the reconcile's own read said overdue) in between.
    if change.to_state is not None and FollowUpState(followup.state) in NOT_STARTED:
        followup.state = change.to_state.value
