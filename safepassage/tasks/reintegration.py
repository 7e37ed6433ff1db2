"""Stage 7: the reintegration plan: services from the needs and the programme; Hungary's grant."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy.orm import Session

from safepassage.models.checkpoints import Checkpoint, GrantApprovalAnswer
from safepassage.models.clock import utcnow
from safepassage.models.crypto import MasterKey
from safepassage.models.rules import HU_BASE_GRANT_CHF, PROGRAMME_SERVICES
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import cipher_for, read_intake_for_stage, seal
from safepassage.models.store.db import process_store
from safepassage.models.store.orm import Case
from safepassage.models.store.workflow import find_answer, read_answer_for_stage, record_action
from safepassage.models.stored_forms import read_stored
from safepassage.models.vocabulary import Programme
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import stage_task

REINTEGRATION_PLAN = "reintegration-plan"


def grant_chf(session: Session, master_key: MasterKey, case: Case) -> Decimal | None:
    """Return Hungary's in-kind grant: CHF 1,500, or the approved increase; None elsewhere."""
    if case.programme != Programme.HU.value:
        return None
    if find_answer(session, case, Checkpoint.GRANT_APPROVAL.value, 1) is None:
        return Decimal(HU_BASE_GRANT_CHF)
    approval = read_stored(
        GrantApprovalAnswer,
        read_answer_for_stage(session, master_key, case, Checkpoint.GRANT_APPROVAL.value, 1),
        what="grant approval answer",
    )
    return approval.amount_chf if approval.approved else Decimal(HU_BASE_GRANT_CHF)


@stage_task
def plan_reintegration(reference: str) -> None:
    """Seal the plan (needs are health data) and tell the mission a plan exists."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if record_action(session, case, "reintegration-planned", now=at):
            intake = read_intake_for_stage(session, store.master_key, case)
            grant = grant_chf(session, store.master_key, case)
            needs = [n.value for n in intake.needs]
            plan = {
                "needs": needs,
                "programme_services": list(PROGRAMME_SERVICES[Programme(case.programme)]),
                "grant_chf": None if grant is None else str(grant),
            }
            seal(
                session,
                case,
                cipher_for(store.master_key, case),
                REINTEGRATION_PLAN,
                json.dumps(plan).encode(),
                now=at,
            )
            queue_notifications(
                session,
                store.master_key,
                case,
                Event.REINTEGRATION_PLAN,
                details={"needs": ", ".join(needs) or "none recorded"},
                now=at,
            )
            if grant is not None:
                queue_notifications(
                    session,
                    store.master_key,
                    case,
                    Event.GRANT_APPROVED,
                    facts={"note": f"CHF {grant:,.0f} in kind"},
                    now=at,
                )
    deliver_now(process_store(), reference)
