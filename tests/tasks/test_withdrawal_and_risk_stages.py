"""Withdrawal compensations and risk rulings as stage functions: each effect once, nothing after."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import CaseStateError, CaseWithdrawn
from safepassage.models.rules import decide
from safepassage.models.store.cases import create_case, get_case
from safepassage.models.store.db import Store
from safepassage.models.store.workflow import open_hold, record_action, record_answer
from safepassage.tasks.risk import conclude_risk_review
from safepassage.tasks.ticketing import book_ticket, record_booking
from safepassage.tasks.withdrawal import (
    announce_withdrawal,
    mark_withdrawn,
    request_booking_cancellation,
)
from tests.factories import TODAY, intake

NOW = dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)


def booked(store: Store, programme: str = "RO") -> str:
    case_file = intake(programme)
    with store.transaction() as session:
        case = create_case(
            session, store.master_key, case_file, decide(case_file, today=TODAY), actor="t", now=NOW
        )
        ticket = sample_answer(Checkpoint.TICKET, attempt=1, scenario=Scenario(), today=TODAY)
        record_answer(
            session, store.master_key, case, "ticket", 1,
            answer_json=json.dumps(ticket).encode(), entered_by="AB", summary={}, now=NOW,
        )  # fmt: skip
        reference = case.reference
    book_ticket.fn(reference, 1)
    record_booking.fn(reference, 1)
    return reference


def titles(home: Path, tag: str) -> list[str]:
    path = home / "notifications" / f"{tag}.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["title"].split(": ")[1] for line in lines]


def test_a_withdrawal_cancels_an_open_booking_and_tells_each_recipient_once(
    stage_store: Store, home: Path
) -> None:
    reference = booked(stage_store)
    for _ in range(2):  # the command repeated
        assert mark_withdrawn.fn(reference).from_stage == "ticketing"
        assert request_booking_cancellation.fn(reference, "withdrew") == 1
        announce_withdrawal.fn(reference)
    assert titles(home, "mission-ro") == ["ticket-booked", "booking-cancelled", "case-withdrawn"]
    assert titles(home, "embassy-ro") == ["booking-cancelled", "case-withdrawn"]
    assert titles(home, "coordinators") == ["booking-cancelled"]


def test_no_stage_does_anything_after_a_withdrawal(stage_store: Store) -> None:
    reference = booked(stage_store)
    mark_withdrawn.fn(reference)
    with pytest.raises(CaseWithdrawn, match=rf"case {reference} was withdrawn"):
        book_ticket.fn(reference, 2)


def test_a_case_past_its_arrival_cannot_be_withdrawn(stage_store: Store) -> None:
    reference = booked(stage_store)
    with stage_store.transaction() as session:
        get_case(session, reference).stage = "reintegration"
    with pytest.raises(CaseStateError, match="before the arrival is confirmed"):
        mark_withdrawn.fn(reference)


def test_a_risk_ruling_clears_the_hold_or_stops_travel_and_cancels_the_booking(
    stage_store: Store, home: Path
) -> None:
    cleared, stopped = booked(stage_store, "BG"), booked(stage_store, "BG")
    with stage_store.transaction() as session:
        for reference in (cleared, stopped):
            case = get_case(session, reference)
            record_action(session, case, "risk-hold", 1, now=NOW)
            assert open_hold(session, case) == 1
    assert conclude_risk_review.fn(cleared, 1, approved=True) is True
    assert conclude_risk_review.fn(stopped, 1, approved=False) is False
    with stage_store.transaction() as session:
        assert open_hold(session, get_case(session, cleared)) is None
        assert get_case(session, cleared).stage == "ticketing"
        assert get_case(session, stopped).stage == "stopped"
    mission = titles(home, "mission-bg")
    assert mission.count("booking-cancelled") == 1
    assert mission.count("return-stopped") == 1
    assert titles(home, "embassy-bg").count("return-stopped") == 1
