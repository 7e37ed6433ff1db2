"""Stage 2: the travel document. A valid passport skips it; otherwise the embassy issues one."""

from __future__ import annotations

import datetime as dt

from safepassage.models import details
from safepassage.models.clock import utcnow
from safepassage.models.rules import needs_travel_document
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import read_intake_for_stage
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import stage_task
from safepassage.tasks.checkpoints import history_of


@stage_task
def travel_document_needed(reference: str) -> bool:
    """Return whether an emergency travel document is needed: no passport valid on the day of
    travel (checked against today: it may have expired while the case waited). Cached per
    case, so a replay takes the same branch.
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
    return needed


@stage_task
def request_travel_document(reference: str, attempt: int = 1, *, to_embassy: bool = True) -> None:
    """Put the case at the travel-document stage; request the document from the embassy
    unless the person declined to share with it (`to_embassy` False: obtained another way).

    A later attempt is a new document: the journey moved past the last one's expiry.
    """
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        set_stage(
            session, case, Stage.TRAVEL_DOCUMENT, actor="flow", now=at, detail={"attempt": attempt}
        )
        action = "travel-document-requested" if to_embassy else "travel-document-awaited"
        if record_action(session, case, action, attempt, now=at) and to_embassy:
            intake = read_intake_for_stage(session, store.master_key, case)
            queue_notifications(
                session,
                store.master_key,
                case,
                Event.TRAVEL_DOCUMENT_REQUESTED,
                attempt=str(attempt),
                details=details.person(intake),
                now=at,
            )
    deliver_now(process_store(), reference)


@stage_task
def record_travel_document(reference: str, attempt: int = 1) -> None:
    """Tell the mission the document is issued (its number stays in the case store)."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if record_action(session, case, "travel-document-issued", attempt, now=at):
            queue_notifications(
                session, store.master_key, case, Event.TRAVEL_DOCUMENT_ISSUED,
                attempt=str(attempt), now=at,
            )  # fmt: skip
    deliver_now(process_store(), reference)


@stage_task
def document_valid_on(reference: str, attempt: int, day: str) -> bool:
    """Return whether the person's travel document is still valid on `day` (ISO date), the new
    date of the journey booking `attempt` was rescheduled to. Read from the sealed store."""
    with case_transaction(reference) as (store, session, case):
        valid_until = history_of(session, store.master_key, case).document_valid_until
    return valid_until is None or dt.date.fromisoformat(day) <= valid_until
