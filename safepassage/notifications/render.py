"""Render a notification's title and bodies from the Jinja2 templates in `templates/`.

Two levels: *minimal* (reference, programme, event, date, next action: safe for any channel)
and *detailed* (the minimal text plus the personal details the recipient needs to act). Field
values are only ever passed to the templates as data, never compiled as template source, so a
value such as `{{ 7*7 }}` arrives as those characters. Facts are checked against a list of keys
that carry no personal data, because a minimal message goes to channels nobody cleared.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import jinja2

from safepassage.notifications.events import EVENT_SUMMARY, Event

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_VALUE_CHARS = 500


class Level(StrEnum):
    """How much a message says: the minimal level carries no personal data at all."""

    MINIMAL = "minimal"
    DETAILED = "detailed"


#: Facts a caller may add to any message: categories and dates, never about the person.
FACT_LABELS: dict[str, str] = {
    "due_on": "Due on",
    # A follow-up's deadline: its due date plus the plan's report window.
    "report_by": "Report by",
    "follow_up": "Follow-up",
    "stage": "Stage",
    "reason": "Reason",
    "failed_event": "Undelivered event",
    "failed_target": "Undelivered target",
    "tries": "Delivery attempts",
    "note": "Note",
    # What a mission must prepare for the arrival: kinds of help, never why (no health detail).
    "assistance": "Assistance to prepare",
    # The case's page in the mission portal: the gateway's address and the reference only.
    "link": "Link",
    # The reintegration plan and grant: which ask or request, counts and amounts, never what.
    "ask": "Ask",
    "items": "Plan items",
    "uncovered": "Plan items the programme does not cover",
    "cost": "Plan cost",
    "grant": "Grant",
    "request": "Increase request",
    "recommended": "Increase recommended",
    "increase": "Increase approved",
    "grant_total": "Grant approved so far",
}

#: Labels of the personal details a detailed message may carry; other keys are shown as named.
DETAIL_LABELS: dict[str, str] = {
    "name": "Name",
    "given_name": "Given name",
    "family_name": "Family name",
    "date_of_birth": "Date of birth",
    "language": "Language",
    "needs": "Needs",
    "arrival_flight": "Arrival flight",
    "arrival_time": "Arrival time",
    "onward_destination": "Onward destination",
    "escort": "Escort",
    "travel_document": "Travel document",
    "phone": "Phone",
}

PROGRAMME_NAMES: dict[str, str] = {
    "BG": "Bulgaria",
    "CZ": "Czech Republic",
    "RO": "Romania",
    "HU": "Hungary",
    "ADHOC": "ad hoc",
}


@dataclass(frozen=True)
class Rendered:
    """A message's title and bodies; `detailed` is None unless details were given."""

    title: str
    minimal: str
    detailed: str | None


@functools.cache
def _environment() -> jinja2.Environment:
    # Plain-text messages, not HTML: Apprise converts text to HTML for email itself, escaping as
    # it goes, so autoescaping here would only garble values. StrictUndefined turns a missing
    # variable into an error at queue time, inside the caller's transaction, not a blank line.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - plain-text output; values are data, see the docstring
        keep_trailing_newline=False,
        trim_blocks=False,
        # Templates ship with the code: checking their files' times on every render (Jinja's
        # default) costs more than rendering in a stage's transaction.
        auto_reload=False,
    )


def one_line(value: str) -> str:
    """Return `value` as one line: control characters become spaces, length is capped.

    A line break in a value could forge a field ("Next action: ...") or an email header.
    """
    cleaned = "".join(
        " " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch for ch in str(value)
    )
    cleaned = " ".join(cleaned.split())
    return cleaned[:MAX_VALUE_CHARS]


def fact_items(facts: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """Return the facts as (label, value) pairs, refusing any key not known to be impersonal."""
    items = []
    for key, value in (facts or {}).items():
        if key not in FACT_LABELS:
            raise ValueError(
                f"fact {key!r} is not one of {sorted(FACT_LABELS)}: facts go to every channel, so "
                "only those keys are allowed; personal values belong in `details`"
            )
        items.append((FACT_LABELS[key], one_line(value)))
    return items


def detail_items(details: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """Return the personal details as (label, value) pairs, in the caller's order."""
    return [
        (DETAIL_LABELS.get(key, key.replace("_", " ").capitalize()), one_line(value))
        for key, value in (details or {}).items()
        if one_line(value)
    ]


def _check_no_detail_in_facts(facts: list[tuple[str, str]], details: list[tuple[str, str]]) -> None:
    # A personal value copied into a fact would reach uncleared channels: refuse it outright.
    for _, secret in details:
        if len(secret) >= 3 and any(secret.casefold() in v.casefold() for _, v in facts):
            raise ValueError("a fact repeats one of the personal details; remove it from `facts`")


def render(
    *,
    reference: str,
    programme: str,
    event: Event,
    date: str,
    next_action: str,
    message_id: str,
    facts: Mapping[str, str] | None = None,
    details: Mapping[str, str] | None = None,
) -> Rendered:
    """Render the title, the minimal body and (if `details` are given) the detailed body."""
    env = _environment()
    fact_list = fact_items(facts)
    detail_list = detail_items(details)
    _check_no_detail_in_facts(fact_list, detail_list)
    context = {
        "reference": reference,
        "programme": PROGRAMME_NAMES.get(programme, programme),
        "event": event.value,
        "summary": EVENT_SUMMARY[event],
        "date": date,
        "facts": fact_list,
        "next_action": next_action,
        "message_id": message_id,
    }
    title = one_line(env.get_template("title.txt.j2").render(context))
    minimal = env.get_template("minimal.txt.j2").render(context)
    detailed = (
        env.get_template("detailed.txt.j2").render({**context, "details": detail_list})
        if detail_list
        else None
    )
    return Rendered(title=title, minimal=minimal, detailed=detailed)
