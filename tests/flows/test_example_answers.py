"""The sample answers in examples/answers/ fit their forms and the example cases' history.

A coordinator tries `safepassage resume REF --input examples/answers/ticket.json` on an example
case: it must be accepted, not refused for a date before the recovery period's end. No served
Prefect here: the forms and checks are plain models.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import (
    FORMS,
    Checkpoint,
    DepartureAnswer,
    History,
    TicketAnswer,
    TravelDocumentAnswer,
    problems_with,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ANSWERS = EXAMPLES / "answers"
#: The day the sample answers were written: their dates are fixed, and were not in the future.
WRITTEN_ON = dt.date(2026, 12, 4)
#: Every checkpoint of the journey before the arrival has a sample answer to copy.
EXPECTED = {
    "identification-review",
    "child-safeguarding",
    "consent",
    "travel-document",
    "pre-departure",
    "reception",
    "reception-decision",
    "ticket",
    "departure",
    "arrival",
    "grant-approval",
    "reintegration-plan",
    "plan-review",
}


def _checkpoint(path: Path) -> Checkpoint:
    """Return the checkpoint a sample answer is for: the longest name its file name starts with."""
    names = [c for c in Checkpoint if path.stem == c.value or path.stem.startswith(f"{c.value}-")]
    assert names, f"{path.name} names no checkpoint"
    return max(names, key=lambda c: len(c.value))


def _read(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ANSWERS / name).read_text())
    return loaded


def _example_cases() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(EXAMPLES.glob("*.json"))]


def test_there_is_a_sample_answer_for_every_checkpoint_before_the_arrival() -> None:
    assert {_checkpoint(path).value for path in ANSWERS.glob("*.json")} >= EXPECTED


@pytest.mark.parametrize("path", sorted(ANSWERS.glob("*.json")), ids=lambda p: p.name)
def test_each_sample_answer_fits_its_form_and_every_example_cases_history(path: Path) -> None:
    checkpoint = _checkpoint(path)
    answer = FORMS[checkpoint].model_validate(json.loads(path.read_text()))
    ticket = TicketAnswer.model_validate(_read("ticket.json"))
    document = TravelDocumentAnswer.model_validate(_read("travel-document.json"))
    departed = DepartureAnswer.model_validate(_read("departure.json"))
    for case in _example_cases():
        history = History(
            consent_recorded_on=dt.date.fromisoformat(case["consent"]["recorded_on"]),
            escort_required=True,
            programme="HU" if "grant" in path.stem else case["programme"],
            recommended_grant_chf=Decimal(2400),  # arrival-hungary-grant.json's
            document_valid_until=document.valid_until,
            ticket=ticket,
            departure=departed,
            earliest_departure=dt.date.fromisoformat(case["earliest_departure"]),
            today=WRITTEN_ON,
        )
        assert problems_with(answer, history) == [], (path.name, case["programme"])


def test_the_sample_ticket_departs_on_or_after_every_example_cases_earliest_departure() -> None:
    departs = TicketAnswer.model_validate(_read("ticket.json")).departure_at.date()
    for case in _example_cases():
        assert departs >= dt.date.fromisoformat(case["earliest_departure"])
    # So do the demo's own answers, which count from today.
    demo = sample_answer(Checkpoint.TICKET, attempt=1, scenario=Scenario(), today=dt.date.today())
    for case in _example_cases():
        assert dt.date.fromisoformat(demo["departure_at"][:10]) >= dt.date.fromisoformat(
            case["earliest_departure"]
        )


def test_a_rescheduled_departure_gives_its_reason_and_a_boarded_one_none() -> None:
    rescheduled = DepartureAnswer.model_validate(_read("departure-rescheduled.json"))
    boarded = DepartureAnswer.model_validate(_read("departure.json"))
    assert (rescheduled.boarded, rescheduled.reason) == (False, "rescheduled")
    assert rescheduled.rescheduled_to is not None
    assert (boarded.boarded, boarded.reason, boarded.departed_at is not None) == (True, None, True)
