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
from safepassage.models.followup_plan import Closure, plan_for
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
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
    read_answer,
    record_action,
    set_stage,
)
from safepassage.models.vocabulary import FINAL_STAGES, Stage
from safepassage.notifications import Event, queue_notifications
from safepassage.tasks.followup_schedule import FollowUpRuns, ReconcileReport, reconcile
from safepassage.tasks.runtime import (
    READ_TASK,
    STAGE_TASK,
    case_store,
    case_transaction,
    deliver_now,
    now,
)

logger = logging.getLogger("safepassage.tasks.followups")
REPORT = Checkpoint.FOLLOWUP_REPORT

#: The follow-up tasks are idempotent through the ledger rather than cached: a run recreated
#: after Prefect lost the first must record its own id, and the store says what was done.
FOLLOWUP_TASK: dict[str, Any] = READ_TASK


def followup_runs() -> FollowUpRuns:
    """Return where follow-up runs live: the Prefect server this process talks to."""
    from safepassage.deployments.followup_runs import PrefectFollowUpRuns

    return PrefectFollowUpRuns()


def reconcile_now(
    store: Store,
    runs: FollowUpRuns,
    *,
    at: dt.datetime,
    reference: str | None = None,
    compressed: bool = False,
) -> ReconcileReport:
    """Reconcile with the configured horizon and hour, then deliver the escalations queued."""
    settings = get_settings()
    report = reconcile(
        store,
        runs,
        now=at,
        horizon_days=settings.followup_horizon_days,
        hour_utc=settings.followup_hour_utc,
        reference=reference,
        compressed=compressed,
    )
    for escalated in dict.fromkeys(ref for ref, _ in report.escalated):
        deliver_now(escalated)
    return report


@task(name="schedule_followups", **STAGE_TASK)
def schedule_followups(reference: str) -> int:
    """Record the follow-ups from the actual arrival; move the case to reintegration; count them.

    The runs due within the horizon are created at once; if Prefect does not answer, the
    daily `followup-scheduler` creates them (the store holds the plan either way).
    """
    at = now()
    with case_transaction(reference) as (store, session, case):
        arrival = ArrivalAnswer.model_validate_json(
            read_answer(session, store.master_key, case, Checkpoint.ARRIVAL.value, 1)
        )
        plan = plan_for(case.programme, get_settings().followup_plans)
        rows = plan_followups(session, case, arrival.arrived_at.date(), plan, now=at)
        record_action(session, case, "followups-planned", now=at, detail={"count": len(rows)})
        set_stage(session, case, Stage.REINTEGRATION, actor="flow", now=at)
    try:
        reconcile_now(case_store(), followup_runs(), at=at, reference=reference)
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


@task(name="open_followup", **FOLLOWUP_TASK)
def open_followup(reference: str, number: int) -> FollowUpOpened:
    """Ask the mission for follow-up `number` (once) and mark the case as in follow-up."""
    at = now()
    run_id = flow_run.id
    store = case_store()
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
                facts={"follow_up": str(number), "due_on": row.due_on.isoformat()},
                now=at,
            )
        state = row.state
    deliver_now(reference)
    return FollowUpOpened(proceed=True, state=state)


@task(name="conclude_followup", **FOLLOWUP_TASK)
def conclude_followup(reference: str, number: int) -> FollowUpOutcome:
    """Record the report's outcome: alert coordinators of a raised risk; close after the last."""
    at = now()
    store = case_store()
    with store.transaction() as session:
        case = get_case(session, reference)
        answer = find_answer(session, case, REPORT.value, number)
        if answer is None:
            raise RuntimeError(f"follow-up {number} of {reference} has no accepted report")
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
    deliver_now(reference)
    return outcome


def _close_if_done(
    session: Session, store: Store, case: Case, number: int, *, now: dt.datetime
) -> None:
    """Close the case once no follow-up is pending, unless the plan's closure rule says a risk."""
    rows = case_followups(session, case)
    if _ended(case) or any(FollowUpState(r.state) in PENDING for r in rows):
        return
    risks = {}
    for row in rows:
        answer = find_answer(session, case, REPORT.value, row.number)
        if answer is not None:
            risks[row.number] = bool(answer.summary.get("risk_raised"))
    if not risks:
        return
    closure = plan_for(case.programme, get_settings().followup_plans).closure
    raised = risks[max(risks)] if closure is Closure.LAST_REPORT_CLEAR else any(risks.values())
    if raised:
        # The coordinators were alerted with the report; the case stays in follow-up for them.
        record_action(
            session,
            case,
            "closure-withheld",
            number,
            now=now,
            detail={"closure": closure.value, "reason": "a follow-up report raised a risk"},
        )
        return
    set_stage(session, case, Stage.CLOSED, actor="flow", now=now, detail={"after": number})
    queue_notifications(session, store.master_key, case, Event.CASE_CLOSED, now=now)


@task(name="reconcile_followups", **READ_TASK)
def reconcile_followups() -> dict[str, Any]:
    """Reconcile all follow-ups with Prefect, escalate overdue reports; return the counts."""
    report = reconcile_now(case_store(), followup_runs(), at=now())
    logger.info("follow-up reconcile: %s", report.as_dict())
    return report.as_dict()
