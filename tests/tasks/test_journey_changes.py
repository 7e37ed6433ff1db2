"""Journeys that change, as stage functions: the recovery period holds at the ticket, a journey
not boarded says why (sealed), a rescheduled one is told as a new date, and a new date past the
travel document's expiry needs a new document.

No Prefect server: the stages run as plain functions against the test store (SQLite and
PostgreSQL); the default targets write each message to a local JSON-lines log.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.events import case_events
from safepassage.models.store.orm import CaseAction
from safepassage.tasks.departure import confirm_departure
from safepassage.tasks.ticketing import book_ticket, record_booking
from safepassage.tasks.travel_document import document_valid_on
from safepassage.tasks.withdrawal import mark_withdrawn, request_booking_cancellation
from tests.factories import PERSONAL_VALUES, TODAY
from tests.stored import stored_case
from tests.tasks.checkpoint_answers import answer, events, freeze, lines

DAY = dt.timedelta(days=1)
#: The sample ticket's flight for booking 1 leaves on this day (tests/../sample_answers.py).
FLIGHT_DAY = TODAY + 14 * DAY
NEW_DATE = (TODAY + 30 * DAY).isoformat()


@pytest.fixture(autouse=True)
def _frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch)


def booked(store: Store, programme: str = "RO", attempt: int = 1, **changes: Any) -> str:
    """A case with booking `attempt` made and told (after the earlier ones, if any)."""
    reference = stored_case(store, programme, **changes)
    book(reference, attempt)
    return reference


def book(reference: str, attempt: int) -> None:
    book_ticket.fn(reference, attempt)
    assert answer(reference, Checkpoint.TICKET, attempt=attempt).accepted
    record_booking.fn(reference, attempt)


def ledger(store: Store, reference: str) -> list[tuple[str, int]]:
    with store.transaction() as session:
        case = get_case(session, reference)
        query = select(CaseAction.action, CaseAction.attempt).where(CaseAction.case_id == case.id)
        return sorted((action, attempt) for action, attempt in session.execute(query))


def logged(store: Store, reference: str) -> str:
    """The case's whole event log as text, to search for what must never be in clear."""
    with store.transaction() as session:
        return json.dumps([[e.kind, e.detail] for e in case_events(session, reference)])


# --- the recovery period holds --------------------------------------------------------------


def test_a_ticket_departing_before_the_earliest_departure_is_refused_naming_departure_at(
    stage_store: Store,
) -> None:
    later = FLIGHT_DAY + 7 * DAY  # the recovery period ends a week after the sample flight
    reference = stored_case(stage_store, "BG", earliest_departure=later.isoformat())
    book_ticket.fn(reference, 1)
    refused = answer(reference, Checkpoint.TICKET)
    assert not refused.accepted
    assert refused.problems == [
        "departure_at: is before the person's earliest departure (the end of the recovery "
        "period): book a later date"
    ]
    for problem in refused.problems:
        assert FLIGHT_DAY.isoformat() not in problem
        assert later.isoformat() not in problem
    flight = f"{later.isoformat()}T09:40:00+00:00"
    arrival = f"{later.isoformat()}T14:20:00+02:00"
    assert answer(reference, Checkpoint.TICKET, departure_at=flight, arrival_at=arrival).accepted


def test_a_ticket_on_or_after_the_earliest_departure_is_accepted(stage_store: Store) -> None:
    reference = stored_case(stage_store, "BG", earliest_departure=FLIGHT_DAY.isoformat())
    book_ticket.fn(reference, 1)
    assert answer(reference, Checkpoint.TICKET).accepted


# --- not boarded: why, and what follows -----------------------------------------------------


def test_a_rescheduled_journey_is_told_as_a_new_date_to_mission_and_embassy_once(
    stage_store: Store, home: Path
) -> None:
    reference = booked(stage_store, "RO")
    accepted = answer(
        reference, Checkpoint.DEPARTURE, boarded=False, departed_at=None, reason="rescheduled",
        rescheduled_to=NEW_DATE, notes="Moved to a later flight.",
    )  # fmt: skip
    assert accepted.summary == {"boarded": False, "rescheduled": True, "rescheduled_to": NEW_DATE}
    for _ in range(2):  # replayed: once
        assert confirm_departure.fn(reference, 1, boarded=False, rescheduled=True) is False

    for tag in ("mission-ro", "embassy-ro"):
        assert events(home, tag, reference)[-1] == "travel-rescheduled"
        assert "booking-cancelled" not in events(home, tag, reference)
        (notice,) = [m for m in lines(home, tag, reference) if "travel-rescheduled" in m["title"]]
        assert "rescheduled to a new date; a new booking follows" in notice["body"]
        assert "did not board" not in notice["body"]
        for value in (*PERSONAL_VALUES.values(), NEW_DATE):
            assert value not in notice["body"]
    assert events(home, "mission-ro", reference) == ["ticket-booked", "travel-rescheduled"]
    assert events(home, "coordinators", reference) == []
    assert ledger(stage_store, reference) == [
        ("booking-requested", 1),
        ("ticket-booked", 1),
        ("travel-rescheduled", 1),
    ]
    with stage_store.transaction() as session:
        assert get_case(session, reference).stage == "ticketing"  # a new booking follows


