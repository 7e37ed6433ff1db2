"""Pre-departure assistance: counselling, a fit-to-travel check, airport and transit help.

Every programme names pre-departure and transit assistance. The checkpoint comes before the
booking: a person not yet fit to travel is asked about again on the date given, and a medical
escort becomes an escort the ticket must include. The mission hears what to prepare: the kinds
of assistance always, why an escort travels only as a detail, to a cleared mission with consent.
"""

from __future__ import annotations

from typing import Literal

from safepassage.models import details
from safepassage.models.checkpoints import Checkpoint, PreDepartureAnswer
from safepassage.models.clock import utcnow
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import read_intake_for_stage
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import stage_task
from safepassage.tasks.checkpoints import stored_answer

Fitness = Literal["yes", "medical_escort", "not_yet"]


@stage_task
def begin_pre_departure(reference: str, attempt: int) -> None:
    """Put the case at the pre-departure stage for ask `attempt`."""
    at = utcnow()
    with case_transaction(reference) as (_, session, case):
        set_stage(
            session, case, Stage.PRE_DEPARTURE, actor="flow", now=at, detail={"attempt": attempt}
        )


@stage_task
def conclude_pre_departure(reference: str, attempt: int) -> Fitness:
    """Act on ask `attempt`: fit (with or without a medical escort), or asked again later."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        answer = stored_answer(
            session, store.master_key, case, Checkpoint.PRE_DEPARTURE,
            attempt=attempt, model=PreDepartureAnswer,
        )  # fmt: skip
        fitness: Fitness = answer.fit_to_travel
        if fitness != "not_yet" and record_action(
            session, case, "pre-departure-assisted", attempt, now=at
        ):
            if fitness == "medical_escort":
                case.escort_required = True
            help_needed = [
                kind
                for kind, needed in (
                    ("airport assistance", answer.airport_assistance),
                    ("transit assistance", answer.transit_assistance),
                    ("an escort travels with the person", case.escort_required),
                )
                if needed
            ]
            intake = read_intake_for_stage(session, store.master_key, case)
            queue_notifications(
                session, store.master_key, case, Event.PRE_DEPARTURE_READY,
                attempt=str(attempt),
                facts={"assistance": ", ".join(help_needed) or "none beyond reception"},
                details=details.pre_departure(intake, answer), now=at,
            )  # fmt: skip
    deliver_now(process_store(), reference)
    return fitness
