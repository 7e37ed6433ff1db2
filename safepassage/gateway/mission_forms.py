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
    PlanItem,
    ReceptionAnswer,
    ReintegrationPlanAnswer,
)
from safepassage.models.grant import Delivery, IncreaseRequest
from safepassage.models.sustainability import load_table
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


PLAN = MissionForm(
    Checkpoint.REINTEGRATION_PLAN, "mission/plan.html", _fields(ReintegrationPlanAnswer)
)
#: The plan form's lines: enough for a plan, fewer than the most a plan may hold (a longer
#: plan goes through the API, or in two parts of the notes). Empty lines are ignored.
PLAN_LINES = 8
#: An item's fields, in the order a line of the plan form shows them.
PLAN_ITEM_FIELDS = tuple(PlanItem.model_fields)


def plan_field(line: int, name: str) -> str:
    """Return the form field's name of `name` on plan line `line` (from 0)."""
    return f"items.{line}.{name}"


def _plan_items(values: FormValues) -> list[dict[str, str]]:
    """Return the plan form's lines that hold anything, as items (empty lines dropped)."""
    lines = []
    for line in range(PLAN_LINES):
        typed = {name: first(values, plan_field(line, name)).strip() for name in PLAN_ITEM_FIELDS}
        if any(typed.values()):
            lines.append({name: value for name, value in typed.items() if value})
    return lines


@dataclass(frozen=True)
class GrantForm:
    """A form of the grant's (not a checkpoint: the mission acts when it needs to)."""

    path: str
    template: str
    fields: tuple[str, ...]


GRANT_INCREASE = GrantForm(
    "grant-increase", "mission/grant_increase.html", _fields(IncreaseRequest)
)
GRANT_DELIVERY = GrantForm("grant-delivery", "mission/grant_delivery.html", _fields(Delivery))
GRANT_FORMS = (GRANT_INCREASE, GRANT_DELIVERY)


def grant_answer_of(form: GrantForm, values: FormValues) -> dict[str, Any]:
    """Return a grant form's fields as typed, a field left empty left out (then named)."""
    typed = {name: first(values, name).strip() for name in form.fields}
    return {name: value for name, value in typed.items() if value}


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


@dataclass(frozen=True)
class IndicatorField:
    """One sustainability indicator as the follow-up form asks it: a radio button per point."""

    name: str
    question: str
    points: tuple[tuple[str, str], ...]


#: The follow-up form's indicators, by dimension (title, fields), from the table in force.
INDICATOR_GROUPS: tuple[tuple[str, tuple[IndicatorField, ...]], ...] = tuple(
    (
        dimension.title,
        tuple(
            IndicatorField(
                f"indicators.{i.key}",
                i.question,
                tuple(
                    (str(point), label)
                    for point, label in zip(
                        range(i.scale.min, i.scale.max + 1), i.scale.labels, strict=True
                    )
                ),
            )
            for i in dimension.indicators
        ),
    )
    for dimension in load_table().dimensions
)
#: Each indicator's question by key, to name one at fault.
INDICATOR_QUESTIONS = {i.key: i.question for i in load_table().indicators}


def _indicators(values: FormValues) -> dict[str, str] | None:
    """Return the indicators answered (None when none was: then none is sent)."""
    typed = {key: first(values, f"indicators.{key}").strip() for key in INDICATOR_QUESTIONS}
    answered = {key: value for key, value in typed.items() if value}
    return answered or None


def answer_of(form: MissionForm, values: FormValues) -> dict[str, Any]:
    """Return the form's fields as the checkpoint's answer; a field left empty is left out
    (a required one is then named as missing, an optional one takes its default)."""
    answer: dict[str, Any] = {}
    for name in form.fields:
        if name == "services_received":  # ticked boxes; none ticked is an answer too
            answer[name] = [v for v in values.get(name, []) if v]
            continue
        if name == "items":  # the plan's lines
            answer[name] = _plan_items(values)
            continue
        if name == "indicators":  # a radio button per indicator; those left out are named
            if (indicators := _indicators(values)) is not None:
                answer[name] = indicators
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
