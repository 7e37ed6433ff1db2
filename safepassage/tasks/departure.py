"""Stage 5: departure. Boarded: the mission is told the person is on the way. Not: rebook."""

from __future__ import annotations

from prefect import task

from safepassage.models.checkpoints import Checkpoint, TicketAnswer
from safepassage.models.store.cases import read_intake
from safepassage.models.store.workflow import read_answer, record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, queue_notifications
from safepassage.tasks import details
from safepassage.tasks.runtime import STAGE_TASK, case_transaction, deliver_now, now


@task(name="confirm_departure", **STAGE_TASK)
def confirm_departure(reference: str, attempt: int, boarded: bool) -> bool:
    """Act on the departure answer of booking `attempt`; return whether the person boarded."""
    at = now()
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
            intake = read_intake(session, store.master_key, case)
            ticket = TicketAnswer.model_validate_json(
                read_answer(session, store.master_key, case, Checkpoint.TICKET.value, attempt)
            )
            queue_notifications(
                session,
                store.master_key,
                case,
                Event.DEPARTED,
                attempt=str(attempt),
                details=details.journey(intake, ticket),
                now=at,
            )
    deliver_now(reference)
    return boarded
