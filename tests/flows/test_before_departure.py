"""Children and rescheduled journeys on the served Prefect, end to end, as coordinators meet them.

A child's return waits for the best-interests determination and the guardian's consent, travels
with an escort and ends with a handover to the child-protection authority; a determination that
return is not in the child's best interests ends the case. A journey moved on purpose is a
change of date for the mission and the embassy, not a missed flight, and the mission confirms
reception again for the new booking.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import pytest
from prefect import get_client

from safepassage.demo.coordinator import play
from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import IntakeInvalid
from safepassage.models.followup_plan import add_months
from safepassage.orchestration.runs import run_status
from safepassage.services.checkpoints import answer_checkpoint, case_status
from tests.factories import PERSONAL_VALUES
from tests.flows.conftest import World
from tests.flows.helpers import actions, followup_dates, received, received_texts, take
from tests.waiting import eventually

#: Who receives the child at the destination, as the sample answer names them (sealed).
AUTHORITY = sample_answer(
    Checkpoint.CHILD_SAFEGUARDING, attempt=1, scenario=Scenario(), today=dt.date.today()
)["receiving_authority"]


def _sixteen_this_year() -> str:
    """A date of birth that makes the person a child on any travel day of the next year."""
    return dt.date(dt.date.today().year - 16, 1, 15).isoformat()


def _completed_result(flow_run_id: str) -> object:
    """Wait until the run completes; return its result (persisted, read back from storage)."""
    run = eventually(
        lambda: run_status(flow_run_id),
        until=lambda run: run.state_name == "Completed",
        timeout=60,
        what=f"run {flow_run_id} to complete",
    )
    assert run.state_name == "Completed"
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(flow_run_id)).state
    assert state is not None
    return state.result()


def test_a_childs_return_waits_for_its_safeguarding_travels_escorted_and_can_be_ended(
    served: World,
) -> None:
    child = _sixteen_this_year()
    # A pending determination is asked about again; then return, with an escort.
    returned = take(
        "BG", Scenario(safeguarding_pending=1),
        beneficiary__date_of_birth=child, travel_document__holds_valid_passport=True,
    )  # fmt: skip
    ended = take(
        "CZ", Scenario(best_interests="not_in_best_interests"),
        beneficiary__date_of_birth=child, travel_document__holds_valid_passport=True,
    )  # fmt: skip
    play([returned, ended], stop_at={Checkpoint.TICKET}, timeout=300)

    # -- not in the child's best interests: the case ends there, nothing is asked or booked --
    status = case_status(ended.reference)
    assert (status["stage"], status["status"], status["waiting_for"]) == (
        "not-in-best-interests",
        "ended",
        None,
    )
    assert ended.answered == [("identification-review", 1), ("child-safeguarding", 1)]
    assert _completed_result(str(status["flow_run_id"])) == {
        "reference": ended.reference,
        "ended": "not-in-best-interests",
    }
    assert received(served, "mission-cz", ended.reference) == [
        "case-accepted",
        "return-not-in-best-interests",
    ]
    assert received(served, "coordinators", ended.reference) == [
        "review-needed",
        "return-not-in-best-interests",
    ]
    assert received(served, "embassy-cz", ended.reference) == []
    assert not [a for a in actions(ended.reference) if a[0].startswith(("booking", "reception"))]
    told = "\n".join(received_texts(served, "coordinators", ended.reference))
    assert "not in the child's interests" in told
    for value in [*PERSONAL_VALUES.values(), child, AUTHORITY]:
        assert value not in told

    # -- safeguarded: the ticket must include an escort ---------------------------------------
    assert case_status(returned.reference)["waiting_for"] == "ticket"
    assert returned.answered == [
        ("identification-review", 1),
        ("child-safeguarding", 1),
        ("child-safeguarding", 2),
        ("pre-departure", 1),
        ("reception", 1),
    ]
    ticket = sample_answer(
        Checkpoint.TICKET, attempt=1, scenario=returned.scenario, today=dt.date.today()
    )
    with pytest.raises(IntakeInvalid, match=r"(?m)^escort: must be true") as refused:
        answer_checkpoint(returned.reference, {**ticket, "escort": False})
    assert [p.path for p in refused.value.problems] == ["escort"]
    play([returned], timeout=300)  # the sample ticket books the escort

    assert returned.stage == "reintegration"
    assert len(followup_dates(returned.reference)) == 4
    ledger = actions(returned.reference)
    assert ("child-safeguarding-pending", 1) in ledger
    assert ("child-safeguarded", 2) in ledger
    assert received(served, "coordinators", returned.reference) == [
        "review-needed",
        "safeguarding-pending",
    ]
    mission = received(served, "mission-bg", returned.reference)
    assert mission == [
        "case-accepted",
        "child-protection-handover",
        "pre-departure-assistance",
        "reception-requested",
        "ticket-booked",
        "departed",
        "arrival-confirmed",
        "reintegration-plan",
        "plan-agreed",
    ]
    # mission-bg is cleared and the person consented: it learns whom to hand the child over to.
    handover = "\n".join(
        text
        for text in received_texts(served, "mission-bg", returned.reference)
        if "child-protection-handover" in text
    )
    assert AUTHORITY in handover
    assert "Independent Child Trafficking Guardian" in handover
    for tag in ("coordinators", "embassy-bg"):
        assert AUTHORITY not in "\n".join(received_texts(served, tag, returned.reference)), tag


def test_a_rescheduled_journey_is_a_new_date_and_the_mission_confirms_reception_again(
    served: World,
) -> None:
    case = take(
        "RO", Scenario(missed_flights=1, rescheduled=True),
        travel_document__holds_valid_passport=True,
    )  # fmt: skip
    play([case], timeout=420)

    assert case.stage == "reintegration"
    # The new booking first, then the mission confirms it can receive the person on that date.
    assert case.answered == [
        ("pre-departure", 1),
        ("reception", 1),
        ("ticket", 1),
        ("departure", 1),
        ("ticket", 2),
        ("reception", 2),
        ("departure", 2),
        ("arrival", 1),
        ("reintegration-plan", 1),
    ]
    ledger = actions(case.reference)
    assert ("travel-rescheduled", 1) in ledger
    assert ("not-boarded", 1) not in ledger
    assert ("reception-confirmed", 2) in ledger
    assert ("departed", 2) in ledger
    for tag in ("mission-ro", "embassy-ro"):
        events = received(served, tag, case.reference)
        assert events.count("travel-rescheduled") == 1, tag
        assert "booking-cancelled" not in events, tag
    # The change of date, the new booking, then the mission asked again for that date.
    assert received(served, "mission-ro", case.reference) == [
        "case-accepted",
        "pre-departure-assistance",
        "reception-requested",
        "ticket-booked",
        "travel-rescheduled",
        "ticket-booked",
        "reception-requested",
        "departed",
        "arrival-confirmed",
        "reintegration-plan",
        "plan-agreed",
    ]
    # Why the journey moved stays sealed: the mission and embassy read a change of date.
    for tag in ("mission-ro", "embassy-ro", "coordinators"):
        assert "Moved to a later flight" not in "\n".join(
            received_texts(served, tag, case.reference)
        )
    assert "booking-cancelled" not in received(served, "coordinators", case.reference)
    # The follow-ups count from the actual arrival: the second booking's day.
    arrival = sample_answer(
        Checkpoint.ARRIVAL, attempt=1, scenario=case.scenario, today=dt.date.today()
    )["arrived_at"][:10]
    assert followup_dates(case.reference) == [
        add_months(dt.date.fromisoformat(arrival), m) for m in (1, 3, 6, 12)
    ]
