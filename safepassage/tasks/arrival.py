"""Stage 6: arrival and handover, as the receiving mission reported them."""

from __future__ import annotations

from safepassage.models import details
from safepassage.models.checkpoints import ArrivalAnswer, Checkpoint
from safepassage.models.clock import utcnow
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import read_intake_for_stage
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import read_answer_for_stage, record_action
from safepassage.models.stored_forms import read_stored
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import stage_task


@stage_task
def hand_over_on_arrival(reference: str) -> None:
    """Record the handover and confirm the arrival to the mission."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if record_action(session, case, "handed-over", now=at):
            intake = read_intake_for_stage(session, store.master_key, case)
            arrival = read_stored(
                ArrivalAnswer,
                read_answer_for_stage(session, store.master_key, case, Checkpoint.ARRIVAL.value, 1),
                what="arrival answer",
            )
            queue_notifications(
                session,
                store.master_key,
                case,
                Event.ARRIVAL_CONFIRMED,
                details=details.handover(intake, arrival),
                now=at,
            )
    deliver_now(process_store(), reference)
