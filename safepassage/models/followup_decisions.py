"""A coordinator's decisions on a case after its follow-ups: the codes they are given with.

A case the last follow-up left open (a raised risk, a person not reached) waits for one: an
extra follow-up (`safepassage followups add REF --months N --reason CODE`), or closing it
(`safepassage close REF --reason CODE [--note TEXT]`). The reasons are codes, never free text,
for the same reason as erasure's (vocabulary.ErasureReason): the permanent event log keeps
them, and free text was found to carry personal details. The note of a closure is sealed
under the case's key, so it goes with the case's erasure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from safepassage.models.consent_record import Purpose, Recipient


class ExtraFollowUpReason(StrEnum):
    """Why a coordinator added a follow-up after the plan's."""

    RISK_RAISED = "risk-raised"
    PERSON_UNREACHABLE = "person-unreachable"
    SERVICES_ONGOING = "services-ongoing"
    MISSION_REQUEST = "mission-request"
    COORDINATOR_REVIEW = "coordinator-review"


class ClosureReason(StrEnum):
    """Why a coordinator closed a case the follow-ups left open."""

    RISK_RESOLVED = "risk-resolved"
    REFERRED_TO_SERVICES = "referred-to-services"
    PERSON_UNREACHABLE = "person-unreachable"
    PERSON_DECLINED = "person-declined"
    PERSON_RELOCATED = "person-relocated"
    DUPLICATE = "duplicate"


#: How far ahead an extra follow-up may be: the plans' own offsets stop at 120 months, but an
#: extra follow-up answers a concern of now.
MAX_EXTRA_MONTHS = 24
EXTRA_REASON_CODES = ", ".join(code.value for code in ExtraFollowUpReason)
CLOSURE_REASON_CODES = ", ".join(code.value for code in ClosureReason)
#: The purpose of a closure's sealed note (one per case: a case closes once).
CLOSURE_NOTE = "closure-note"


def ends_followup_contact(changes: Iterable[Mapping[str, Any]]) -> bool:
    """Return whether a consent change (its `changes`) is a no to follow-up contact."""
    return any(
        c["recipient"] == Recipient.MISSION.value
        and c["purpose"] == Purpose.FOLLOWUP_CONTACT.value
        and c["agreed"] is False
        for c in changes
    )
