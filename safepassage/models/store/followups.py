"""Data functions for reintegration follow-ups: plan, re-plan, and find what is due or overdue.

The `followups` rows are the truth about every follow-up; Prefect's scheduled runs are a view of
them that the reconcile (tasks/followup_schedule.py) keeps in step. Each function works in the
caller's transaction. Nothing here is personal: due dates, states and run ids only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, func, or_, select, true, union_all
from sqlalchemy import case as case_when
from sqlalchemy.orm import Session

from safepassage.models.errors import CaseStateError, FieldProblem, IntakeInvalid
from safepassage.models.followup_plan import (
    FollowUpPlan,
    add_months,
    due_dates,
    is_overdue,
    report_by,
)
from safepassage.models.json_ready import json_ready
from safepassage.models.store.events import append_event
from safepassage.models.store.orm import Case, CaseAction, CheckpointAnswer, FollowUp
from safepassage.models.vocabulary import FINAL_STAGES

REPORT_CHECKPOINT = "followup-report"


class FollowUpState(StrEnum):
    """Where a follow-up stands; the names are part of the CLI's JSON interface."""

    PLANNED = "planned"  # in the store only: due beyond the scheduling horizon
    SCHEDULED = "scheduled"  # a Prefect run waits for the due date
    WAITING = "waiting"  # the mission was asked; the run waits for its report
    OVERDUE = "overdue"  # the report window passed without a report (the ladder escalates)
    REPORTED = "reported"
    CANCELLED = "cancelled"  # the case ended (withdrawn, closed) before this follow-up
    DECLINED = "declined"  # the person declined further contact: no report is expected


#: Follow-ups that still expect a report.
PENDING = frozenset(
    {FollowUpState.PLANNED, FollowUpState.SCHEDULED, FollowUpState.WAITING, FollowUpState.OVERDUE}
)
#: Follow-ups whose date may still move: the mission has not been asked yet.
NOT_STARTED = frozenset({FollowUpState.PLANNED, FollowUpState.SCHEDULED})
_FINAL_STAGES = frozenset(s.value for s in FINAL_STAGES)
#: The ledger action of a follow-up a coordinator added (attempt: its number); a corrected
#: arrival does not move it, since it counts from the day it was added.
ADDED_ACTION = "followup-added"


