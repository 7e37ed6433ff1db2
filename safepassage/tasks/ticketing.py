"""Stage 3: ticket booking. Each booking is an attempt; a missed flight books a new one."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from safepassage.models import details
from safepassage.models.checkpoints import Checkpoint, TicketAnswer
from safepassage.models.clock import utcnow
from safepassage.models.crypto import MasterKey
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import read_intake_for_stage
from safepassage.models.store.db import process_store
from safepassage.models.store.orm import Case
from safepassage.models.store.workflow import read_answer_for_stage, record_action, set_stage
from safepassage.models.stored_forms import read_stored
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import stage_task


@stage_task
def book_ticket(reference: str, attempt: int) -> None:
    """Record the booking request for the travel desk (with an escort where one is required)."""
    at = utcnow()
    with case_transaction(reference) as (_, session, case):
        set_stage(session, case, Stage.TICKETING, actor="flow", now=at, detail={"attempt": attempt})
        record_action(
            session,
            case,
            "booking-requested",
            attempt,
            now=at,
            detail={"escort_required": case.escort_required},
        )


@stage_task
def record_booking(reference: str, attempt: int) -> None:
    """Tell the mission the ticket is booked: the flight and times only to a cleared target."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if record_action(session, case, "ticket-booked", attempt, now=at):
            queue_journey(session, store.master_key, case, Event.TICKET_BOOKED, attempt, at=at)
    deliver_now(process_store(), reference)


def queue_journey(
    session: Session,
    master_key: MasterKey,
    case: Case,
    event: Event,
    attempt: int,
    *,
    at: dt.datetime,
) -> None:
    """Queue `event` of booking `attempt`; a cleared mission gets the flight and times."""
    intake = read_intake_for_stage(session, master_key, case)
    ticket = read_stored(
        TicketAnswer,
        read_answer_for_stage(session, master_key, case, Checkpoint.TICKET.value, attempt),
        what="ticket answer",
    )
    queue_notifications(
        session, master_key, case, event, attempt=str(attempt),
        details=details.journey(intake, ticket), now=at,
    )  # fmt: skip
