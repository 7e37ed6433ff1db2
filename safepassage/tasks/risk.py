"""A raised risk: travel waits for a coordinator's ruling, and stops if the ruling says so."""

from __future__ import annotations

from prefect import task

from safepassage.models.clock import utcnow
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import STAGE_TASK
from safepassage.tasks.withdrawal import cancel_open_booking

STOPPED = "travel stopped after a raised risk"


@task(**STAGE_TASK)
def conclude_risk_review(reference: str, attempt: int, approved: bool) -> bool:
    """Clear hold `attempt`, or stop travel: cancel the booking, end the case, tell the mission."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if approved:
            record_action(session, case, "risk-cleared", attempt, now=at)
        elif record_action(session, case, "travel-stopped", attempt, now=at):
            cancel_open_booking(session, store.master_key, case, reason=STOPPED, at=at)
            set_stage(
                session, case, Stage.INELIGIBLE, actor="flow", now=at, detail={"why": STOPPED}
            )
            queue_notifications(
                session, store.master_key, case, Event.CASE_CLOSED,
                attempt=f"stopped-{attempt}", facts={"reason": STOPPED}, now=at,
            )  # fmt: skip
    deliver_now(process_store(), reference)
    return approved
