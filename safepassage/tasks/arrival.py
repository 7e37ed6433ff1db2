"""Stage 6: arrival and handover, as the receiving mission reported them."""

from __future__ import annotations

from prefect import task

from safepassage.models import details
from safepassage.models.checkpoints import ArrivalAnswer, Checkpoint
from safepassage.models.clock import utcnow
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import read_intake
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import read_answer, record_action
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import STAGE_TASK


@task(**STAGE_TASK)
def hand_over_on_arrival(reference: str) -> None:
    """Record the handover and confirm the arrival to the mission."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if record_action(session, case, "handed-over", now=at):
            intake = read_intake(session, store.master_key, case)
            arrival = ArrivalAnswer.model_validate_json(
                read_answer(session, store.master_key, case, Checkpoint.ARRIVAL.value, 1)
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
