"""The return-case flow: one run per case, from the identification check to the follow-ups.

Orchestration only. The body is deterministic and does nothing itself: every side effect is a
task keyed on (case, stage, attempt) and recorded in the case store's ledger, every human step
is a checkpoint (see ask.py). A resumed or retried run re-executes this body from the top and
replays what was done from persisted results and the store.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Cancelled

from safepassage.flows.ask import TravelStopped, ask
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.vocabulary import Outcome, Programme
from safepassage.orchestration.case_view import publish_case_view
from safepassage.orchestration.catalog import RETURN_CASE
from safepassage.tasks.arrival import hand_over_on_arrival
from safepassage.tasks.departure import confirm_departure
from safepassage.tasks.embassy import liaise_with_embassy
from safepassage.tasks.followups import schedule_followups
from safepassage.tasks.identification import check_identification, conclude_review
from safepassage.tasks.reception import (
    conclude_reception,
    conclude_reception_decision,
    request_reception,
)
from safepassage.tasks.reintegration import plan_reintegration
from safepassage.tasks.run_claim import claim_case_run
from safepassage.tasks.ticketing import book_ticket, record_booking
from safepassage.tasks.travel_document import record_travel_document, request_travel_document

#: A person can miss a flight; after this many bookings a coordinator must look at the case.
MAX_BOOKINGS = 5
#: A mission may be asked again after it could not receive the person; after this many asks
#: the run fails, for a coordinator to look at the case rather than ask for ever.
MAX_RECEPTION_ASKS = 5


@flow(name=RETURN_CASE.flow_name, persist_result=True, log_prints=False)
def return_case(reference: str) -> dict[str, Any] | State[Any]:
    """Take one case from the identification check to its reintegration and follow-up plan."""
    claim = claim_case_run(reference)
    if not claim.claimed:  # a second run of a case another live run owns: it does nothing
        return Cancelled(message=f"case {reference} is already run by flow run {claim.owner}")
    try:
        result = _return(reference)
    except TravelStopped:
        result = {"reference": reference, "ended": "stopped", "why": "a raised risk"}
    # The stages leave the case's view to the flow: it is shown before each checkpoint (ask)
    # and here, where the run ends.
    publish_case_view(reference)
    return result


def _return(reference: str) -> dict[str, Any]:
    identification = check_identification(reference)
    if identification.outcome is Outcome.INELIGIBLE:
        return {"reference": reference, "ended": "ineligible"}
    if identification.outcome is Outcome.NEEDS_REVIEW:
        review = ask(reference, Checkpoint.IDENTIFICATION_REVIEW)
        if not conclude_review(reference, review["approved"]):
            return {"reference": reference, "ended": "ineligible"}

    if request_travel_document(reference):
        ask(reference, Checkpoint.TRAVEL_DOCUMENT)
        record_travel_document(reference)

    # The last checkpoint before the ticket: nothing is booked until a mission is ready.
    if not _reception_confirmed(reference):
        return {"reference": reference, "ended": "stopped", "why": "no reception"}

    escort = identification.escort_required
    for attempt in range(1, MAX_BOOKINGS + 1):
        book_ticket(reference, attempt)
        ask(reference, Checkpoint.TICKET, attempt=attempt, escort_required=escort)
        record_booking(reference, attempt)
        liaise_with_embassy(reference, attempt)
        departure = ask(reference, Checkpoint.DEPARTURE, attempt=attempt)
        if confirm_departure(reference, attempt, departure["boarded"]):
            break
    else:
        raise RuntimeError(f"{MAX_BOOKINGS} bookings without boarding: review the case")

    arrival = ask(reference, Checkpoint.ARRIVAL)
    hand_over_on_arrival(reference)
    if identification.programme == Programme.HU.value and arrival["grant_review"]:
        ask(reference, Checkpoint.GRANT_APPROVAL)
    plan_reintegration(reference)
    followups = schedule_followups(reference)
    return {"reference": reference, "ended": "reintegration", "followups": followups}


def _reception_confirmed(reference: str) -> bool:
    """Ask the mission until it can receive the person (True) or a coordinator stops (False)."""
    for attempt in range(1, MAX_RECEPTION_ASKS + 1):
        request_reception(reference, attempt)
        answer = ask(reference, Checkpoint.RECEPTION, attempt=attempt)
        if conclude_reception(reference, attempt, answer["accepted"]):
            return True
        decision = ask(reference, Checkpoint.RECEPTION_DECISION, attempt=attempt)
        if not conclude_reception_decision(reference, attempt, decision["decision"]):
            return False
    raise RuntimeError(
        f"the mission was asked {MAX_RECEPTION_ASKS} times and could not receive the person: "
        "review the case"
    )
