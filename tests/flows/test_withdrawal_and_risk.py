"""Withdrawal and raised risk, on the served Prefect, as coordinators would meet them."""

from __future__ import annotations

import datetime as dt

from safepassage.demo.coordinator import play
from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.vocabulary import RiskLevel
from safepassage.orchestration.runs import run_status
from safepassage.services.checkpoints import answer_checkpoint, case_status
from safepassage.services.interventions import raise_risk, withdraw
from tests.flows.conftest import World
from tests.flows.helpers import actions, event_kinds, received, take


def test_withdrawal_while_the_travel_document_is_awaited_cancels_no_booking(
    served: World,
) -> None:
    case = take("BG")
    play([case], stop_at={Checkpoint.TRAVEL_DOCUMENT}, timeout=180)
    flow_run_id = case_status(case.reference)["flow_run_id"]

    result = withdraw(case.reference, "She decided to stay with family in the UK.", actor="AB")

    assert result["state"] == "Completed"
    status = case_status(case.reference)
    assert (status["stage"], status["status"], status["waiting_for"]) == (
        "withdrawn",
        "ended",
        None,
    )
    assert run_status(flow_run_id).state_name == "Cancelled"
    ledger = actions(case.reference)
    assert ("booking-cancellation-requested", 1) not in ledger
    assert received(served, "mission-bg", case.reference)[-1] == "case-withdrawn"
    assert received(served, "embassy-bg", case.reference)[-1] == "case-withdrawn"
    assert "booking-cancelled" not in received(served, "coordinators", case.reference)
    assert "She decided" not in str(event_kinds(case.reference))


def test_withdrawal_at_departure_cancels_the_booking_once_however_often_it_is_asked(
    served: World,
) -> None:
    case = take("RO", travel_document__holds_valid_passport=True)
    play([case], stop_at={Checkpoint.DEPARTURE}, timeout=180)

    withdraw(case.reference, "Withdrew consent to return.", actor="AB")
    again = withdraw(case.reference, "Asked again by mistake.", actor="CD")

    assert again["state"] == "Completed"
    ledger = actions(case.reference)
    assert ledger.count(("booking-cancellation-requested", 1)) == 1
    assert ledger.count(("withdrawal-announced", 1)) == 1
    for tag in ("mission-ro", "embassy-ro", "coordinators"):
        events = received(served, tag, case.reference)
        assert events.count("booking-cancelled") == 1, tag
    for tag in ("mission-ro", "embassy-ro"):
        assert received(served, tag, case.reference).count("case-withdrawn") == 1, tag
    assert event_kinds(case.reference).count("withdrawal-requested") == 2


def test_a_raised_risk_holds_travel_until_a_coordinator_approves_again(served: World) -> None:
    case = take("HU", travel_document__holds_valid_passport=True)
    play([case], stop_at={Checkpoint.TICKET}, timeout=180)

    raise_risk(case.reference, RiskLevel.HIGH, "Contact from the exploiter reported.", actor="AB")
    assert "risk-alert" in received(served, "coordinators", case.reference)

    today = dt.date.today()
    answer_checkpoint(
        case.reference,
        sample_answer(Checkpoint.TICKET, attempt=1, scenario=Scenario(), today=today),
        expected="ticket",
    )
    play([case], stop_at={Checkpoint.RISK_REVIEW, Checkpoint.DEPARTURE}, timeout=120)
    held = case_status(case.reference)
    assert held["waiting_for"] == "risk-review"  # not the departure: travel is on hold

    play([case], stop_at={Checkpoint.DEPARTURE}, timeout=120)  # the coordinator approves
    assert case_status(case.reference)["waiting_for"] == "departure"
    assert ("risk-cleared", 1) in actions(case.reference)


def test_a_raised_risk_that_a_coordinator_upholds_stops_travel(served: World) -> None:
    case = take("CZ", Scenario(approve_risk=False), travel_document__holds_valid_passport=True)
    play([case], stop_at={Checkpoint.DEPARTURE}, timeout=180)
    raise_risk(case.reference, RiskLevel.HIGH, "Threats against the family.", actor="AB")
    today = dt.date.today()
    answer_checkpoint(
        case.reference,
        sample_answer(
            Checkpoint.DEPARTURE, attempt=1, scenario=Scenario(missed_flights=1), today=today
        ),
    )
    play([case], timeout=180)  # not boarded: the next ticket is held; the review says stop

    status = case_status(case.reference)
    assert (status["stage"], status["status"]) == ("stopped", "ended")
    assert ("travel-stopped", 1) in actions(case.reference)
    assert received(served, "mission-cz", case.reference)[-1] == "return-stopped"
    assert received(served, "embassy-cz", case.reference)[-1] == "return-stopped"
