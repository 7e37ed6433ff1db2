"""Who saw or was sent what about a case: the disclosure part of its audit trail.

Built from the hash-chained event log (reveals, exports, detailed notifications, consent,
withdrawal, erasure) and from the checkpoint answers (who entered each), plus the minimal
notifications each target was sent. Nothing here is personal: actors are staff or targets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.json_ready import json_ready
from safepassage.models.store.events import case_events
from safepassage.models.store.orm import Case, CaseEvent, CheckpointAnswer, OutboxItem

EXPORT_PREFIX = "export"

#: Event kinds that change who may see the case's data, or whether it exists at all.
_RECORDED = {
    "consent-changed": "consent changed",
    "withdrawal-requested": "withdrawal requested",
    "risk-raised": "risk raised",
    "arrival-corrected": "arrival corrected",
    "checkpoint-answer-refused": "answer refused",
    "case-erased": "erased",
    "prefect-records-removed": "removed from Prefect",
}


@dataclass(frozen=True)
class AuditEntry:
    """One disclosure or data-protection event: when, what, by or to whom, about what."""

    at: dt.datetime
    what: str
    who: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """Return the entry as JSON-ready values."""
        return json_ready(self)


def _from_event(event: CaseEvent) -> AuditEntry | None:
    detail = event.detail or {}
    if event.kind == "personal-data-revealed":
        purpose = str(detail.get("purpose", ""))
        what = "exported" if purpose.startswith(EXPORT_PREFIX) else "revealed"
        records = ", ".join(str(r) for r in detail.get("records", []))
        return AuditEntry(event.at, what, event.actor, f"{purpose}: {records}")
    if event.kind == "detail-disclosed":
        text = f"{detail.get('event')} (message {detail.get('message_id')})"
        return AuditEntry(event.at, "sent detailed", str(detail.get("target")), text)
    if event.kind in _RECORDED:
        shown = {k: v for k, v in detail.items() if k != "before"}
        text = ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))
        return AuditEntry(event.at, _RECORDED[event.kind], event.actor, text)
    return None


def case_audit(session: Session, case: Case) -> list[AuditEntry]:
    """Return the case's disclosures and data-protection events, oldest first."""
    entries = [e for e in map(_from_event, case_events(session, case.reference)) if e]
    answers = session.scalars(select(CheckpointAnswer).where(CheckpointAnswer.case_id == case.id))
    entries += [
        AuditEntry(
            a.answered_at, "answered checkpoint", a.entered_by, f"{a.checkpoint} #{a.attempt}"
        )
        for a in answers
    ]
    minimal = session.scalars(
        select(OutboxItem).where(
            OutboxItem.case_id == case.id,
            OutboxItem.state == "sent",
            OutboxItem.level_sent != "detailed",
        )
    )
    entries += [
        AuditEntry(
            i.sent_at or i.updated_at, "sent minimal", i.target, f"{i.event} (message {i.uuid})"
        )
        for i in minimal
    ]
    return sorted(entries, key=lambda e: e.at)
