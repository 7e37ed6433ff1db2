"""Stage 4: embassy liaison. The receiving country's embassy in London is told of the return."""

from __future__ import annotations

from prefect import task

from safepassage.models import details
from safepassage.models.clock import utcnow
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import read_intake_for_stage
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import STAGE_TASK


@task(**STAGE_TASK)
def liaise_with_embassy(reference: str, attempt: int) -> None:
    """Tell the embassy of the return booked in `attempt` (again after a rebooking)."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        set_stage(session, case, Stage.EMBASSY_LIAISON, actor="flow", now=at)
        if record_action(session, case, "embassy-informed", attempt, now=at):
            intake = read_intake_for_stage(session, store.master_key, case)
            queue_notifications(
                session,
                store.master_key,
                case,
                Event.EMBASSY_LIAISON,
                attempt=str(attempt),
                details=details.person(intake),
                now=at,
            )
        set_stage(session, case, Stage.DEPARTURE, actor="flow", now=at)
    deliver_now(process_store(), reference)
