"""Stage 4: embassy liaison. The receiving country's embassy in London is told of the return.

Romania's programme names embassy liaison; for the other programmes it is the office's policy
(`notifies_embassy`, SAFEPASSAGE_OFFICE_POLICY). Where the policy says no, the stage still
passes, and the case's log says the embassy was not told and under which policy version.
"""

from __future__ import annotations

from safepassage.models import details
from safepassage.models.clock import utcnow
from safepassage.models.rules import notifies_embassy, policy_in_force
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import read_intake_for_stage
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import stage_task

#: The action recorded instead of `embassy-informed` when the office policy says no.
SKIPPED_BY_POLICY = "embassy-not-informed"


@stage_task
def liaise_with_embassy(reference: str, attempt: int) -> None:
    """Tell the embassy of the return booked in `attempt` (again after a rebooking).

    The office policy is read before the transaction (a bad policy file fails the stage with
    its error, never half-way through).
    """
    policy = policy_in_force()
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        set_stage(session, case, Stage.EMBASSY_LIAISON, actor="flow", now=at)
        if not notifies_embassy(case.programme, policy=policy):
            record_action(
                session,
                case,
                SKIPPED_BY_POLICY,
                attempt,
                now=at,
                detail={"skipped_by": "office-policy", "office_policy_version": policy.version},
            )
        elif record_action(
            session,
            case,
            "embassy-informed",
            attempt,
            now=at,
            detail={"office_policy_version": policy.version},
        ):
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
