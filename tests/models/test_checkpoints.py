"""The checkpoint forms and the history rules an answer must satisfy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import (
    FORMS,
    ArrivalAnswer,
    Checkpoint,
    DepartureAnswer,
    GrantApprovalAnswer,
    History,
    TicketAnswer,
    TravelDocumentAnswer,
    problems_with,
)

TODAY = dt.date(2026, 11, 29)
HISTORY = History(consent_recorded_on=dt.date(2026, 11, 20), escort_required=False, programme="RO")


def answer(checkpoint: Checkpoint, **changes: Any) -> Any:
    raw = sample_answer(checkpoint, attempt=1, scenario=Scenario(), today=TODAY) | changes
    return FORMS[checkpoint].model_validate(raw)


def fields(found: list[Any]) -> list[str]:
    return [p.path for p in found]


@pytest.mark.parametrize("checkpoint", list(Checkpoint))
def test_every_sample_answer_is_a_valid_form(checkpoint: Checkpoint) -> None:
    assert answer(checkpoint).entered_by


def test_forms_have_no_defaults_for_required_answers() -> None:
    # A replayed run whose stored answer was deleted must fail, never go on with a default.
    for form in FORMS.values():
        schema = form.model_json_schema()
        # Who answered is filled in by the gateway from the signed-in account, not typed.
        assert "entered_by" not in schema["required"]
        assert schema["required"]  # an answer deleted from Prefect still fails to validate
        for name in schema["required"]:
            assert "default" not in schema["properties"][name]


def test_forms_refuse_unknown_fields_and_naive_datetimes() -> None:
    raw = sample_answer(Checkpoint.TICKET, attempt=1, scenario=Scenario(), today=TODAY)
    with pytest.raises(ValidationError, match=r"seat\s+Extra inputs are not permitted"):
        TicketAnswer.model_validate({**raw, "seat": "12A"})
    with pytest.raises(ValidationError, match=r"departure_at\s+Input should have timezone info"):
        TicketAnswer.model_validate({**raw, "departure_at": "2026-12-06T09:40:00"})
    with pytest.raises(ValidationError, match=r"arrival_airport\s+String should match pattern"):
        TicketAnswer.model_validate({**raw, "arrival_airport": "otp"})


def test_a_ticket_must_land_after_it_leaves_and_not_before_consent() -> None:
    ticket = answer(Checkpoint.TICKET, arrival_at="2026-12-06T08:00:00+00:00")
    assert fields(problems_with(ticket, HISTORY)) == ["arrival_at"]
    early = answer(
        Checkpoint.TICKET,
        departure_at="2026-11-01T09:00:00+00:00",
        arrival_at="2026-11-01T12:00:00+00:00",
    )
    assert fields(problems_with(early, HISTORY)) == ["departure_at"]


def test_a_departure_after_the_document_expires_is_refused() -> None:
    history = History(**{**HISTORY.__dict__, "document_valid_until": dt.date(2026, 12, 1)})
    assert fields(problems_with(answer(Checkpoint.TICKET), history)) == ["departure_at"]


def test_an_escort_is_required_for_a_minor_or_an_escort_need() -> None:
    history = History(**{**HISTORY.__dict__, "escort_required": True})
    assert fields(problems_with(answer(Checkpoint.TICKET, escort=False), history)) == ["escort"]
    assert problems_with(answer(Checkpoint.TICKET, escort=True), history) == []


def test_past_dates_are_accepted_only_an_inconsistent_sequence_is_not() -> None:
    # Offices catch up on paperwork: a departure weeks ago is fine if the sequence holds.
    ticket = TicketAnswer.model_validate(
        sample_answer(
            Checkpoint.TICKET, attempt=1, scenario=Scenario(), today=dt.date(2026, 11, 14)
        )
    )
    assert problems_with(ticket, HISTORY) == []


def test_a_departure_long_before_the_booking_and_an_arrival_before_departure_are_refused() -> None:
    ticket = answer(Checkpoint.TICKET)
    history = History(**{**HISTORY.__dict__, "ticket": ticket})
    early = answer(Checkpoint.DEPARTURE, departed_at="2026-12-01T09:00:00+00:00")
    assert fields(problems_with(early, history)) == ["departed_at"]
    departure = answer(Checkpoint.DEPARTURE)
    assert isinstance(departure, DepartureAnswer)
    history = History(**{**history.__dict__, "departure": departure})
    arrival = answer(Checkpoint.ARRIVAL, arrived_at="2026-12-06T08:00:00+00:00")
    assert fields(problems_with(arrival, history)) == ["arrived_at"]


def test_a_grant_recommendation_belongs_to_hungary_and_an_increase_to_its_limits() -> None:
    arrival = answer(Checkpoint.ARRIVAL, recommended_grant_chf=2400)
    assert isinstance(arrival, ArrivalAnswer)
    assert fields(problems_with(arrival, HISTORY)) == ["recommended_grant_chf"]
    hungary = History(
        **{**HISTORY.__dict__, "programme": "HU", "recommended_grant_chf": Decimal(2400)}
    )
    assert problems_with(arrival, hungary) == []
    too_much = answer(Checkpoint.GRANT_APPROVAL, amount_chf=3000)
    too_little = answer(Checkpoint.GRANT_APPROVAL, amount_chf=1500)
    assert isinstance(too_much, GrantApprovalAnswer)
    assert fields(problems_with(too_much, hungary)) == ["amount_chf"]
    assert fields(problems_with(too_little, hungary)) == ["amount_chf"]
    assert problems_with(answer(Checkpoint.GRANT_APPROVAL, amount_chf=2000), hungary) == []
    assert (
        problems_with(answer(Checkpoint.GRANT_APPROVAL, amount_chf=9, approved=False), hungary)
        == []
    )


def test_a_document_that_expired_before_consent_is_refused() -> None:
    document = answer(Checkpoint.TRAVEL_DOCUMENT, valid_until="2026-01-01")
    assert isinstance(document, TravelDocumentAnswer)
    assert fields(problems_with(document, HISTORY)) == ["valid_until"]
