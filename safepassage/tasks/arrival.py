"""Stage 6: arrival and handover, as the receiving mission reported them."""

from __future__ import annotations

from prefect import task

from safepassage.models.checkpoints import ArrivalAnswer, Checkpoint
from safepassage.models.store.cases import read_intake
from safepassage.models.store.workflow import read_answer, record_action
from safepassage.notifications import Event, queue_notifications
from safepassage.tasks import details
from safepassage.tasks.runtime import STAGE_TASK, case_transaction, deliver_now, now


@task(name="hand_over_on_arrival", **STAGE_TASK)
def hand_over_on_arrival(reference: str) -> None:
    """Record the handover and confirm the arrival to the mission."""
    at = now()
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
    deliver_now(reference, show=False)  # the flow shows the case when it stops
