"""The person's data rights and the office's proof: consent, the audit trail, the log's chain.

Erasure, which also talks to Prefect, is in `services.erasure`.
"""

from __future__ import annotations

from safepassage.models.clock import utcnow
from safepassage.models.store.audit import AuditEntry, case_audit
from safepassage.models.store.cases import get_case
from safepassage.models.store.consent import ConsentChange, change_consent
from safepassage.models.store.db import Store, opened_store, store_or_opened
from safepassage.models.store.verification import StoreCheck, verify_store


def record_consent(
    reference: str,
    *,
    share_with_mission: bool | None,
    share_with_embassy: bool | None,
    actor: str,
) -> ConsentChange:
    """Record the person's consent to share as given now (None leaves that audience as it is).

    A withdrawal applies at once: the case's queued detailed messages to that audience go minimal.
    """
    with opened_store() as store, store.transaction() as session:
        return change_consent(
            session,
            get_case(session, reference, lock=True),
            share_with_mission=share_with_mission,
            share_with_embassy=share_with_embassy,
            actor=actor,
            now=utcnow(),
        )


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
