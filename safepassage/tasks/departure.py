"""Stage 5: departure. Boarded: the mission is told the person is on the way. Not: rebook."""

from __future__ import annotations

from safepassage.models.clock import utcnow
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import stage_task
from safepassage.tasks.ticketing import queue_journey

#: What the mission and the embassy read of a journey that did not happen: never why.
NOT_BOARDED = "the person did not board; a new booking follows"
RESCHEDULED = "the journey was rescheduled to a new date; a new booking follows"


@stage_task
def confirm_departure(
    reference: str, attempt: int, boarded: bool, rescheduled: bool = False
) -> bool:
    """Act on the departure answer of booking `attempt`; return whether the person boarded.

    Not boarded, the case goes back to ticketing. A journey moved on purpose (`rescheduled`)
    is told as a change of date (`travel-rescheduled`), not as a person who failed to board.
    """
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if not boarded:
            action = "travel-rescheduled" if rescheduled else "not-boarded"
            if record_action(session, case, action, attempt, now=at):
                # The mission expected the person on that flight: it is off, a new booking follows.
                set_stage(
                    session, case, Stage.TICKETING, actor="flow", now=at, detail={"rebooking": True}
                )
                queue_notifications(
                    session,
                    store.master_key,
                    case,
                    Event.TRAVEL_RESCHEDULED if rescheduled else Event.BOOKING_CANCELLED,
                    attempt=str(attempt),
                    facts={"reason": RESCHEDULED if rescheduled else NOT_BOARDED},
                    now=at,
                )
        elif record_action(session, case, "departed", attempt, now=at):
            set_stage(session, case, Stage.ARRIVAL, actor="flow", now=at)
            queue_journey(session, store.master_key, case, Event.DEPARTED, attempt, at=at)
    deliver_now(process_store(), reference)
    return boarded
