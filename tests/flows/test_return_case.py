"""The return-case flow under a real Prefect server, driven as coordinators drive it."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from decimal import Decimal
from uuid import UUID

import pytest
from prefect import get_client
from prefect.states import AwaitingRetry

from safepassage.demo.coordinator import play
from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import IntakeInvalid
from safepassage.models.followup_plan import add_months
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case, open_sealed
from safepassage.models.store.db import open_store
from safepassage.models.store.grant import grant_ledger
from safepassage.orchestration.prefect_api import RunStatus
from safepassage.orchestration.runs import resume_run, run_status
from safepassage.services.checkpoints import answer_checkpoint, case_status
from tests.factories import PERSONAL_VALUES
from tests.flows.conftest import World
from tests.flows.helpers import actions, event_kinds, followup_dates, received, received_texts, take
from tests.waiting import eventually

MISSION_PATH = [
    "case-accepted",
    "travel-document-requested",
    "travel-document-issued",
    "pre-departure-assistance",
    "reception-requested",
    "ticket-booked",
    "departed",
    "arrival-confirmed",
    "reintegration-plan",
    "plan-agreed",
]


def test_each_programme_walks_from_intake_to_reintegration(served: World) -> None:
    grant = Scenario(recommended_grant_chf=2400, approved_increase_chf=500)
    cases = {
        "BG": take("BG"),
        "CZ": take("CZ"),
        "RO": take("RO", consent__share_with_embassy=True),
        "HU": take("HU", grant),
        "ADHOC": take("ADHOC"),
    }
    play(cases.values(), timeout=420)
    # The grant increase is decided in its own run, which goes on after the answer is sent.
    eventually(
        lambda: ("grant-increase-decided", 1) in actions(cases["HU"].reference),
        timeout=60,
        what="the grant-increase run's decision",
    )

    for programme, case in cases.items():
        assert case.stage == "reintegration", (programme, case)
        assert len(followup_dates(case.reference)) == 4
        kinds = event_kinds(case.reference)
        assert kinds.count("checkpoint-answered") == len(case.answered)
        assert kinds.count("identification-checked") == 1

    for programme, tag in [("BG", "mission-bg"), ("CZ", "mission-cz"), ("RO", "mission-ro")]:
        assert received(served, tag, cases[programme].reference) == MISSION_PATH, programme
    assert received(served, "mission-hu", cases["HU"].reference) == [
        *MISSION_PATH,
        "grant-planned",
        "grant-approved",
    ]
    assert received(served, "embassy-ro", cases["RO"].reference) == [
        "travel-document-requested",
        "embassy-liaison",
    ]
    # An ad hoc programme covers nothing in advance: its plan goes to the coordinators.
    assert received(served, "coordinators", cases["ADHOC"].reference) == [
        "review-needed",
        "plan-review-needed",
    ]
    assert ("identification-review", 1) in cases["ADHOC"].answered
    assert ("plan-review", 1) in cases["ADHOC"].answered

    # Detail only where the target is cleared and the person consented: mission-bg and
    # embassy-ro are cleared (and consented to); mission-ro, mission-cz, coordinators are not.
    bg_texts = "\n".join(received_texts(served, "mission-bg", cases["BG"].reference))
    assert PERSONAL_VALUES["family_name"] in bg_texts
    for tag, programme in [("mission-ro", "RO"), ("mission-cz", "CZ"), ("coordinators", "ADHOC")]:
        texts = "\n".join(received_texts(served, tag, cases[programme].reference))
        assert texts
        for value in PERSONAL_VALUES.values():
            assert value not in texts, (tag, value)
    embassy = "\n".join(received_texts(served, "embassy-ro", cases["RO"].reference))
    assert PERSONAL_VALUES["family_name"] in embassy  # cleared, and consent to share with it

    # Hungary: the grant planned with the plan, and the increase recommended at arrival
    # decided in its own grant-increase run.
    hu = cases["HU"]
    assert ("grant-approval", 1) in hu.answered
    store = open_store(get_settings())
    with store.transaction() as session:
        stored = get_case(session, hu.reference)
        plan = json.loads(open_sealed(session, store.master_key, stored, "reintegration-plan"))
        ledger = grant_ledger(session, stored)
    store.dispose()
    assert [(item["need"], item["covered"]) for item in plan["items"]] == [("medical", True)]
    assert (ledger.planned, ledger.total) == (Decimal(1500), Decimal(2000))


def test_review_approved_rejected_and_the_ineligible_path(served: World) -> None:
    approved = take("BG", identification__basis="exploitation_not_nrm")
    rejected = take("CZ", Scenario(approve_review=False), beneficiary__nationality="SK")
    ineligible = take("RO", identification__evidence_provided=False)
    play([approved, rejected, ineligible], stop_at={Checkpoint.TRAVEL_DOCUMENT}, timeout=240)

    assert case_status(approved.reference)["waiting_for"] == "travel-document"
    assert received(served, "mission-bg", approved.reference)[:1] == ["case-accepted"]
    for case in (rejected, ineligible):
        status = case_status(case.reference)
        assert (status["stage"], status["status"]) == ("ineligible", "ended")
    assert received(served, "coordinators", rejected.reference) == [
        "review-needed",
        "case-ineligible",
    ]
    assert received(served, "coordinators", ineligible.reference) == ["case-ineligible"]
    # Missions and embassies are not told why, nor anything, of a case that does not go ahead.
    assert received(served, "mission-cz", rejected.reference) == []
    assert received(served, "mission-ro", ineligible.reference) == []
    assert received(served, "embassy-ro", ineligible.reference) == []
    why = received_texts(served, "coordinators", ineligible.reference)
    assert any("evidence of identification" in text for text in why)


def test_a_missed_flight_books_again_and_each_booking_is_requested_once(served: World) -> None:
    case = take("BG", Scenario(missed_flights=1), travel_document__holds_valid_passport=True)
    play([case], timeout=300)

    assert case.stage == "reintegration"
    ledger = actions(case.reference)
    assert [a for a in ledger if a[0] == "booking-requested"] == [
        ("booking-requested", 1),
        ("booking-requested", 2),
    ]
    assert ("travel-document-skipped", 1) in ledger
    assert ("not-boarded", 1) in ledger
    assert ("departed", 2) in ledger
    events = received(served, "mission-bg", case.reference)
    assert events.count("ticket-booked") == 2
    assert events.count("booking-cancelled") == 1
    assert events.count("departed") == 1
    # The follow-ups count from the actual arrival, on the second booking's day.
    arrival = dt.date.fromisoformat(
        sample_answer(Checkpoint.ARRIVAL, attempt=1, scenario=case.scenario, today=dt.date.today())[
            "arrived_at"
        ][:10]
    )
    assert followup_dates(case.reference) == [add_months(arrival, m) for m in (1, 3, 6, 12)]


def test_invalid_answers_are_refused_with_the_field_named_and_asked_again(served: World) -> None:
    case = take("RO", needs=["escort"])
    play([case], stop_at={Checkpoint.TICKET}, timeout=180)
    status = case_status(case.reference)
    assert status["waiting_for"] == "ticket"

    ticket = sample_answer(Checkpoint.TICKET, attempt=1, scenario=Scenario(), today=dt.date.today())
    backwards = {**ticket, "arrival_at": "2020-01-01T00:00:00+00:00"}
    with pytest.raises(IntakeInvalid, match=r"(?m)^arrival_at: ") as refused:
        answer_checkpoint(case.reference, backwards)
    assert [p.path for p in refused.value.problems] == ["arrival_at"]
    with pytest.raises(IntakeInvalid, match=r"(?m)^arrival_airport: "):
        answer_checkpoint(case.reference, {**ticket, "arrival_airport": "Otopeni"})

    # Around the CLI's checks (as a hand-made API call would): the flow itself refuses it.
    run = run_status(status["flow_run_id"])
    assert run.pause_key == "ticket-1"
    resume_run(status["flow_run_id"], run.pause_key, {**ticket, "escort": False})
    asked_again = _wait_for_pause(status["flow_run_id"], "ticket-1-r1")
    with get_client(sync_client=True) as client:
        description = client.read_flow_run_input(
            UUID(status["flow_run_id"]), "suspended-ticket-1-r1-description"
        )
        leftover = client.filter_flow_run_input(
            UUID(status["flow_run_id"]),
            key_prefix="suspended-ticket-1-",
            limit=10,
            exclude_keys=set(),
        )
    assert "escort: must be true" in description
    assert asked_again.waiting_for is Checkpoint.TICKET
    # The refused answer and its ask are gone from Prefect; only the new ask's form is there.
    assert sorted(i.key for i in leftover) == [
        "suspended-ticket-1-r1-description",
        "suspended-ticket-1-r1-schema",
    ]
    assert "checkpoint-answer-refused" in event_kinds(case.reference)

    answer_checkpoint(case.reference, ticket, expected="ticket")
    play([case], stop_at={Checkpoint.DEPARTURE}, timeout=120)
    assert case_status(case.reference)["waiting_for"] == "departure"


def _wait_for_pause(flow_run_id: str, key: str, timeout: float = 60) -> RunStatus:
    return eventually(
        lambda: run_status(flow_run_id),
        until=lambda run: run.pause_key == key and run.waiting_for is not None,
        timeout=timeout,
        what=f"the run to wait at {key}",
    )


def test_a_failed_run_retried_repeats_no_side_effect_and_asks_nothing_again(served: World) -> None:
    case = take("HU", travel_document__holds_valid_passport=True)
    play([case], stop_at={Checkpoint.TICKET}, timeout=180)
    database = served.home / "safepassage.db"
    fault = (
        "CREATE TRIGGER injected_fault BEFORE INSERT ON case_events "
        f"WHEN NEW.kind = 'ticket-booked' AND NEW.reference = '{case.reference}' "
        "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
    )
    with sqlite3.connect(database) as connection:
        connection.execute(fault)
    try:
        play([case], stop_at={Checkpoint.DEPARTURE}, timeout=120)
        _wait_for_state(case_status(case.reference)["flow_run_id"], "Failed")
    finally:
        with sqlite3.connect(database) as connection:
            connection.execute("DROP TRIGGER injected_fault")
    before = actions(case.reference)
    assert ("ticket-booked", 1) not in before

    flow_run_id = case_status(case.reference)["flow_run_id"]
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(UUID(flow_run_id), AwaitingRetry(), force=True)
    case.run_state = None
    play([case], stop_at={Checkpoint.DEPARTURE}, timeout=180)

    ledger = actions(case.reference)
    assert sorted(set(ledger)) == sorted(ledger)  # every side effect once
    assert ledger.count(("ticket-booked", 1)) == 1
    kinds = event_kinds(case.reference)
    assert kinds.count("identification-checked") == 1
    assert kinds.count("booking-requested") == 1
    # Pre-departure, reception and the ticket, each answered once, never asked again.
    assert kinds.count("checkpoint-answered") == 3
    assert received(served, "mission-hu", case.reference) == [
        "case-accepted",
        "pre-departure-assistance",
        "reception-requested",
        "ticket-booked",
    ]
    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(UUID(flow_run_id))
    assert [s.state_details.pause_key for s in states if s.name == "Suspended"].count(
        "ticket-1"
    ) == 1


def _wait_for_state(flow_run_id: str, name: str, timeout: float = 60) -> None:
    eventually(
        lambda: run_status(flow_run_id),
        until=lambda run: run.state_name == name,
        timeout=timeout,
        what=f"the run to reach {name}",
    )
