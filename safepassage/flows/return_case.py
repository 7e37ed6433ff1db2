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
from safepassage.models.vocabulary import Outcome
from safepassage.orchestration.case_view import publish_case_view
from safepassage.orchestration.catalog import RETURN_CASE
from safepassage.tasks.arrival import hand_over_on_arrival
from safepassage.tasks.consent import (
    conclude_embassy_consent,
    embassy_consent_needed,
    embassy_may_be_asked,
)
from safepassage.tasks.departure import confirm_departure
from safepassage.tasks.embassy import liaise_with_embassy
from safepassage.tasks.followups import schedule_followups
from safepassage.tasks.grant import start_pending_increases
from safepassage.tasks.identification import check_identification, conclude_review
from safepassage.tasks.pre_departure import begin_pre_departure, conclude_pre_departure
from safepassage.tasks.reception import (
    conclude_reception,
    conclude_reception_decision,
    request_reception,
)
from safepassage.tasks.reintegration import (
    conclude_plan,
    conclude_plan_review,
    plan_reintegration,
    request_plan,
)
from safepassage.tasks.run_claim import claim_case_run
from safepassage.tasks.safeguarding import begin_child_safeguarding, conclude_child_safeguarding
from safepassage.tasks.ticketing import book_ticket, record_booking
from safepassage.tasks.travel_document import (
    document_valid_on,
    record_travel_document,
    request_travel_document,
    travel_document_needed,
)

#: A person can miss a flight; after this many bookings a coordinator must look at the case.
MAX_BOOKINGS = 5
#: A mission may be asked again after it could not receive the person (or for a rescheduled
#: journey); after this many asks the run fails, for a coordinator to look at the case rather
#: than ask for ever. The same holds for a child's safeguarding that stays pending and a person
#: not yet fit to travel.
MAX_RECEPTION_ASKS = 5
MAX_SAFEGUARDING_ASKS = 10
MAX_PRE_DEPARTURE_ASKS = 10
#: A plan the coordinators ask the mission to adapt is asked again, at most this many times.
MAX_PLAN_ASKS = 5


@flow(name=RETURN_CASE.flow_name, persist_result=True, log_prints=False)
def return_case(reference: str) -> dict[str, Any] | State[Any]:
    """Take one case from the identification check to its reintegration plan and follow-ups."""
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

    child = begin_child_safeguarding(reference)
    if child and not _child_safeguarded(reference):
        return {"reference": reference, "ended": "not-in-best-interests"}

    document = 0  # the travel-document asks so far; a later one follows a journey moved past expiry
    if travel_document_needed(reference):
        document = _obtain_travel_document(reference, document + 1)

    fitness = _fit_to_travel(reference)
    escort = identification.escort_required or child or fitness == "medical_escort"

    # The last checkpoint before the ticket: nothing is booked until a mission is ready.
    receptions = _Asks()
    if not _reception_confirmed(reference, receptions):
        return {"reference": reference, "ended": "stopped", "why": "no reception"}

    rescheduled = False
    for attempt in range(1, MAX_BOOKINGS + 1):
        book_ticket(reference, attempt)
        ask(reference, Checkpoint.TICKET, attempt=attempt, escort_required=escort)
        record_booking(reference, attempt)
        # A journey moved to a new date is the mission's to confirm again, for that date.
        if rescheduled and not _reception_confirmed(reference, receptions):
            return {"reference": reference, "ended": "stopped", "why": "no reception"}
        liaise_with_embassy(reference, attempt)
        departure = ask(reference, Checkpoint.DEPARTURE, attempt=attempt)
        rescheduled = bool(departure.get("rescheduled"))
        if confirm_departure(reference, attempt, departure["boarded"], rescheduled):
            break
        new_date = departure.get("rescheduled_to")
        if new_date and not document_valid_on(reference, attempt, new_date):
            document = _obtain_travel_document(reference, document + 1)
    else:
        raise RuntimeError(f"{MAX_BOOKINGS} bookings without boarding: review the case")

    ask(reference, Checkpoint.ARRIVAL)
    hand_over_on_arrival(reference)
    plan_reintegration(reference, _agreed_plan(reference))
    start_pending_increases(reference)  # an increase recommended at arrival, for its own run
    followups = schedule_followups(reference)
    return {"reference": reference, "ended": "reintegration", "followups": followups}


def _agreed_plan(reference: str) -> int:
    """Ask the mission for its plan until one is agreed; return the ask that was."""
    for attempt in range(1, MAX_PLAN_ASKS + 1):
        request_plan(reference, attempt)
        ask(reference, Checkpoint.REINTEGRATION_PLAN, attempt=attempt)
        if not conclude_plan(reference, attempt).uncovered:
            return attempt
        review = ask(reference, Checkpoint.PLAN_REVIEW, attempt=attempt)
        if conclude_plan_review(reference, attempt, review["decision"]):
            return attempt
    raise RuntimeError(
        f"the mission was asked {MAX_PLAN_ASKS} times for a plan the coordinators could agree: "
        "review the case"
    )


def _child_safeguarded(reference: str) -> bool:
    """Ask until the child's return is determined: True to go on, False if it ends."""
    for attempt in range(1, MAX_SAFEGUARDING_ASKS + 1):
        ask(reference, Checkpoint.CHILD_SAFEGUARDING, attempt=attempt)
        outcome = conclude_child_safeguarding(reference, attempt)
        if outcome != "pending":
            return outcome == "return"
    raise RuntimeError(
        f"child safeguarding was still pending after {MAX_SAFEGUARDING_ASKS} asks: review the case"
    )


def _obtain_travel_document(reference: str, attempt: int) -> int:
    """Obtain a travel document (ask `attempt`), from the embassy only with the person's
    consent to share with it; return the attempt."""
    if embassy_consent_needed(reference):
        ask(reference, Checkpoint.CONSENT)
        conclude_embassy_consent(reference)
    to_embassy = embassy_may_be_asked(reference, attempt)
    request_travel_document(reference, attempt, to_embassy=to_embassy)
    ask(reference, Checkpoint.TRAVEL_DOCUMENT, attempt=attempt)
    record_travel_document(reference, attempt)
    return attempt


def _fit_to_travel(reference: str) -> str:
    """Give pre-departure assistance until the person is fit to travel; return how."""
    for attempt in range(1, MAX_PRE_DEPARTURE_ASKS + 1):
        begin_pre_departure(reference, attempt)
        ask(reference, Checkpoint.PRE_DEPARTURE, attempt=attempt)
        fitness = conclude_pre_departure(reference, attempt)
        if fitness != "not_yet":
            return fitness
    raise RuntimeError(
        f"not fit to travel after {MAX_PRE_DEPARTURE_ASKS} pre-departure asks: review the case"
    )


class _Asks:
    """The reception asks made so far: a rescheduled journey asks again, numbered on."""

    def __init__(self) -> None:
        self.made = 0


def _reception_confirmed(reference: str, asks: _Asks) -> bool:
    """Ask the mission until it can receive the person (True) or a coordinator stops (False)."""
    while asks.made < MAX_RECEPTION_ASKS:
        asks.made += 1
        attempt = asks.made
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
