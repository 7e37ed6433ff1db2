"""A raised risk: travel waits for a coordinator's ruling, and stops if the ruling says so."""

from __future__ import annotations

from safepassage.models.clock import utcnow
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import record_action
from safepassage.notifications import deliver_now
from safepassage.orchestration.task_options import stage_task
from safepassage.tasks.withdrawal import stop_travel

STOPPED = "travel stopped after a raised risk"


@stage_task
def conclude_risk_review(reference: str, attempt: int, approved: bool) -> bool:
    """Clear hold `attempt`, or stop travel: cancel the booking, end the case (`stopped`), tell
    the mission and the embassy."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if approved:
            record_action(session, case, "risk-cleared", attempt, now=at)
        elif record_action(session, case, "travel-stopped", attempt, now=at):
            stop_travel(
                session, store.master_key, case, why=STOPPED, label=f"risk-{attempt}", at=at
            )
    deliver_now(process_store(), reference)
    return approved
