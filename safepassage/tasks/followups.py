"""Stage 8: the follow-up plan, recorded from the actual arrival date."""

from __future__ import annotations

from prefect import task
from sqlalchemy import select

from safepassage.models.checkpoints import ArrivalAnswer, Checkpoint
from safepassage.models.followup_plan import FollowUpPlan, due_dates
from safepassage.models.store.orm import FollowUp
from safepassage.models.store.workflow import read_answer, record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.tasks.runtime import STAGE_TASK, case_transaction, now


@task(name="schedule_followups", **STAGE_TASK)
def schedule_followups(reference: str) -> int:
    """Record the follow-ups' due dates and move the case to reintegration; return how many."""
    at = now()
    plan = FollowUpPlan()
    with case_transaction(reference) as (store, session, case):
        arrival = ArrivalAnswer.model_validate_json(
            read_answer(session, store.master_key, case, Checkpoint.ARRIVAL.value, 1)
        )
        dates = due_dates(arrival.arrived_at.date(), plan)
        if record_action(session, case, "followups-planned", now=at, detail={"count": len(dates)}):
            existing = set(
                session.scalars(select(FollowUp.number).where(FollowUp.case_id == case.id))
            )
            for number, due_on in enumerate(dates, start=1):
                if number not in existing:
                    session.add(
                        FollowUp(
                            case_id=case.id,
                            number=number,
                            due_on=due_on,
                            window_days=plan.window_days,
                            state="planned",
                            created_at=at,
                            updated_at=at,
                        )
                    )
        set_stage(session, case, Stage.REINTEGRATION, actor="flow", now=at)
    return len(dates)
