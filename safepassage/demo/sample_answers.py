"""Sample checkpoint answers a coordinator would enter, for the demo and the flow tests.

Dates are relative to today so that the answers stay consistent with the example cases'
consent dates whenever the demo runs. Each case can follow a scenario: a missed first flight,
a rejected review, a grant above the standard, a mission that cannot receive the person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.sustainability import load_table


@dataclass(frozen=True)
class Scenario:
    """How the coordinator answers one case's checkpoints."""

    approve_review: bool = True
    approve_risk: bool = True
    #: The person withdraws when the case reaches this checkpoint (the demo shows one).
    withdraw_at: Checkpoint | None = None
    #: Follow-ups whose report raises a risk of re-trafficking (alerting coordinators).
    risk_at_followups: frozenset[int] = frozenset()
    missed_flights: int = 0
    #: The missed flights were journeys moved to a new date on purpose, not no-shows.
    rescheduled: bool = False
    #: A child's case: the best-interests determination, after this many pending asks.
    best_interests: str = "return"
    safeguarding_pending: int = 0
    #: The person's answer at the consent checkpoint (share with the embassy).
    embassy_consent: bool = True
    #: Not yet fit to travel at this many pre-departure asks; then fit (with a medical escort?).
    not_fit: int = 0
    medical_escort: bool = False
    #: The mission cannot receive the person at this many asks before it can.
    receptions_declined: int = 0
    #: After a declined reception the coordinator stops the return (else: asks again).
    stop_after_declined_reception: bool = False
    #: Hungary: the grant the provider recommends at arrival (an increase request once the
    #: plan is agreed), and each increase a coordinator approves (at most as recommended).
    recommended_grant_chf: int | None = None
    approved_increase_chf: int = 500
    #: The plan holds a need of this kind besides medical care (which every programme covers):
    #: one the programme does not cover sends the plan to the coordinators' review.
    extra_need: str | None = None
    #: The coordinators ask the mission to adapt a plan with an uncovered need this many times.
    plans_adapted: int = 0
    escort: bool = True
    entered_by: str = "Demo Coordinator"
    extra: dict[str, Any] = field(default_factory=dict)


def sample_indicators(attempt: int, *, risk: bool = False) -> dict[str, int]:
    """Return a follow-up report's indicator answers: better at each follow-up, low at a risk."""
    table = load_table()
    if risk:
        return {i.key: i.scale.min + 1 for i in table.indicators}
    return {
        i.key: min(i.scale.max, i.scale.min + attempt + n % 2)
        for n, i in enumerate(table.indicators)
    }


#: Checkpoints after the person boarded: their dates follow the flight they took.
_AFTER_ARRIVAL = frozenset({Checkpoint.ARRIVAL, Checkpoint.REINTEGRATION_PLAN})


def _plan_items(arrival: dt.date, scenario: Scenario, *, adapted: bool) -> list[dict[str, Any]]:
    """Return a plan's items: medical care, and the scenario's other need, dropped from the
    plan the mission adapts after the coordinators asked it to."""
    starts = (arrival + dt.timedelta(days=7)).isoformat()
    items = [
        {"need": "medical", "service": "Health check and follow-up care",
         "provider": "Partner clinic (example)", "starts_on": starts, "cost_chf": "250"},
    ]  # fmt: skip
    if scenario.extra_need and not (adapted and scenario.plans_adapted):  # adapted: dropped
        items.append(
            {"need": scenario.extra_need, "service": "Specialist support (example)",
             "provider": "Partner organisation (example)", "starts_on": starts,
             "cost_chf": "400"}
        )  # fmt: skip
    return items


def _at(day: dt.date, hour: int, minute: int = 0, offset_hours: int = 0) -> str:
    zone = dt.timezone(dt.timedelta(hours=offset_hours))
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).isoformat()


