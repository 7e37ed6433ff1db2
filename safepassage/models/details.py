"""The personal details a cleared, consenting recipient may get with a notification.

Built inside a task from the decrypted case; they reach the outbox only as `details`, which the
outbox seals under the case's key and sends only to targets tagged `secure` with consent.
"""

from __future__ import annotations

from safepassage.models.checkpoints import (
    ArrivalAnswer,
    ChildSafeguardingAnswer,
    PreDepartureAnswer,
    TicketAnswer,
)
from safepassage.models.intake import Intake


def person(intake: Intake) -> dict[str, str]:
    """Return who the recipient is to meet or document."""
    who = intake.beneficiary
    return {
        "name": f"{who.given_name} {who.family_name}",
        "date of birth": who.date_of_birth.isoformat(),
        "nationality": who.nationality,
        "language": who.preferred_language,
    }


def reception(intake: Intake) -> dict[str, str]:
    """Return what a receiving mission needs to prepare reception."""
    return {
        **person(intake),
        "needs": ", ".join(n.value for n in intake.needs) or "none recorded",
        "onward destination": intake.beneficiary.home_locality,
    }


def journey(intake: Intake, ticket: TicketAnswer) -> dict[str, str]:
    """Return the flight and times the mission meets the person by."""
    return {
        **reception(intake),
        "carrier": ticket.carrier,
        "booking": ticket.booking_reference,
        "departure": ticket.departure_at.isoformat(),
        "arrival": ticket.arrival_at.isoformat(),
        "arrival airport": ticket.arrival_airport,
        "escort": "yes" if ticket.escort else "no",
    }


def handover(intake: Intake, arrival: ArrivalAnswer) -> dict[str, str]:
    """Return how the arrival and handover went."""
    return {
        **person(intake),
        "arrived": arrival.arrived_at.isoformat(),
        "accommodation": arrival.accommodation,
        "onward transport": "arranged" if arrival.onward_transport else "not arranged",
    }


GUARDIANS = {
    "parent": "a parent",
    "legal_guardian": "a legal guardian",
    "ictg": "an Independent Child Trafficking Guardian",
    "local_authority": "the local authority",
}


def child_protection(intake: Intake, answer: ChildSafeguardingAnswer) -> dict[str, str]:
    """Return whom the mission hands the child over to, and who holds responsibility."""
    return {
        **person(intake),
        "child-protection authority": answer.receiving_authority or "not recorded",
        "responsibility held by": GUARDIANS[answer.guardian_type],
    }


def pre_departure(intake: Intake, answer: PreDepartureAnswer) -> dict[str, str]:
    """Return what the mission prepares for the arrival, including why an escort travels."""
    return {
        **person(intake),
        "fit to travel": "with a medical escort" if answer.fit_to_travel == "medical_escort"
        else "yes",
        "airport assistance": "yes" if answer.airport_assistance else "no",
        "transit assistance": "yes" if answer.transit_assistance else "no",
    }  # fmt: skip
