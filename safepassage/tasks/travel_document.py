"""Stage 2: the travel document. A valid passport skips it; otherwise the embassy issues one."""

from __future__ import annotations

from prefect import task

from safepassage.models import details
from safepassage.models.clock import utcnow
from safepassage.models.rules import needs_travel_document
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import read_intake_for_stage
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import STAGE_TASK


@task(**STAGE_TASK)
def request_travel_document(reference: str) -> bool:
    """Request an emergency travel document unless a passport valid on the day of travel is
    held (checked against today: it may have expired while the case waited); True if requested.
    """
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        intake = read_intake_for_stage(session, store.master_key, case)
        needed = needs_travel_document(intake, at.date())
        if not needed:
            record_action(
                session,
                case,
                "travel-document-skipped",
                now=at,
                detail={"reason": "valid passport held"},
            )
        elif record_action(session, case, "travel-document-requested", now=at):
            set_stage(session, case, Stage.TRAVEL_DOCUMENT, actor="flow", now=at)
            queue_notifications(
                session,
                store.master_key,
                case,
                Event.TRAVEL_DOCUMENT_REQUESTED,
                details=details.person(intake),
                now=at,
            )
    deliver_now(process_store(), reference)
    return needed


@task(**STAGE_TASK)
def record_travel_document(reference: str) -> None:
    """Tell the mission the document is issued (its number stays in the case store)."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if record_action(session, case, "travel-document-issued", now=at):
            queue_notifications(
                session, store.master_key, case, Event.TRAVEL_DOCUMENT_ISSUED, now=at
            )
    deliver_now(process_store(), reference)
