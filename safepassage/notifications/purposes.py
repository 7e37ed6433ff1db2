"""The consent each detailed notification needs: per event and audience, the purpose it serves.

A detailed message carries the person's details to a recipient; the person agreed (or not) to
share with each recipient for each purpose (models/consent_record.py). This table says which
purpose an event's details serve for each audience, so that a message goes detailed only with
the person's consent for that recipient *and* that purpose. An event or audience not in the
table never carries details: adding an event adds no disclosure until it is listed here.
Coordinators are never listed: they open the case in SafePassage, where every reveal is logged.

Keyed by the events' names (their values, part of the interface), so that the table can name an
event before `events.Event` has it; the tests check every name is a real event sent to that
audience.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from safepassage.models.consent_record import Purpose, Recipient
from safepassage.notifications.events import Audience, Event

#: The recipient of the consent record each audience is.
RECIPIENT_OF: Mapping[Audience, Recipient] = {
    Audience.MISSION: Recipient.MISSION,
    Audience.EMBASSY: Recipient.EMBASSY,
}

_M, _B = Audience.MISSION, Audience.EMBASSY
_RECEPTION, _DOCUMENTS = Purpose.RECEPTION, Purpose.TRAVEL_DOCUMENTS
_REINTEGRATION, _FOLLOWUP = Purpose.REINTEGRATION, Purpose.FOLLOWUP_CONTACT

#: The purpose an event's details serve, per audience that may get them.
EVENT_PURPOSES: Mapping[str, Mapping[Audience, Purpose]] = {
    # Preparing the reception and the journey: who is coming, their needs, when and how.
    "case-accepted": {_M: _RECEPTION},
    "reception-requested": {_M: _RECEPTION},
    "ticket-booked": {_M: _RECEPTION},
    "departed": {_M: _RECEPTION},
    "travel-rescheduled": {_M: _RECEPTION},
    "child-protection-handover": {_M: _RECEPTION},
    "pre-departure-assistance": {_M: _RECEPTION},
    # The embassy issues the travel document; the mission learns who it is for.
    "travel-document-requested": {_B: _DOCUMENTS, _M: _RECEPTION},
    "embassy-liaison": {_B: _DOCUMENTS},
    # After arrival: the handover, the plan and the grant serve reintegration.
    "arrival-confirmed": {_M: _REINTEGRATION},
    "reintegration-plan": {_M: _REINTEGRATION},
    "grant-approved": {_M: _REINTEGRATION},
    "plan-agreed": {_M: _REINTEGRATION},
    "grant-planned": {_M: _REINTEGRATION},
    # Checking on the person months later.
    "followup-notice": {_M: _FOLLOWUP},
    "followup-due": {_M: _FOLLOWUP},
    "followup-reminder": {_M: _FOLLOWUP},
    "followup-overdue": {_M: _FOLLOWUP},
    "followup-added": {_M: _FOLLOWUP},
}


def consent_needed(event: Event | str, audience: Audience) -> tuple[Recipient, Purpose] | None:
    """Return the consent `event`'s details need for `audience`; None: never any details."""
    recipient = RECIPIENT_OF.get(audience)
    purpose = EVENT_PURPOSES.get(str(event), {}).get(audience)
    if recipient is None or purpose is None:
        return None
    return recipient, purpose


def consents_needed(
    event: Event | str, audiences: Iterable[Audience]
) -> list[tuple[Recipient, Purpose]] | None:
    """Return every consent a message of `event` to a target serving `audiences` needs to carry
    details, in order; None if one of the audiences may never get them (nor, then, the target).
    """
    needed = []
    for audience in audiences:
        need = consent_needed(event, audience)
        if need is None:
            return None
        needed.append(need)
    return needed or None
