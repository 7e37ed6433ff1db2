"""The append-only case event log, made tamper-evident by a hash chain.

Every stage change, decision and disclosure is appended here with who or which job did it and
under which rule version. Each entry's hash covers its content and the previous entry's hash,
so editing, deleting or reordering rows breaks the chain at the first row touched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.store.db import GENESIS_HASH, chain_head
from safepassage.models.store.orm import CaseEvent, ChainHead


def _canonical(event: CaseEvent) -> bytes:
    body = {
        "seq": event.seq,
        "reference": event.reference,
        "at": event.at.astimezone(dt.UTC).isoformat(),
        "kind": event.kind,
        "actor": event.actor,
        "stage": event.stage,
        "rules_version": event.rules_version,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: CaseEvent) -> str:
    """Return the hash an entry must carry, given its content and its predecessor's hash."""
    return hashlib.sha256(_canonical(event)).hexdigest()


def append_event(
    session: Session,
    *,
    reference: str | None,
    kind: str,
    actor: str,
    at: dt.datetime,
    stage: str | None = None,
    rules_version: str | None = None,
    detail: dict[str, Any] | None = None,
) -> CaseEvent:
    """Append an entry to the log in the caller's transaction and return it.

    `detail` must be free of personal data: the log outlives erasure, for statistics and audit.
    """
    head = chain_head(session)
    entry = CaseEvent(
        seq=head.seq + 1,
        reference=reference,
        at=at.astimezone(dt.UTC),
        kind=kind,
        actor=actor,
        stage=stage,
        rules_version=rules_version,
        detail=detail or {},
        prev_hash=head.hash,
    )
    entry.hash = event_hash(entry)
    session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.flush()
    return entry


def case_events(session: Session, reference: str) -> list[CaseEvent]:
    """Return a case's entries, oldest first."""
    query = select(CaseEvent).where(CaseEvent.reference == reference).order_by(CaseEvent.seq)
    return list(session.scalars(query))


@dataclass(frozen=True)
class BrokenLink:
    """Where the chain first fails to verify, and how."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.problem}"


def _in_order(session: Session, batch: int = 5000) -> Iterator[CaseEvent]:
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.seq > last).order_by(CaseEvent.seq).limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify_chain(session: Session) -> BrokenLink | None:
    """Walk the whole log and return the first broken link, or None if every entry verifies."""
    expected_seq, prev_hash = 1, GENESIS_HASH
    for entry in _in_order(session):
        if entry.seq != expected_seq:
            return BrokenLink(expected_seq, f"is missing (the log jumps to event {entry.seq})")
        if entry.prev_hash != prev_hash:
            return BrokenLink(entry.seq, "does not follow the entry before it (moved or replaced)")
        if event_hash(entry) != entry.hash:
            return BrokenLink(entry.seq, "was changed after it was written")
        expected_seq, prev_hash = entry.seq + 1, entry.hash
    head = session.get(ChainHead, 1)
    if head is not None and (head.seq, head.hash) != (expected_seq - 1, prev_hash):
        return BrokenLink(expected_seq, f"is missing (the log should end at event {head.seq})")
    return None
