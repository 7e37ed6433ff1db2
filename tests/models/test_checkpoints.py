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
from safepassage.models.errors import FieldProblem

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
    # An increase of CHF 900 was recommended; the ceiling leaves CHF 700.
    hungary = History(
        **{**HISTORY.__dict__, "programme": "HU", "recommended_grant_chf": Decimal(900),
           "grant_headroom_chf": Decimal(700)}
    )  # fmt: skip
    assert problems_with(arrival, hungary) == []
    above_recommendation = answer(Checkpoint.GRANT_APPROVAL, amount_chf=950)
    above_ceiling = answer(Checkpoint.GRANT_APPROVAL, amount_chf=800)
    nothing = answer(Checkpoint.GRANT_APPROVAL, amount_chf=0)
    assert isinstance(above_recommendation, GrantApprovalAnswer)
    assert said(problems_with(above_recommendation, hungary), 950) == [
        "amount_chf: must not exceed the provider's recommendation",
        "amount_chf: would take the grant above the programme's ceiling",
    ]
    assert said(problems_with(above_ceiling, hungary), 800) == [
        "amount_chf: would take the grant above the programme's ceiling"
    ]
    assert fields(problems_with(nothing, hungary)) == ["amount_chf"]
    assert problems_with(answer(Checkpoint.GRANT_APPROVAL, amount_chf=700), hungary) == []
    assert (
        problems_with(answer(Checkpoint.GRANT_APPROVAL, amount_chf=9, approved=False), hungary)
        == []
    )


def test_a_document_that_expired_before_consent_is_refused() -> None:
    document = answer(Checkpoint.TRAVEL_DOCUMENT, valid_until="2026-01-01")
    assert isinstance(document, TravelDocumentAnswer)
    assert fields(problems_with(document, HISTORY)) == ["valid_until"]


# --- the checkpoints before departure (issue 16) -------------------------------------------

#: The history of a case judged on TODAY, its recovery period ending a week later.
JUDGED = History(
    **{**HISTORY.__dict__, "today": TODAY, "earliest_departure": TODAY + dt.timedelta(days=7)}
)


def said(found: list[FieldProblem], *values: object) -> list[str]:
    """Return the problems as shown, after checking that none repeats a submitted value."""
    shown = [str(p) for p in found]
    for text in shown:
        for value in values:
            assert str(value) not in text, f"{text!r} repeats {value!r}"
    return shown


def test_a_child_s_consent_needs_its_date_which_must_not_lie_ahead() -> None:
    no_date = answer(Checkpoint.CHILD_SAFEGUARDING, consent_date=None)
    assert said(problems_with(no_date, JUDGED)) == [
        "consent_date: is required when consent was given"
    ]
    ahead = TODAY + dt.timedelta(days=1)
    future = answer(Checkpoint.CHILD_SAFEGUARDING, consent_date=ahead.isoformat())
    assert said(problems_with(future, JUDGED), ahead.isoformat()) == [
        "consent_date: must not be in the future"
    ]
    # No consent (yet): no date is needed, and the answer is judged by the stage, not refused.
    refused = answer(Checkpoint.CHILD_SAFEGUARDING, guardian_consent=False, consent_date=None)
    assert problems_with(refused, JUDGED) == []


def test_a_determination_needs_its_reference_and_a_return_names_the_receiving_authority() -> None:
    made = answer(Checkpoint.CHILD_SAFEGUARDING, bid_reference=None)
    assert fields(problems_with(made, JUDGED)) == ["bid_reference"]
    for decided in ("return", "not_in_best_interests"):
        unreferenced = answer(
            Checkpoint.CHILD_SAFEGUARDING, best_interests=decided, bid_reference=None
        )
        assert "bid_reference" in fields(problems_with(unreferenced, JUDGED))
    nobody = answer(Checkpoint.CHILD_SAFEGUARDING, receiving_authority=None)
    assert said(problems_with(nobody, JUDGED)) == [
        "receiving_authority: is required for a return: name who receives the child at the "
        "destination"
    ]
    # Pending needs neither; a return ended by the determination needs no receiving authority.
    pending = answer(
        Checkpoint.CHILD_SAFEGUARDING,
        best_interests="pending",
        bid_reference=None,
        receiving_authority=None,
    )
    ended = answer(
        Checkpoint.CHILD_SAFEGUARDING,
        best_interests="not_in_best_interests",
        receiving_authority=None,
    )
    assert problems_with(pending, JUDGED) == []
    assert problems_with(ended, JUDGED) == []


def test_a_guardian_type_outside_the_list_is_refused_by_the_form() -> None:
    raw = sample_answer(Checkpoint.CHILD_SAFEGUARDING, attempt=1, scenario=Scenario(), today=TODAY)
    with pytest.raises(ValidationError, match=r"guardian_type\s+Input should be 'parent'"):
        FORMS[Checkpoint.CHILD_SAFEGUARDING].model_validate({**raw, "guardian_type": "aunt"})


def test_consent_to_the_embassy_must_not_be_recorded_ahead_of_today() -> None:
    ahead = TODAY + dt.timedelta(days=3)
    future = answer(Checkpoint.CONSENT, recorded_on=ahead.isoformat())
    assert said(problems_with(future, JUDGED), ahead.isoformat()) == [
        "recorded_on: must not be in the future"
    ]
    assert problems_with(answer(Checkpoint.CONSENT, share_with_embassy=False), JUDGED) == []


