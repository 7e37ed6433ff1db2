"""Reception: before anything is booked, the receiving mission confirms it can receive the person.

Each ask of the mission is an attempt: it is notified (with a link to the case's page in its
portal when SAFEPASSAGE_GATEWAY_URL is set), answers at the `reception` checkpoint, and if it
cannot receive the person the coordinators are alerted and decide at `reception-decision`: ask
again (the next attempt) or stop the return. Each step is recorded once in the ledger.
"""

from __future__ import annotations

from typing import Literal

from safepassage.models import details
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.clock import utcnow
from safepassage.models.settings import get_settings
from safepassage.models.sla import limits
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import read_intake_for_stage
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import stage_task
from safepassage.tasks.withdrawal import stop_travel

#: Why the return ended, as the mission and the embassy read it: a category, nothing personal.
STOPPED = "the return was stopped: the receiving mission could not receive the person"


@stage_task
def request_reception(reference: str, attempt: int) -> None:
    """Ask the mission (again, for a later attempt) whether it can receive the person."""
    at = utcnow()
    settings = get_settings()
    with case_transaction(reference) as (store, session, case):
        set_stage(session, case, Stage.RECEPTION, actor="flow", now=at, detail={"attempt": attempt})
        if record_action(session, case, "reception-requested", attempt, now=at):
            facts: dict[str, str] = {}
            limit = limits(settings).get(Checkpoint.RECEPTION)
            if limit is not None:
                # The checkpoint opens moments later, so its time limit ends on this date too
                # (a day earlier at worst, if a risk hold delays the opening: never later).
                facts["due_on"] = (at + limit).date().isoformat()
            if (link := settings.mission_case_url(reference)) is not None:
                facts["link"] = link
            intake = read_intake_for_stage(session, store.master_key, case)
            queue_notifications(
                session, store.master_key, case, Event.RECEPTION_REQUESTED,
                attempt=str(attempt), facts=facts, details=details.reception(intake), now=at,
            )  # fmt: skip
    deliver_now(process_store(), reference)


@stage_task
def conclude_reception(reference: str, attempt: int, accepted: bool) -> bool:
    """Act on the mission's answer to ask `attempt`; return whether it can receive the person.

    Not accepted, the coordinators are alerted to decide; the mission's notes stay sealed.
    """
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if accepted:
            record_action(session, case, "reception-confirmed", attempt, now=at)
        elif record_action(session, case, "reception-declined", attempt, now=at):
            queue_notifications(
                session, store.master_key, case, Event.RECEPTION_DECLINED,
                attempt=str(attempt),
                facts={"reason": f"the receiving mission cannot receive the person (ask "
                       f"{attempt}); the case waits at reception-decision"},
                now=at,
            )  # fmt: skip
    deliver_now(process_store(), reference)
    return accepted


@stage_task
def conclude_reception_decision(
    reference: str, attempt: int, decision: Literal["retry", "stop"]
) -> bool:
    """Act on the coordinators' decision after ask `attempt` was declined; True to ask again.

    `stop` ends the return (stage `stopped`) and tells the mission and the embassy.
    """
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        if decision == "retry":
            record_action(session, case, "reception-retried", attempt, now=at)
        elif record_action(session, case, "reception-stopped", attempt, now=at):
            stop_travel(
                session, store.master_key, case, why=STOPPED, label=f"reception-{attempt}", at=at
            )
    deliver_now(process_store(), reference)
    return decision == "retry"
