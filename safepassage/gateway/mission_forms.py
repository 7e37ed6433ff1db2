"""The mission portal's forms: what each asks, and its fields turned into a checkpoint answer.

The fields and their choices come from the domain's answer models (models/checkpoints.py),
so a choice added there appears here; their words come from the catalogue (strings.py). The
answers are handed over as typed, text and all: the domain's model parses them ("yes" is
true) and names every field at fault, so no rule is checked twice.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

from safepassage.models.checkpoints import (
    ArrivalAnswer,
    Checkpoint,
    FollowUpReportAnswer,
    ReceptionAnswer,
)
from safepassage.models.vocabulary import Need

FormValues = dict[str, list[str]]
#: The hidden field of every form that carries the session's CSRF token.
CSRF_FIELD = "csrf"
#: The arrival time comes from a date-and-time input, which has no time zone, and this one.
OFFSET_FIELD = "arrived_at_offset"


@dataclass(frozen=True)
class MissionForm:
    """One of the mission's forms: its checkpoint, template and the answer's field names."""

    checkpoint: Checkpoint
    template: str
    fields: tuple[str, ...]


def _fields(model: type[Any]) -> tuple[str, ...]:
    return tuple(name for name in model.model_fields if name != "entered_by")


RECEPTION = MissionForm(Checkpoint.RECEPTION, "mission/reception.html", _fields(ReceptionAnswer))
ARRIVAL = MissionForm(Checkpoint.ARRIVAL, "mission/arrival.html", _fields(ArrivalAnswer))
FOLLOWUP = MissionForm(
    Checkpoint.FOLLOWUP_REPORT, "mission/followup.html", _fields(FollowUpReportAnswer)
)


def choices(model: type[Any], name: str) -> tuple[str, ...]:
    """Return the values a Literal field of `model` allows, in the model's order."""
    return tuple(str(value) for value in typing.get_args(model.model_fields[name].annotation))


#: The values of each choice the forms show, as the domain's models declare them.
CHOICE_VALUES = {
    "accommodation": choices(ArrivalAnswer, "accommodation"),
    "wellbeing": choices(FollowUpReportAnswer, "wellbeing"),
    "risk_of_retrafficking": choices(FollowUpReportAnswer, "risk_of_retrafficking"),
    "services_received": tuple(need.value for need in Need),
}


def answer_of(form: MissionForm, values: FormValues) -> dict[str, Any]:
    """Return the form's fields as the checkpoint's answer; a field left empty is left out
    (a required one is then named as missing, an optional one takes its default)."""
    answer: dict[str, Any] = {}
    for name in form.fields:
        if name == "services_received":  # ticked boxes; none ticked is an answer too
            answer[name] = [v for v in values.get(name, []) if v]
            continue
        typed = first(values, name).strip()
        if name == "arrived_at" and typed:
            typed += first(values, OFFSET_FIELD).strip()
        if typed:
            answer[name] = typed
    return answer


def first(values: FormValues, name: str) -> str:
    """Return a field's first value, or "" when the form did not send it."""
    sent = values.get(name)
    return sent[0] if sent else ""


def typed_back(values: FormValues) -> dict[str, Any]:
    """Return what the person typed, to fill the form in again (never the CSRF token)."""
    shown: dict[str, Any] = {
        name: sent[0] for name, sent in values.items() if sent and name != CSRF_FIELD
    }
    shown["services_received"] = values.get("services_received", [])
    return shown
