"""The person's data rights and the office's proof: consent, the audit trail, the log's chain.

Erasure, which also talks to Prefect, is in `services.erasure`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from safepassage.models.clock import utcnow
from safepassage.models.consent_record import ConsentSource, Purpose, Recipient
from safepassage.models.followup_decisions import ends_followup_contact
from safepassage.models.store import consent as consent_store
from safepassage.models.store.audit import AuditEntry, case_audit
from safepassage.models.store.cases import get_case
from safepassage.models.store.consent import ConsentChange
from safepassage.models.store.db import Store, opened_store, store_or_opened
from safepassage.models.store.orm import Case
from safepassage.models.store.verification import StoreCheck, verify_store

__all__ = [
    "ConsentChange",
    "audit_trail",
    "consent_of",
    "record_consent",
    "record_consent_for",
    "verify_event_log",
]


def consent_of(reference: str, *, store: Store | None = None) -> list[dict[str, Any]]:
    """Return the case's consent record: one row per recipient and purpose asked about.

    Each row: recipient, purpose, agreed, recorded_on, language, interpreter_used, recorded_by,
    source. A pair not listed was never agreed to. Nothing personal: no disclosure is logged.
    """
    with store_or_opened(store) as opened, opened.transaction() as session:
        return consent_store.consent_record(get_case(session, reference))


def record_consent(
    reference: str,
    *,
    share_with_mission: bool | None,
    share_with_embassy: bool | None,
    actor: str,
    language: str | None = None,
    interpreter_used: bool = False,
) -> ConsentChange:
    """Record the person's consent to share as given now (None leaves that recipient as it is).

    The shorthands: the mission's answer applies to all its purposes (reception, reintegration,
    follow-up contact), the embassy's to travel documents. A withdrawal applies at once: the
    case's queued detailed messages that relied on it go minimal.
    """
    now = utcnow()
    with opened_store() as store, store.transaction() as session:
        case = get_case(session, reference, lock=True)
        change = consent_store.change_consent(
            session,
            case,
            share_with_mission=share_with_mission,
            share_with_embassy=share_with_embassy,
            actor=actor,
            now=now,
            language=language,
            interpreter_used=interpreter_used,
            source=ConsentSource.CLI,
        )
        declined = _followups_declined(session, store, case, change, actor=actor, now=now)
    _after_decline(reference, declined)
    return change


def record_consent_for(
    reference: str,
    *,
    recipient: Recipient,
    purpose: Purpose,
    agreed: bool,
    language: str,
    interpreter_used: bool,
    actor: str,
) -> ConsentChange:
    """Record the person's answer, given today, for one recipient and purpose.

    A withdrawal applies at once: the case's queued detailed messages that relied on that
    consent go minimal.
    """
    now = utcnow()
    with opened_store() as store, store.transaction() as session:
        case = get_case(session, reference, lock=True)
        change = consent_store.record_consent(
            session,
            case,
            recipient=recipient,
            purpose=purpose,
            agreed=agreed,
            recorded_on=now.date(),
            language=language,
            interpreter_used=interpreter_used,
            actor=actor,
            now=now,
            source=ConsentSource.CLI,
        )
        declined = _followups_declined(session, store, case, change, actor=actor, now=now)
    _after_decline(reference, declined)
    return change


def _followups_declined(
    session: Session,
    store: Store,
    case: Case,
    change: ConsentChange,
    *,
    actor: str,
    now: dt.datetime,
) -> list[int]:
    """Cancel the follow-ups still to come if the person declined follow-up contact, in the
    consent's transaction (services/followup_decisions.py); return their numbers."""
    if not ends_followup_contact(change.changes):
        return []
    from safepassage.services.followup_decisions import decline_followup_contact  # noqa: PLC0415 - notifications (apprise): only a decline pays

    return decline_followup_contact(session, store.master_key, case, change, actor=actor, now=now)


def _after_decline(reference: str, declined: list[int]) -> None:
    if declined:
        from safepassage.services.followup_decisions import after_decline  # noqa: PLC0415 - see above

        after_decline(reference, declined)


def audit_trail(reference: str, *, store: Store | None = None) -> list[AuditEntry]:
    """Return who saw or was sent what about a case, oldest first (nothing personal in it).

    `store`: an open store (the gateway's), else the configured one opened for this call.
    """
    with store_or_opened(store) as opened, opened.transaction() as session:
        return case_audit(session, get_case(session, reference))


def verify_event_log(*, store: Store | None = None) -> StoreCheck:
    """Check the event log's keyed chain against its anchor, and every case's sealed state."""
    with store_or_opened(store) as opened, opened.transaction() as session:
        return verify_store(session, opened.master_key, opened.anchor)
