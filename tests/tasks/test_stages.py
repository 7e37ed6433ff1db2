"""Each stage does its side effects once, however often it runs, and tells the right people."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.orm import CaseAction, OutboxItem
from safepassage.models.store.workflow import record_answer
from safepassage.tasks import travel_document as travel_document_stage
from safepassage.tasks.departure import confirm_departure
from safepassage.tasks.identification import check_identification, conclude_review
from safepassage.tasks.ticketing import book_ticket
from safepassage.tasks.travel_document import request_travel_document, travel_document_needed
from tests.factories import PERSONAL_VALUES, TODAY
from tests.stored import STORED_AT, stored_case

NOW = STORED_AT  # when the cases were taken in


def sent_lines(home: Path, tag: str) -> list[dict[str, str]]:
    path = home / "notifications" / f"{tag}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def count(store: Store, model: type[CaseAction] | type[OutboxItem]) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_eligible_case_is_accepted_once_however_often_the_stage_runs(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "BG")
    first = check_identification.fn(reference)
    again = check_identification.fn(reference)
    assert first == again
    assert (first.outcome.value, first.holds_valid_passport) == ("eligible", False)
    assert count(stage_store, CaseAction) == 1
    accepted = [line["title"] for line in sent_lines(home, "mission-bg")]
    assert accepted == [f"SafePassage {reference}: case-accepted"]
    assert not sent_lines(home, "coordinators")


def test_an_ineligible_case_ends_and_only_coordinators_hear_why(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "RO", identification__evidence_provided=False)
    assert check_identification.fn(reference).outcome.value == "ineligible"
    with stage_store.transaction() as session:
        assert get_case(session, reference).stage == "ineligible"
    (notice,) = sent_lines(home, "coordinators")
    assert "case-ineligible" in notice["title"]
    assert "evidence of identification" in notice["body"]
    assert not sent_lines(home, "mission-ro")


def test_a_rejected_review_ends_the_case_an_approved_one_accepts_it(
    stage_store: Store, home: Path
) -> None:
    rejected = stored_case(stage_store, "CZ", beneficiary__nationality="SK")
    approved = stored_case(stage_store, "BG", identification__basis="exploitation_not_nrm")
    for reference in (rejected, approved):
        assert check_identification.fn(reference).outcome.value == "needs_review"
    assert conclude_review.fn(rejected, approved=False) is False
    assert conclude_review.fn(approved, approved=True) is True
    with stage_store.transaction() as session:
        assert get_case(session, rejected).stage == "ineligible"
        assert get_case(session, approved).stage == "identification"
    titles = [line["title"].split(": ")[1] for line in sent_lines(home, "coordinators")]
    assert sorted(titles) == ["case-ineligible", "review-needed", "review-needed"]
    assert [line["title"].split(": ")[1] for line in sent_lines(home, "mission-bg")] == [
        "case-accepted"
    ]


def test_a_valid_passport_skips_the_travel_document_else_the_embassy_is_asked_once(
    stage_store: Store, home: Path
) -> None:
    with_passport = stored_case(stage_store, "BG", travel_document__holds_valid_passport=True)
    without = stored_case(stage_store, "BG")
    assert travel_document_needed.fn(with_passport) is False
    assert travel_document_needed.fn(without) is True
    # Deciding that a document is needed asks nobody yet: the request is a stage of its own.
    assert not sent_lines(home, "embassy-bg")
    request_travel_document.fn(without, 1)
    request_travel_document.fn(without, 1)
    for tag in ("embassy-bg", "mission-bg"):
        assert [line["title"] for line in sent_lines(home, tag)] == [
            f"SafePassage {without}: travel-document-requested"
        ]
    with stage_store.transaction() as session:
        assert get_case(session, without).stage == "travel-document"
        assert get_case(session, with_passport).stage == "identification"


def test_a_missed_flight_cancels_that_booking_and_books_again(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "BG")
    book_ticket.fn(reference, 1)
    book_ticket.fn(reference, 1)
    ticket = sample_answer(Checkpoint.TICKET, attempt=1, scenario=Scenario(), today=TODAY)
    with stage_store.transaction() as session:
        case = get_case(session, reference)
        record_answer(
            session, stage_store.master_key, case, "ticket", 1,
            answer_json=json.dumps(ticket).encode(), entered_by="AB", summary={}, now=NOW,
        )  # fmt: skip
    assert confirm_departure.fn(reference, 1, boarded=False) is False
    book_ticket.fn(reference, 2)
    with stage_store.transaction() as session:
        case = get_case(session, reference)
        query = select(CaseAction.action, CaseAction.attempt).where(CaseAction.case_id == case.id)
        ledger = sorted((action, attempt) for action, attempt in session.execute(query))
        assert case.stage == "ticketing"
    assert ledger == [("booking-requested", 1), ("booking-requested", 2), ("not-boarded", 1)]
    titles = [line["title"].split(": ")[1] for line in sent_lines(home, "mission-bg")]
    assert titles == ["booking-cancelled"]
    for value in PERSONAL_VALUES.values():
        assert value not in (home / "notifications" / "mission-bg.jsonl").read_text()


def test_a_passport_that_expired_while_the_case_waited_needs_a_travel_document(
    stage_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Valid for four more days when the case was taken in; the stage runs ten days on.
    expires = (TODAY + dt.timedelta(days=4)).isoformat()
    expired = stored_case(
        stage_store,
        "BG",
        travel_document__holds_valid_passport=True,
        travel_document__passport_expires_on=expires,
        earliest_departure=TODAY.isoformat(),
    )
    short = stored_case(  # still valid today, but not on the earliest departure
        stage_store,
        "BG",
        travel_document__holds_valid_passport=True,
        travel_document__passport_expires_on=(TODAY + dt.timedelta(days=12)).isoformat(),
        earliest_departure=(TODAY + dt.timedelta(days=20)).isoformat(),
    )
    ten_days_on = NOW + dt.timedelta(days=10)
    monkeypatch.setattr(travel_document_stage, "utcnow", lambda: ten_days_on)
    assert travel_document_needed.fn(expired) is True
    assert travel_document_needed.fn(short) is True
    with stage_store.transaction() as session:
        # Only a passport still valid on the day of travel skips the document.
        for reference in (expired, short):
            query = select(CaseAction.action).where(
                CaseAction.case_id == get_case(session, reference).id
            )
            assert "travel-document-skipped" not in session.scalars(query).all()