@pytest.mark.parametrize("reason", ["no_show", "denied_boarding", "medical", "other"])
def test_any_other_reason_cancels_the_booking_as_before_and_stays_sealed(
    stage_store: Store, home: Path, reason: str
) -> None:
    reference = booked(stage_store, "RO")
    accepted = answer(
        reference, Checkpoint.DEPARTURE, boarded=False, departed_at=None, reason=reason,
        notes="Seen by a doctor at the airport.",
    )  # fmt: skip
    assert accepted.summary == {"boarded": False, "rescheduled": False}
    for _ in range(2):
        assert confirm_departure.fn(reference, 1, boarded=False, rescheduled=False) is False

    assert events(home, "mission-ro", reference) == ["ticket-booked", "booking-cancelled"]
    assert events(home, "embassy-ro", reference) == ["booking-cancelled"]
    assert events(home, "coordinators", reference) == ["booking-cancelled"]
    (cancelled,) = [m for m in lines(home, "mission-ro", reference) if "cancelled" in m["title"]]
    assert "the person did not board; a new booking follows" in cancelled["body"]
    assert ("not-boarded", 1) in ledger(stage_store, reference)
    # Why stays sealed: not in any message, nor in the event log kept in clear.
    said = re.compile(rf"\b{reason}\b|doctor")
    for tag in ("mission-ro", "embassy-ro", "coordinators"):
        for message in lines(home, tag, reference):
            assert not said.search(message["body"])
    assert f'"{reason}"' not in logged(stage_store, reference)
    assert "doctor" not in logged(stage_store, reference)


def test_a_withdrawal_after_a_rescheduled_journey_cancels_no_booking(
    stage_store: Store, home: Path
) -> None:
    reference = booked(stage_store, "RO")
    answer(
        reference, Checkpoint.DEPARTURE, boarded=False, departed_at=None, reason="rescheduled",
    )  # fmt: skip
    confirm_departure.fn(reference, 1, boarded=False, rescheduled=True)

    assert mark_withdrawn.fn(reference).from_stage == "ticketing"
    assert request_booking_cancellation.fn(reference, "withdrew") is None
    for tag in ("mission-ro", "embassy-ro", "coordinators"):
        assert "booking-cancelled" not in events(home, tag, reference)
    assert not [a for a, _ in ledger(stage_store, reference) if a.startswith("booking-cancel")]


def test_a_withdrawal_after_the_new_booking_cancels_that_one_only(
    stage_store: Store, home: Path
) -> None:
    reference = booked(stage_store, "RO")
    answer(
        reference, Checkpoint.DEPARTURE, boarded=False, departed_at=None, reason="rescheduled",
    )  # fmt: skip
    confirm_departure.fn(reference, 1, boarded=False, rescheduled=True)
    book(reference, 2)

    mark_withdrawn.fn(reference)
    for _ in range(2):
        assert request_booking_cancellation.fn(reference, "withdrew") == 2
    assert ("booking-cancellation-requested", 2) in ledger(stage_store, reference)
    assert events(home, "embassy-ro", reference) == ["travel-rescheduled", "booking-cancelled"]


# --- a new date past the travel document's expiry -------------------------------------------


def test_a_new_date_is_checked_against_the_travel_document_entered(stage_store: Store) -> None:
    reference = stored_case(stage_store, "RO")
    assert answer(reference, Checkpoint.TRAVEL_DOCUMENT).accepted
    valid_until = TODAY + 180 * DAY  # the sample document's expiry
    assert document_valid_on.fn(reference, 1, valid_until.isoformat()) is True
    assert document_valid_on.fn(reference, 1, (valid_until + DAY).isoformat()) is False


def test_the_latest_document_counts(stage_store: Store) -> None:
    reference = stored_case(stage_store, "RO")
    soon = (TODAY + 20 * DAY).isoformat()
    answer(reference, Checkpoint.TRAVEL_DOCUMENT, valid_until=soon)
    assert document_valid_on.fn(reference, 1, NEW_DATE) is False
    answer(reference, Checkpoint.TRAVEL_DOCUMENT, attempt=2)  # a new document for the new date
    assert document_valid_on.fn(reference, 2, NEW_DATE) is True


def test_without_a_document_entered_the_passport_s_expiry_counts(stage_store: Store) -> None:
    expires = TODAY + 25 * DAY
    reference = stored_case(
        stage_store,
        "RO",
        travel_document__holds_valid_passport=True,
        travel_document__passport_expires_on=expires.isoformat(),
    )
    assert document_valid_on.fn(reference, 1, expires.isoformat()) is True
    assert document_valid_on.fn(reference, 1, NEW_DATE) is False
