"""Stage 5: departure. Boarded: the mission is told the person is on the way. Not: rebook."""

from __future__ import annotations

from prefect import task

from safepassage.models.clock import utcnow
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import STAGE_TASK
from safepassage.tasks.ticketing import queue_journey


@task(**STAGE_TASK)
def confirm_departure(reference: str, attempt: int, boarded: bool) -> bool:
    """Act on the departure answer of booking `attempt`; return whether the person boarded."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if not boarded:
            if record_action(session, case, "not-boarded", attempt, now=at):
                # The mission expected the person on that flight: it is off, a new booking follows.
                set_stage(
                    session, case, Stage.TICKETING, actor="flow", now=at, detail={"rebooking": True}
                )
                queue_notifications(
                    session,
                    store.master_key,
                    case,
                    Event.BOOKING_CANCELLED,
                    attempt=str(attempt),
                    facts={"reason": "the person did not board; a new booking follows"},
                    now=at,
                )
        elif record_action(session, case, "departed", attempt, now=at):
            set_stage(session, case, Stage.ARRIVAL, actor="flow", now=at)
            queue_journey(session, store.master_key, case, Event.DEPARTED, attempt, at=at)
    deliver_now(process_store(), reference)
    return boarded
