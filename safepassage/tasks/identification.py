"""Stage 1: the identification check. The programme rules decide; a person reviews the rest."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy.orm import Session

from safepassage.models import details
from safepassage.models.clock import utcnow
from safepassage.models.crypto import MasterKey
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import read_intake_for_stage
from safepassage.models.store.db import process_store
from safepassage.models.store.orm import Case
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Outcome, Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import stage_task


class IdentificationResult(BaseModel):
    """What the flow needs to route the case; no personal data."""

    outcome: Outcome
    programme: str
    holds_valid_passport: bool
    escort_required: bool


@stage_task
def check_identification(reference: str) -> IdentificationResult:
    """Apply the decision taken at intake: accept, ask for a review, or end the case."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        intake = read_intake_for_stage(session, store.master_key, case)
        outcome = Outcome(case.decision_outcome)
        if record_action(
            session, case, "identification-checked", now=at, detail={"outcome": outcome.value}
        ):
            if outcome is Outcome.ELIGIBLE:
                queue_notifications(
                    session,
                    store.master_key,
                    case,
                    Event.CASE_ACCEPTED,
                    details=details.reception(intake),
                    now=at,
                )
            elif outcome is Outcome.NEEDS_REVIEW:
                queue_notifications(
                    session,
                    store.master_key,
                    case,
                    Event.REVIEW_NEEDED,
                    facts={"reason": "; ".join(case.decision["reasons"])},
                    now=at,
                )
            else:
                _end_ineligible(session, store.master_key, case, at)
        result = IdentificationResult(
            outcome=outcome,
            programme=case.programme,
            holds_valid_passport=intake.travel_document.holds_valid_passport,
            escort_required=case.escort_required,
        )
    deliver_now(process_store(), reference)
    return result


def _end_ineligible(session: Session, master_key: MasterKey, case: Case, at: dt.datetime) -> None:
    # Coordinators, and nobody else, are told why: the reasons name the rules, never the person.
    set_stage(session, case, Stage.INELIGIBLE, actor="rules", now=at)
    queue_notifications(
        session,
        master_key,
        case,
        Event.CASE_INELIGIBLE,
        facts={"reason": "; ".join(case.decision["reasons"])},
        now=at,
    )


@stage_task
def conclude_review(reference: str, approved: bool) -> bool:
    """Act on a coordinator's review: accept the case, or end it as ineligible."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if record_action(session, case, "review-concluded", now=at, detail={"approved": approved}):
            if approved:
                intake = read_intake_for_stage(session, store.master_key, case)
                queue_notifications(
                    session,
                    store.master_key,
                    case,
                    Event.CASE_ACCEPTED,
                    details=details.reception(intake),
                    now=at,
                )
            else:
                _end_ineligible(session, store.master_key, case, at)
    deliver_now(process_store(), reference)
    return approved
