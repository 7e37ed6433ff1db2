"""The reception checkpoint on the served Prefect: nothing is booked until a mission is ready."""

from __future__ import annotations

from safepassage.demo.coordinator import play
from safepassage.demo.sample_answers import Scenario
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.settings import get_settings
from safepassage.models.store.db import open_store
from safepassage.models.store.events import case_events
from safepassage.orchestration.runs import run_status
from safepassage.services.checkpoints import case_status
from tests.flows.conftest import World
from tests.flows.helpers import actions, received, take
from tests.waiting import eventually


def _answers(reference: str) -> list[tuple[str, int, dict[str, object]]]:
    """Each accepted answer's checkpoint, attempt and logged detail, in order."""
    store = open_store(get_settings())
    try:
        with store.transaction() as session:
            return [
                (str(e.detail["checkpoint"]), int(e.detail["attempt"]), e.detail)
                for e in case_events(session, reference)
                if e.kind == "checkpoint-answered"
            ]
    finally:
        store.dispose()


def test_a_declined_reception_asked_again_and_accepted_reaches_the_ticket(
    served: World,
) -> None:
    case = take("BG", Scenario(receptions_declined=1), travel_document__holds_valid_passport=True)
    play([case], stop_at={Checkpoint.TICKET}, timeout=300)

    status = case_status(case.reference)
    assert (status["stage"], status["waiting_for"]) == ("ticketing", "ticket")
    assert case.answered == [
        ("pre-departure", 1),
        ("reception", 1),
        ("reception-decision", 1),
        ("reception", 2),
    ]
    answers = _answers(case.reference)
    assert [(c, n) for c, n, _ in answers] == case.answered
    # The demo's coordinator answered in the Prefect UI's stead: on the mission's behalf.
    assert [d.get("on_behalf_of_mission") for c, _, d in answers if c == "reception"] == [
        True,
        True,
    ]
    assert [d["accepted"] for c, _, d in answers if c == "reception"] == [False, True]
    assert "notes" not in str(answers)  # the mission's notes stay sealed

    assert received(served, "mission-bg", case.reference) == [
        "case-accepted",
        "pre-departure-assistance",
        "reception-requested",
        "reception-requested",
    ]
    assert received(served, "coordinators", case.reference) == ["reception-declined"]
    ledger = actions(case.reference)
    for action in ("reception-requested", "reception-declined", "reception-retried"):
        assert ledger.count((action, 1)) == 1, action
    assert ("reception-confirmed", 2) in ledger
    assert ("booking-requested", 1) in ledger  # booked only after the second answer


def test_a_stop_after_a_declined_reception_ends_the_return_as_stopped(served: World) -> None:
    scenario = Scenario(receptions_declined=1, stop_after_declined_reception=True)
    case = take("RO", scenario, travel_document__holds_valid_passport=True)
    play([case], timeout=300)

    status = case_status(case.reference)
    assert (status["stage"], status["status"], status["waiting_for"]) == (
        "stopped",
        "ended",
        None,
    )
    # The stage ends before the run does (it publishes the case's view last).
    eventually(
        lambda: run_status(str(status["flow_run_id"])).state_name,
        until=lambda state: state == "Completed",
        timeout=60,
        what="the stopped case's run to complete",
    )
    assert case.answered == [("pre-departure", 1), ("reception", 1), ("reception-decision", 1)]
    assert received(served, "mission-ro", case.reference) == [
        "case-accepted",
        "pre-departure-assistance",
        "reception-requested",
        "return-stopped",
    ]
    assert received(served, "embassy-ro", case.reference) == ["return-stopped"]
    assert received(served, "coordinators", case.reference) == ["reception-declined"]
    assert not [a for a in actions(case.reference) if a[0] == "booking-requested"]
