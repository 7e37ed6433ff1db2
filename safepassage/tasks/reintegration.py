"""Stage 7: the reintegration plan: asked of the mission, checked against the programme, agreed.

After the arrival the receiving mission makes its needs analysis and sends a plan (the
`reintegration-plan` checkpoint): each need with the service and provider that meet it, when it
starts and what it costs. `conclude_plan` works out which needs the programme's own service list
covers (models/rules.PROGRAMME_NEEDS); a plan with needs it does not cover goes to the
coordinators (`plan-review`), who approve it or ask the mission to adapt it. `plan_reintegration`
seals the agreed plan with a `covered` flag per item, and for a programme with a grant plans
the base grant (tasks/grant.py takes it from there). The ledger keeps counts and costs only:
needs are health data, so the items stay sealed.
"""

from __future__ import annotations

import json
from decimal import Decimal

from pydantic import BaseModel

from safepassage.models.checkpoints import (
    AGREED_PLAN,
    PLAN_AGREED,
    Checkpoint,
    ReintegrationPlanAnswer,
)
from safepassage.models.clock import utcnow
from safepassage.models.rules import PROGRAMME_NEEDS
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import cipher_for, read_intake_for_stage, seal
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import read_answer_for_stage, record_action
from safepassage.models.stored_forms import read_stored
from safepassage.models.vocabulary import Programme
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import stage_task
from safepassage.tasks.grant import plan_grant

PLAN = Checkpoint.REINTEGRATION_PLAN


class PlanOutcome(BaseModel):
    """What a submitted plan holds, in counts (PII-free): how many items, how many not covered."""

    items: int
    uncovered: int


@stage_task
def request_plan(reference: str, attempt: int) -> None:
    """Ask the mission for its plan (ask `attempt`: later asks follow a coordinator's "adapt")."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if record_action(session, case, "plan-requested", attempt, now=at):
            intake = read_intake_for_stage(session, store.master_key, case)
            needs = ", ".join(n.value for n in intake.needs) or "none recorded at intake"
            queue_notifications(
                session,
                store.master_key,
                case,
                Event.REINTEGRATION_PLAN,
                attempt=str(attempt),
                facts={"ask": str(attempt)},
                details={"needs at intake": needs},
                now=at,
            )
    deliver_now(process_store(), reference)


def _covered(programme: str, plan: ReintegrationPlanAnswer) -> list[bool]:
    covered = PROGRAMME_NEEDS[Programme(programme)]
    return [item.need in covered for item in plan.items]


@stage_task
def conclude_plan(reference: str, attempt: int) -> PlanOutcome:
    """Count the plan's items and those the programme does not cover; ask the coordinators to
    review a plan with any (the count only: the needs are health data)."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        plan = read_stored(
            ReintegrationPlanAnswer,
            read_answer_for_stage(session, store.master_key, case, PLAN.value, attempt),
            what="reintegration plan",
        )
        outcome = PlanOutcome(
            items=len(plan.items), uncovered=_covered(case.programme, plan).count(False)
        )
        if (
            record_action(
                session, case, "plan-submitted", attempt, now=at, detail=outcome.model_dump()
            )
            and outcome.uncovered
        ):
            queue_notifications(
                session,
                store.master_key,
                case,
                Event.PLAN_REVIEW_NEEDED,
                attempt=str(attempt),
                facts={"uncovered": str(outcome.uncovered)},
                now=at,
            )
    deliver_now(process_store(), reference)
    return outcome


@stage_task
def conclude_plan_review(reference: str, attempt: int, decision: str) -> bool:
    """Record the coordinators' decision on plan `attempt`: True if approved as it is."""
    with case_transaction(reference) as (_, session, case):
        record_action(
            session, case, "plan-reviewed", attempt, now=utcnow(), detail={"decision": decision}
        )
    return decision == "approve"


@stage_task
def plan_reintegration(reference: str, attempt: int) -> None:
    """Seal the agreed plan (ask `attempt`) with what the programme covers; tell the mission;
    plan the grant where the programme has one."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        plan = read_stored(
            ReintegrationPlanAnswer,
            read_answer_for_stage(session, store.master_key, case, PLAN.value, attempt),
            what="reintegration plan",
        )
        covered = _covered(case.programme, plan)
        cost = sum((item.cost_chf for item in plan.items), Decimal(0))
        counts = {
            "ask": attempt,
            "items": len(plan.items),
            "uncovered": covered.count(False),
            "cost_chf": str(cost),
        }
        if record_action(session, case, PLAN_AGREED, now=at, detail=counts):
            sealed = {
                "ask": attempt,
                "items": [
                    {**item.model_dump(mode="json"), "covered": flag}
                    for item, flag in zip(plan.items, covered, strict=True)
                ],
                "notes": plan.notes,
            }
            seal(
                session,
                case,
                cipher_for(store.master_key, case),
                AGREED_PLAN,
                json.dumps(sealed).encode(),
                now=at,
            )
            queue_notifications(
                session,
                store.master_key,
                case,
                Event.PLAN_AGREED,
                facts={"items": str(len(plan.items)), "cost": f"CHF {cost:,.2f}"},
                now=at,
            )
            plan_grant(session, store.master_key, case, now=at)
    deliver_now(process_store(), reference)