def plan_followups(
    session: Session, case: Case, arrived_on: dt.date, plan: FollowUpPlan, *, now: dt.datetime
) -> list[FollowUp]:
    """Add the case's follow-ups from its actual arrival (rows that exist are kept as they are)."""
    existing = {row.number: row for row in case_followups(session, case)}
    for number, (months, due_on) in enumerate(
        zip(plan.offsets_months, due_dates(arrived_on, plan), strict=True), start=1
    ):
        if number in existing:
            continue
        row = FollowUp(
            case_id=case.id,
            number=number,
            due_on=due_on,
            window_days=plan.window_days,
            state=FollowUpState.PLANNED.value,
            offset_months=months,
            arrived_on=arrived_on,
            run_generation=0,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        existing[number] = row
    session.flush()
    return [existing[n] for n in sorted(existing)]


def case_followups(session: Session, case: Case) -> list[FollowUp]:
    """Return the case's follow-ups in order."""
    query = select(FollowUp).where(FollowUp.case_id == case.id).order_by(FollowUp.number)
    return list(session.scalars(query))


def get_followup(session: Session, case: Case, number: int) -> FollowUp:
    """Return follow-up `number` of the case, or raise CaseStateError naming what exists."""
    row = session.scalar(
        select(FollowUp).where(FollowUp.case_id == case.id, FollowUp.number == number)
    )
    if row is None:
        raise CaseStateError(
            f"case {case.reference} has no follow-up {number}: see `safepassage followups "
            f"{case.reference}`"
        )
    return row


def correct_arrival(
    session: Session, case: Case, arrived_on: dt.date, *, actor: str, now: dt.datetime
) -> list[FollowUp]:
    """Re-plan the follow-ups not yet started from a corrected arrival date; return those moved.

    A follow-up the mission was already asked for (waiting, overdue) or reported stays as it
    is: moving it would contradict what the mission was told. Prefect's runs of moved
    follow-ups are rescheduled by the next reconcile, which compares them with these rows.
    """
    if arrived_on > now.date():
        raise IntakeInvalid(
            [FieldProblem("--date", "is in the future: enter the day the person arrived")],
            source="the command",
        )
    if case.stage in _FINAL_STAGES:
        raise CaseStateError(f"case {case.reference} has ended ({case.stage}): nothing to re-plan")
    rows = case_followups(session, case)
    if not rows:
        raise CaseStateError(
            f"case {case.reference} has no follow-ups yet (stage {case.stage}): the arrival "
            "is entered at its `arrival` checkpoint"
        )
    extra = added_numbers(session, case)
    moved = []
    for row in rows:
        if FollowUpState(row.state) not in NOT_STARTED or row.number in extra:
            continue
        due_on = add_months(arrived_on, row.offset_months)
        row.arrived_on = arrived_on
        if due_on != row.due_on:
            row.due_on = due_on
            row.updated_at = now
            moved.append(row)
    append_event(
        session,
        reference=case.reference,
        kind="arrival-corrected",
        actor=actor,
        at=now,
        stage=case.stage,
        detail={
            "followups_moved": [row.number for row in moved],
            "followups_kept": [r.number for r in rows if FollowUpState(r.state) not in NOT_STARTED],
        },
    )
    session.flush()
    return moved


def added_numbers(session: Session, case: Case) -> set[int]:
    """Return the numbers of the case's follow-ups a coordinator added after the plan."""
    query = select(CaseAction.attempt).where(
        CaseAction.case_id == case.id, CaseAction.action == ADDED_ACTION
    )
    return set(session.scalars(query))


def add_followup(
    session: Session,
    case: Case,
    *,
    due_on: dt.date,
    months: int,
    window_days: int,
    now: dt.datetime,
) -> FollowUp:
    """Add a follow-up after the case's last one, due on `due_on`; return it (not yet logged).

    Refused (CaseStateError) for a case that ended, has no follow-ups yet, or whose person
    declined further contact. The caller records the ledger's `followup-added`.
    """
    if case.stage in _FINAL_STAGES:
        raise CaseStateError(f"case {case.reference} has ended ({case.stage}): nothing to add")
    rows = case_followups(session, case)
    if not rows:
        raise CaseStateError(
            f"case {case.reference} has no follow-ups yet (stage {case.stage}): they are "
            "planned from the arrival"
        )
    if any(FollowUpState(r.state) is FollowUpState.DECLINED for r in rows):
        raise CaseStateError(
            f"case {case.reference}: the person declined further contact; no follow-up can "
            "be added (see `safepassage consent`)"
        )
    row = FollowUp(
        case_id=case.id,
        number=rows[-1].number + 1,
        due_on=due_on,
        window_days=window_days,
        state=FollowUpState.PLANNED.value,
        offset_months=months,  # months from the day it was added, not from the arrival
        arrived_on=rows[-1].arrived_on,
        run_generation=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def decline_followups(session: Session, case: Case, *, now: dt.datetime) -> list[FollowUp]:
    """Mark the case's follow-ups still expecting a report as declined; return them.

    Their runs keep their ids, so that the reconcile finds and stops them (at once if Prefect
    answers, else at the daily scheduler's run), then forgets the ids.
    """
    declined = []
    for row in case_followups(session, case):
        if FollowUpState(row.state) in PENDING:
            row.state = FollowUpState.DECLINED.value
            row.updated_at = now
            declined.append(row)
    session.flush()
    return declined


def declined_to_close(
    session: Session, *, today: dt.date, reference: str | None = None
) -> list[tuple[int, str, dt.date]]:
    """Return the open cases whose person declined contact and whose last due date passed.

    As (case id, reference, last due date). Read from the declined rows (few: the index on
    (state, due_on) finds them), so the cost does not grow with the store.
    """
    declined = select(FollowUp.case_id).where(FollowUp.state == FollowUpState.DECLINED.value)
    pending = func.sum(case_when((FollowUp.state.in_([s.value for s in PENDING]), 1), else_=0))
    query = (
        select(Case.id, Case.reference, func.max(FollowUp.due_on))
        .join(FollowUp, FollowUp.case_id == Case.id)
        .where(Case.id.in_(declined), Case.stage.not_in(_FINAL_STAGES))
        .group_by(Case.id, Case.reference)
        .having(func.max(FollowUp.due_on) <= today, pending == 0)
        .order_by(Case.id)
    )
    if reference is not None:
        query = query.where(Case.reference == reference)
    return [(case_id, ref, last) for case_id, ref, last in session.execute(query)]


class PendingFollowUp(NamedTuple):
    """A snapshot of a follow-up that needs the reconcile's attention, with its case's facts.

    A named tuple made straight from the query's rows (the follow-up's columns, then the
    case's): the daily reconcile reads thousands, and a frozen dataclass per row cost as much
    as the query.
    """

    id: int
    case_id: int
    number: int
    due_on: dt.date
    window_days: int
    state: str  # a FollowUpState value
    flow_run_id: str | None
    scheduled_for: dt.datetime | None
    run_generation: int
    reference: str
    programme: str
    country: str
    case_stage: str

    @property
    def case_ended(self) -> bool:
        """Return whether the case reached a final stage (withdrawn, closed, ineligible)."""
        return self.case_stage in _FINAL_STAGES


def pending_query(
    *,
    through: dt.date,
    reference: str | None = None,
    whole_case: bool = False,
    dialect: str = "sqlite",
) -> Select[*tuple[Any, ...]]:
    """Return the reconcile's query: follow-ups due by `through`, every one under way, and the
    declined ones whose run may still exist.

    Written for the index on (state, due_on): a `planned` row is read only once it is due
    within the horizon, and reported ones never, so the cost grows with what is due, not with
    the years of follow-ups in the store (benchmarks/followup_reconcile.py shows the plans).
    The two index ranges are a UNION ALL that drives the join to the cases: written as one
    OR, SQLite scanned every case instead. On PostgreSQL the cases are looked up one by one
    through a LATERAL subquery behind `OFFSET 0` (which the planner cannot flatten): as a plain
    join it hashed every case in the store (52 of 65 ms at 100,000 cases, growing with the
    store), misled by the planned rows' estimate. One case (`reference`) is found by its
    reference; `whole_case` then returns all its pending rows, whatever their due date.
    """
    active = FollowUp.state.in_(
        [FollowUpState.SCHEDULED.value, FollowUpState.WAITING.value, FollowUpState.OVERDUE.value]
    )
    planned = FollowUp.state == FollowUpState.PLANNED.value
    # A declined follow-up whose run may still exist: the reconcile stops it, then forgets it.
    declined = and_(
        FollowUp.state == FollowUpState.DECLINED.value, FollowUp.flow_run_id.is_not(None)
    )
    columns = (
        FollowUp.id,
        FollowUp.case_id,
        FollowUp.number,
        FollowUp.due_on,
        FollowUp.window_days,
        FollowUp.state,
        FollowUp.flow_run_id,
        FollowUp.scheduled_for,
        FollowUp.run_generation,
    )
    if reference is not None:
        due = planned if whole_case else and_(planned, FollowUp.due_on <= through)
        found = (
            select(*columns)
            .join(Case, Case.id == FollowUp.case_id)
            .where(Case.reference == reference, or_(active, due, declined))
            .subquery("pending")
        )
    else:
        found = union_all(
            select(*columns).where(active),
            select(*columns).where(planned, FollowUp.due_on <= through),
            select(*columns).where(declined),
        ).subquery("pending")
    facts = (Case.reference, Case.programme, Case.destination_country, Case.stage)
    # The columns in PendingFollowUp's order: the follow-up's, then its case's.
    if dialect == "postgresql":
        lookup = select(*facts).where(Case.id == found.c.case_id).offset(0).lateral("facts")
        query = select(found, lookup).select_from(found).join(lookup, true())
    else:
        query = select(found, *facts).join(Case, Case.id == found.c.case_id)
    return query.order_by(found.c.due_on, found.c.id)


def pending_followups(
    session: Session, *, through: dt.date, reference: str | None = None, whole_case: bool = False
) -> list[PendingFollowUp]:
    """Return the follow-ups that need the reconcile's attention (see `pending_query`)."""
    query = pending_query(
        through=through,
        reference=reference,
        whole_case=whole_case,
        dialect=session.get_bind().dialect.name,
    )
    # On the connection: the ORM session adds nothing to a Core query but its overhead.
    return [PendingFollowUp._make(row) for row in session.connection().execute(query)]


def effective_state(row: FollowUp, today: dt.date) -> FollowUpState:
    """Return the row's state as a person should read it today: overdue once the window passed.

    The stored state turns `overdue` at the next reconcile (which escalates); a listing should
    not wait for it.
    """
    state = FollowUpState(row.state)
    if state in PENDING and is_overdue(row.due_on, row.window_days, today):
        return FollowUpState.OVERDUE
    return state


@dataclass(frozen=True)
class FollowUpView:
    """One follow-up as the CLI shows it: dates, state and run, nothing personal."""

    reference: str
    programme: str
    number: int
    due_on: dt.date
    report_by: dt.date
    state: FollowUpState
    scheduled_for: dt.datetime | None
    flow_run_id: str | None
    reported_at: dt.datetime | None
    risk_raised: bool | None

    def as_dict(self) -> dict[str, Any]:
        """Return the view as JSON-ready values."""
        return json_ready(self)


def list_followups(
    session: Session,
    *,
    today: dt.date,
    reference: str | None = None,
    due: bool = False,
    overdue: bool = False,
    limit: int | None = None,
) -> list[FollowUpView]:
    """Return follow-ups by due date; `due` and `overdue` filter (together: either)."""
    query = (
        select(FollowUp, Case.reference, Case.programme, Case.stage, CheckpointAnswer.summary)
        .join(Case, Case.id == FollowUp.case_id)
        .outerjoin(
            CheckpointAnswer,
            and_(
                CheckpointAnswer.case_id == FollowUp.case_id,
                CheckpointAnswer.checkpoint == REPORT_CHECKPOINT,
                CheckpointAnswer.attempt == FollowUp.number,
            ),
        )
        .order_by(FollowUp.due_on, Case.reference, FollowUp.number)
    )
    if reference is not None:
        query = query.where(Case.reference == reference)
    if due or overdue:
        # Both filters need a report still expected, due by today: the index narrows to that.
        query = query.where(
            FollowUp.state.in_([s.value for s in PENDING]), FollowUp.due_on <= today
        )
    views = []
    for row, ref, programme, stage, summary in session.execute(query):
        state = effective_state(row, today)
        if stage in _FINAL_STAGES and state in PENDING:
            state = FollowUpState.CANCELLED  # the reconcile records it; say so already
        if (due or overdue) and not (
            (due and state is not FollowUpState.OVERDUE)
            or (overdue and state is FollowUpState.OVERDUE)
        ):
            continue
        views.append(
            FollowUpView(
                reference=ref,
                programme=programme,
                number=row.number,
                due_on=row.due_on,
                report_by=report_by(row.due_on, row.window_days),
                state=state,
                scheduled_for=row.scheduled_for,
                flow_run_id=row.flow_run_id,
                reported_at=row.reported_at,
                risk_raised=None if summary is None else bool(summary.get("risk_raised")),
            )
        )
        if limit is not None and len(views) >= limit:
            break
    return views


def waiting_run_ids(session: Session, case: Case) -> list[str]:
    """Return the runs of the case's follow-ups that may wait for a report, newest first."""
    query = (
        select(FollowUp.flow_run_id)
        .where(
            FollowUp.case_id == case.id,
            FollowUp.state.in_([FollowUpState.WAITING.value, FollowUpState.OVERDUE.value]),
            FollowUp.flow_run_id.is_not(None),
        )
        .order_by(FollowUp.number.desc())
    )
    return [run_id for run_id in session.scalars(query) if run_id]