def test_pre_departure_counselling_cannot_lie_ahead_and_not_yet_names_a_later_day() -> None:
    ahead = TODAY + dt.timedelta(days=2)
    counselled = answer(Checkpoint.PRE_DEPARTURE, counselled_on=ahead.isoformat())
    assert said(problems_with(counselled, JUDGED), ahead.isoformat()) == [
        "counselled_on: must not be in the future"
    ]
    undated = answer(Checkpoint.PRE_DEPARTURE, fit_to_travel="not_yet")
    assert said(problems_with(undated, JUDGED)) == [
        "ask_again_on: is required when not yet fit to travel"
    ]
    for day in (TODAY, TODAY - dt.timedelta(days=1)):
        today = answer(
            Checkpoint.PRE_DEPARTURE, fit_to_travel="not_yet", ask_again_on=day.isoformat()
        )
        assert said(problems_with(today, JUDGED), day.isoformat()) == [
            "ask_again_on: must be after today"
        ]
    later = (TODAY + dt.timedelta(days=1)).isoformat()
    assert (
        problems_with(
            answer(Checkpoint.PRE_DEPARTURE, fit_to_travel="not_yet", ask_again_on=later), JUDGED
        )
        == []
    )
    for fit in ("yes", "medical_escort"):
        fit_now = answer(Checkpoint.PRE_DEPARTURE, fit_to_travel=fit, ask_again_on=later)
        assert said(problems_with(fit_now, JUDGED), later) == [
            "ask_again_on: applies only when not yet fit to travel"
        ]


def test_an_interpreter_language_must_be_an_iso_639_1_code() -> None:
    raw = sample_answer(Checkpoint.PRE_DEPARTURE, attempt=1, scenario=Scenario(), today=TODAY)
    assert answer(Checkpoint.PRE_DEPARTURE, interpreter_language=None)
    with pytest.raises(ValidationError, match="interpreter_language"):
        FORMS[Checkpoint.PRE_DEPARTURE].model_validate({**raw, "interpreter_language": "xx"})


def test_a_ticket_before_the_end_of_the_recovery_period_is_refused() -> None:
    recovery = History(
        **{**JUDGED.__dict__, "earliest_departure": dt.date(2026, 12, 20)}
    )  # the sample flight leaves on 13 December
    ticket = answer(Checkpoint.TICKET)
    assert isinstance(ticket, TicketAnswer)
    assert ticket.departure_at.date() == dt.date(2026, 12, 13)
    assert said(problems_with(ticket, recovery), "2026-12-13", "2026-12-20") == [
        "departure_at: is before the person's earliest departure (the end of the recovery "
        "period): book a later date"
    ]
    on_the_day = History(**{**JUDGED.__dict__, "earliest_departure": dt.date(2026, 12, 13)})
    assert problems_with(ticket, on_the_day) == []
    unknown = History(**{**JUDGED.__dict__, "earliest_departure": None})
    assert problems_with(ticket, unknown) == []


def test_not_boarded_says_why_and_only_a_rescheduled_journey_has_a_new_date() -> None:
    why_not = answer(Checkpoint.DEPARTURE, boarded=False, departed_at=None)
    assert said(problems_with(why_not, JUDGED)) == [
        "reason: is required when the person did not board"
    ]
    for reason in ("rescheduled", "no_show", "denied_boarding", "medical", "other"):
        missed = answer(Checkpoint.DEPARTURE, boarded=False, departed_at=None, reason=reason)
        assert problems_with(missed, JUDGED) == []
    later = (TODAY + dt.timedelta(days=10)).isoformat()
    moved = answer(
        Checkpoint.DEPARTURE, boarded=False, departed_at=None, reason="rescheduled",
        rescheduled_to=later,
    )  # fmt: skip
    assert problems_with(moved, JUDGED) == []
    no_show = answer(
        Checkpoint.DEPARTURE, boarded=False, departed_at=None, reason="no_show",
        rescheduled_to=later,
    )  # fmt: skip
    assert said(problems_with(no_show, JUDGED), later) == [
        "rescheduled_to: applies to a rescheduled journey only"
    ]
    earlier = (TODAY - dt.timedelta(days=1)).isoformat()
    back = answer(
        Checkpoint.DEPARTURE, boarded=False, departed_at=None, reason="rescheduled",
        rescheduled_to=earlier,
    )  # fmt: skip
    assert said(problems_with(back, JUDGED), earlier) == ["rescheduled_to: must not be in the past"]
    # Not boarded, yet a departure time: one of the two is a mistake, and nothing is guessed.
    left = answer(Checkpoint.DEPARTURE, boarded=False, reason="no_show")
    assert said(problems_with(left, JUDGED)) == [
        "departed_at: applies only when the person boarded"
    ]


def test_boarded_needs_the_departure_time_and_no_reason_or_new_date() -> None:
    untimed = answer(Checkpoint.DEPARTURE, departed_at=None)
    assert said(problems_with(untimed, JUDGED)) == [
        "departed_at: is required when the person boarded"
    ]
    with_reason = answer(Checkpoint.DEPARTURE, reason="medical")
    assert said(problems_with(with_reason, JUDGED), "medical") == [
        "reason: applies only when the person did not board"
    ]
    later = (TODAY + dt.timedelta(days=10)).isoformat()
    with_date = answer(Checkpoint.DEPARTURE, rescheduled_to=later)
    assert said(problems_with(with_date, JUDGED), later) == [
        "rescheduled_to: applies only when the person did not board"
    ]
    assert problems_with(answer(Checkpoint.DEPARTURE), JUDGED) == []


def test_an_arrival_after_a_journey_not_boarded_is_judged_without_a_departure_time() -> None:
    missed = answer(Checkpoint.DEPARTURE, boarded=False, departed_at=None, reason="no_show")
    assert isinstance(missed, DepartureAnswer)
    history = History(**{**JUDGED.__dict__, "departure": missed})
    assert problems_with(answer(Checkpoint.ARRIVAL), history) == []