def sample_answer(
    checkpoint: Checkpoint, *, attempt: int, scenario: Scenario, today: dt.date
) -> dict[str, Any]:
    """Return the answer a coordinator would enter at `checkpoint` for booking `attempt`."""
    # The arrival follows the booking the person boarded: the one after the missed flights.
    booking = scenario.missed_flights + 1 if checkpoint in _AFTER_ARRIVAL else attempt
    # Two weeks on, then a week per booking: after the example cases' recovery periods.
    flight_day = today + dt.timedelta(days=7 + 7 * booking)
    missed = attempt <= scenario.missed_flights
    fit = "medical_escort" if scenario.medical_escort else "yes"
    who = {"entered_by": scenario.entered_by}
    answers: dict[Checkpoint, dict[str, Any]] = {
        Checkpoint.CHILD_SAFEGUARDING: {
            "guardian_type": "ictg",
            "guardian_consent": True,
            "consent_date": today.isoformat(),
            "best_interests": "pending"
            if attempt <= scenario.safeguarding_pending
            else scenario.best_interests,
            "bid_reference": None if attempt <= scenario.safeguarding_pending else "BID-EX-0042",
            "receiving_authority": "Child protection service of the home region (example)",
        },
        Checkpoint.CONSENT: {
            "share_with_embassy": scenario.embassy_consent,
            "recorded_on": today.isoformat(),
            "language": "en",
            "interpreter_used": True,
        },
        Checkpoint.PRE_DEPARTURE: {
            "counselled_on": today.isoformat(),
            "interpreter_language": "en",
            "fit_to_travel": "not_yet" if attempt <= scenario.not_fit else fit,
            "airport_assistance": True,
            "transit_assistance": False,
            "ask_again_on": (today + dt.timedelta(days=7)).isoformat()
            if attempt <= scenario.not_fit
            else None,
            "notes": "Counselled on the return and the arrival arrangements.",
        },
        Checkpoint.IDENTIFICATION_REVIEW: {
            "approved": scenario.approve_review,
            "reason": "Referral and evidence reviewed with the receiving mission."
            if scenario.approve_review
            else "Outside this programme's mandate; referred to the appropriate programme.",
        },
        Checkpoint.TRAVEL_DOCUMENT: {
            "document_type": "emergency_travel_document",
            "document_number": f"ETD {4200000 + attempt}",
            "valid_until": (today + dt.timedelta(days=180)).isoformat(),
        },
        Checkpoint.RECEPTION: {
            "accepted": attempt > scenario.receptions_declined,
            "notes": "Shelter place and meeting at the airport arranged."
            if attempt > scenario.receptions_declined
            else "No shelter place free this month.",
        },
        Checkpoint.RECEPTION_DECISION: {
            "decision": "stop" if scenario.stop_after_declined_reception else "retry",
            "reason": "No other reception can be arranged; support continues in the UK."
            if scenario.stop_after_declined_reception
            else "The mission expects a shelter place soon: ask again.",
        },
        Checkpoint.TICKET: {
            "booking_reference": f"SP{attempt}X7Q",
            "carrier": "Demo Air",
            "departure_at": _at(flight_day, 9, 40),
            "arrival_at": _at(flight_day, 14, 20, offset_hours=2),
            "arrival_airport": "OTP",
            "escort": scenario.escort,
        },
        Checkpoint.DEPARTURE: {
            "boarded": not missed,
            "departed_at": None if missed else _at(flight_day, 9, 55),
            "reason": None if not missed else "rescheduled" if scenario.rescheduled else "no_show",
            "notes": None
            if not missed
            else "Moved to a later flight."
            if scenario.rescheduled
            else "Did not arrive at the gate.",
        },
        Checkpoint.ARRIVAL: {
            "arrived_at": _at(flight_day, 14, 35, offset_hours=2),
            "onward_transport": True,
            "accommodation": "shelter",
            "recommended_grant_chf": scenario.recommended_grant_chf,
        },
        Checkpoint.FOLLOWUP_REPORT: {
            "contacted": True,
            "wellbeing": "struggling" if attempt in scenario.risk_at_followups else "stable",
            "services_received": ["counselling", "housing"] if attempt == 1 else ["counselling"],
            "risk_of_retrafficking": "raised" if attempt in scenario.risk_at_followups else "none",
            "next_steps": f"Mission visits again before follow-up {attempt + 1}."
            if attempt in scenario.risk_at_followups
            else "Continue the reintegration plan as agreed.",
            "indicators": sample_indicators(attempt, risk=attempt in scenario.risk_at_followups),
        },
        Checkpoint.RISK_REVIEW: {
            "approved": scenario.approve_risk,
            "reason": "Risk assessed with the receiving mission and the police liaison."
            if scenario.approve_risk
            else "Travel is not safe now: the case is closed and support continues in the UK.",
        },
        Checkpoint.REINTEGRATION_PLAN: {
            "items": _plan_items(flight_day, scenario, adapted=attempt > scenario.plans_adapted),
            "notes": "Plan agreed with the person at the needs analysis.",
        },
        Checkpoint.PLAN_REVIEW: {
            "decision": "adapt" if attempt <= scenario.plans_adapted else "approve",
            "reason": "Ask the mission to find a covered service first."
            if attempt <= scenario.plans_adapted
            else "The uncovered service is funded by a partner programme.",
        },
        Checkpoint.GRANT_APPROVAL: {
            "approved": True,
            "amount_chf": scenario.approved_increase_chf,
            "reason": "As the provider recommends, for tools for a trade.",
        },
    }
    answer = {**who, **answers[checkpoint]}
    return {name: value for name, value in answer.items() if value is not None}
