"""The person's data rights and the office's proof: consent, the audit trail, the log's chain.

Erasure, which also talks to Prefect, is in `services.erasure`.
"""

from __future__ import annotations

from dataclasses import dataclass

from safepassage.models.clock import utcnow
from safepassage.models.store.audit import AuditEntry, case_audit
from safepassage.models.store.cases import get_case
from safepassage.models.store.consent import ConsentChange, change_consent
from safepassage.models.store.db import opened_store
from safepassage.models.store.events import BrokenLink, verify_chain
from safepassage.models.store.orm import ChainHead


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


def audit_trail(reference: str) -> list[AuditEntry]:
    """Return who saw or was sent what about a case, oldest first (nothing personal in it)."""
    with opened_store() as store, store.transaction() as session:
        return case_audit(session, get_case(session, reference))


@dataclass(frozen=True)
class LogCheck:
    """The event log's hash chain, checked: how many events, and where it first breaks."""

    events: int
    broken: BrokenLink | None

    @property
    def intact(self) -> bool:
        """Return whether every event verifies."""
        return self.broken is None


def verify_event_log() -> LogCheck:
    """Walk the whole event log and check its hash chain."""
    with opened_store() as store, store.transaction() as session:
        broken = verify_chain(session)
        head = session.get(ChainHead, 1)
        return LogCheck(events=0 if head is None else head.seq, broken=broken)
