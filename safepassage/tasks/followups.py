"""Stage 9: reintegration follow-ups: planned from the actual arrival, asked, reported, closed.

`schedule_followups` ends the return-case flow: it records the plan in the case store and
reconciles the case's runs at once. Each follow-up then runs as its own `reintegration-followup`
flow run (`open_followup`, the `followup-report` checkpoint, `conclude_followup`), and the daily
`followup-scheduler` runs `reconcile_followups` for every case.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from prefect import task
from prefect.runtime import flow_run
from pydantic import BaseModel
from sqlalchemy.orm import Session

from safepassage.models.checkpoints import ArrivalAnswer, Checkpoint
from safepassage.models.clock import utcnow
from safepassage.models.crypto import MasterKey
from safepassage.models.followup_ladder import Rung
from safepassage.models.followup_plan import Closure, plan_for, report_by
from safepassage.models.followup_reconcile import FollowUpRuns, ReconcileReport, reconcile
from safepassage.models.settings import get_settings
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store, process_store
from safepassage.models.store.followups import (
    PENDING,
    FollowUpState,
    case_followups,
    get_followup,
    plan_followups,
)
from safepassage.models.store.orm import Case
from safepassage.models.store.workflow import (
    find_answer,
    read_answer_for_stage,
    record_action,
    set_stage,
)
from safepassage.models.stored_forms import read_stored
from safepassage.models.sustainability.records import score_followup
from safepassage.models.vocabulary import FINAL_STAGES, Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.followup_runs import PrefectFollowUpRuns
from safepassage.orchestration.task_options import LEDGER_TASK, stage_task

logger = logging.getLogger("safepassage.tasks.followups")
REPORT = Checkpoint.FOLLOWUP_REPORT


def followup_runs() -> FollowUpRuns:
    """Return where follow-up runs live: the Prefect server this process talks to."""
    return PrefectFollowUpRuns()


#: The event each rung of the ladder sends (models/followup_ladder.py); the audiences follow
#: from notifications/events.py: the mission, then mission and coordinators, then coordinators.
RUNG_EVENTS: dict[Rung, Event] = {
    Rung.NOTICE: Event.FOLLOWUP_NOTICE,
    Rung.REMINDER: Event.FOLLOWUP_REMINDER,
    Rung.OVERDUE: Event.FOLLOWUP_OVERDUE,
    Rung.BREACH: Event.SLA_BREACHED,
}


def notify_rung(
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
    """Queue the notice of a rung of follow-up `number` (the reconcile's callback)."""
    facts = {
        "follow_up": str(number),
        "due_on": due_on.isoformat(),
        "report_by": report_by.isoformat(),
    }
    attempt = str(number)
    if rung is Rung.BREACH:
        # As the time-limit check names a checkpoint's breach (tasks/sla.py).
        attempt = f"{REPORT.value}-{number}"
        facts["stage"] = case.stage
        facts["reason"] = f"follow-up {number}'s report missing since its deadline"
    queue_notifications(
        session, master_key, case, RUNG_EVENTS[rung], attempt=attempt, facts=facts, now=now
    )


def notify_closed(session: Session, master_key: MasterKey, case: Case, *, now: dt.datetime) -> None:
    """Queue the notice that a case whose person declined contact closed (reconcile callback)."""
    queue_notifications(session, master_key, case, Event.CASE_CLOSED, now=now)


def reconcile_now(
    store: Store,
    runs: FollowUpRuns,
    *,
    at: dt.datetime,
    reference: str | None = None,
    compressed: bool = False,
) -> ReconcileReport:
    """Reconcile with the configured horizon, hour and ladder, then deliver what it queued."""
    settings = get_settings()
    report = reconcile(
        store,
        runs,
        now=at,
        horizon_days=settings.followup_horizon_days,
        notify=notify_rung,
        closed=notify_closed,
        ladder=settings.followup_ladder,
        hour_utc=settings.followup_hour_utc,
        reference=reference,
        compressed=compressed,
    )
    for touched in report.touched:
        deliver_now(store, touched)
    return report


@stage_task
def schedule_followups(reference: str) -> int:
    """Record the follow-ups from the actual arrival; move the case to reintegration; count them.

    The runs due within the horizon are created at once; if Prefect does not answer, the
    daily `followup-scheduler` creates them (the store holds the plan either way).
    """
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        arrival = read_stored(
            ArrivalAnswer,
            read_answer_for_stage(session, store.master_key, case, Checkpoint.ARRIVAL.value, 1),
            what="arrival answer",
        )
        plan = plan_for(case.programme, get_settings().followup_plans)
        rows = plan_followups(session, case, arrival.arrived_at.date(), plan, now=at)
        record_action(session, case, "followups-planned", now=at, detail={"count": len(rows)})
        set_stage(session, case, Stage.REINTEGRATION, actor="flow", now=at)
    try:
        reconcile_now(process_store(), followup_runs(), at=at, reference=reference)
    except Exception as exc:
        logger.warning(
            "follow-up runs of %s left for the followup-scheduler: %s",
            reference,
            type(exc).__name__,
        )
    return len(rows)


class FollowUpOpened(BaseModel):
    """Whether a follow-up run should ask for its report (not if reported, or the case ended)."""

    proceed: bool
    state: str


class FollowUpOutcome(BaseModel):
    """What a report did to the case: a risk alert, the case closed (PII-free)."""

    risk_raised: bool
    closed: bool
    stage: str


def _ended(case: Case) -> bool:
    return case.stage in {s.value for s in FINAL_STAGES}


# The follow-up tasks are idempotent through the ledger rather than cached: a run recreated
# after Prefect lost the first must record its own id, and the store says what was done.
@task(**LEDGER_TASK)
def open_followup(reference: str, number: int) -> FollowUpOpened:
    """Ask the mission for follow-up `number` (once) and mark the case as in follow-up."""
    at = utcnow()
    run_id = flow_run.id
    store = process_store()
    # Not case_transaction: a follow-up of an ended case is a normal end for this run.
    with store.transaction() as session:
        case = get_case(session, reference)
        row = get_followup(session, case, number)
        if _ended(case) or FollowUpState(row.state) not in PENDING:
            return FollowUpOpened(proceed=False, state=row.state)
        if run_id:
            row.flow_run_id = str(run_id)
        if row.state in {FollowUpState.PLANNED.value, FollowUpState.SCHEDULED.value}:
            row.state = FollowUpState.WAITING.value
        row.updated_at = at
        if case.stage == Stage.REINTEGRATION.value:
            set_stage(session, case, Stage.FOLLOW_UP, actor="flow", now=at)
        if record_action(
            session, case, "followup-opened", number, now=at, detail={"follow_up": number}
        ):
            queue_notifications(
                session,
                store.master_key,
                case,
                Event.FOLLOWUP_DUE,
                attempt=str(number),
                facts={
                    "follow_up": str(number),
                    "due_on": row.due_on.isoformat(),
                    "report_by": report_by(row.due_on, row.window_days).isoformat(),
                },
                now=at,
            )
        state = row.state
    deliver_now(process_store(), reference)
    return FollowUpOpened(proceed=True, state=state)


@task(**LEDGER_TASK)
def conclude_followup(reference: str, number: int) -> FollowUpOutcome:
    """Record the report's outcome: alert coordinators of a raised risk; close after the last."""
    at = utcnow()
    store = process_store()
    with store.transaction() as session:
        case = get_case(session, reference)
        answer = find_answer(session, case, REPORT.value, number)
        if answer is None:
            raise RuntimeError(f"follow-up {number} of {reference} has no accepted report")
        score_followup(session, store.master_key, case, number, now=at)
        risk = bool(answer.summary.get("risk_raised"))
        row = get_followup(session, case, number)
        if record_action(
            session,
            case,
            "followup-reported",
            number,
            now=at,
            detail={"follow_up": number, "risk_raised": risk},
        ):
            row.state = FollowUpState.REPORTED.value
            row.reported_at = answer.answered_at
            row.updated_at = at
            if risk:
                queue_notifications(
                    session,
                    store.master_key,
                    case,
                    Event.RISK_ALERT,
                    attempt=f"followup-{number}",
                    facts={
                        "follow_up": str(number),
                        "reason": "the mission's follow-up report raises a risk of re-trafficking",
                        # The table's next action speaks of travel; after arrival it is this:
                        "note": "the person is home: agree protective steps with the mission now",
                    },
                    now=at,
                )
            _close_if_done(session, store, case, number, now=at)
        outcome = FollowUpOutcome(
            risk_raised=risk, closed=case.stage == Stage.CLOSED.value, stage=case.stage
        )
    deliver_now(process_store(), reference)
    return outcome


def _close_if_done(
    session: Session, store: Store, case: Case, number: int, *, now: dt.datetime
) -> None:
    """Close the case once no follow-up is pending, unless a risk or an unreachable person.

    The plan's closure rule says which reports' risks count; a person the mission could not
    reach at the last report keeps the case open too (nobody knows they are safe). Either way
    a coordinator decides: an extra follow-up (`followups add`) or `close`. A case whose
    person declined contact closes on its last due date instead (the reconcile).
    """
    rows = case_followups(session, case)
    if _ended(case) or any(FollowUpState(r.state) in PENDING for r in rows):
        return
    if any(FollowUpState(r.state) is FollowUpState.DECLINED for r in rows):
        return
    summaries = {}
    for row in rows:
        answer = find_answer(session, case, REPORT.value, row.number)
        if answer is not None:
            summaries[row.number] = answer.summary
    if not summaries:
        return
    closure = plan_for(case.programme, get_settings().followup_plans).closure
    risks = {n: bool(s.get("risk_raised")) for n, s in summaries.items()}
    raised = risks[max(risks)] if closure is Closure.LAST_REPORT_CLEAR else any(risks.values())
    unreachable = summaries[max(summaries)].get("contacted") is False
    if raised or unreachable:
        reason = (
            "a follow-up report raised a risk"
            if raised
            else "the mission could not reach the person at the last follow-up"
        )
        if record_action(
            session,
            case,
            "closure-withheld",
            number,
            now=now,
            detail={"closure": closure.value, "reason": reason},
        ):
            # The case stays in follow-up: the coordinators decide what comes next.
            queue_notifications(
                session,
                store.master_key,
                case,
                Event.CLOSURE_WITHHELD,
                attempt=str(number),
                facts={"follow_up": str(number), "reason": reason},
                now=now,
            )
        return
    set_stage(session, case, Stage.CLOSED, actor="flow", now=now, detail={"after": number})
    queue_notifications(session, store.master_key, case, Event.CASE_CLOSED, now=now)


@task(**LEDGER_TASK)
def reconcile_followups() -> dict[str, Any]:
    """Reconcile all follow-ups with Prefect and climb the ladder; return the counts."""
    report = reconcile_now(process_store(), followup_runs(), at=utcnow())
    logger.info("follow-up reconcile: %s", report.as_dict())
    # The flow shows each case notified or closed in the UI: references only, nothing personal.
    return {**report.as_dict(), "escalated_cases": report.touched}
