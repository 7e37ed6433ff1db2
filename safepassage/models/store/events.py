"""The append-only case event log, made tamper-evident by a keyed chain and an outside anchor.

Every stage change, decision and disclosure is appended here with who or which job did it and
under which rule version. Each entry's MAC covers its content and the previous entry's MAC,
under the ring's audit-chain key, which the database does not hold: someone who can write to
the database can delete or edit entries, but cannot recompute a chain that verifies.

Deleting entries from the end (or restoring an older copy of the database) leaves a valid
but shorter chain; the anchor catches that. After each transaction that appended entries,
the new head is appended to a file outside the database (see anchor.py); verification
checks that every anchored head is still in the log.

Stores from before the keyed chain keep their plain SHA-256 entries: the first keyed entry
(`audit-chain-keyed`, the epoch) is recorded in the store and in the anchor, and entries
before it verify as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.crypto import MasterKey
from safepassage.models.store.orm import CaseEvent, ChainHead, StoreMeta

GENESIS_HASH = "0" * 64
KEYED_FROM = "chain_keyed_from"
EPOCH_KIND = "audit-chain-keyed"
#: Where a session made by the store keeps its master key and the head it appended.
MASTER_KEY_INFO = "master_key"
APPENDED_INFO = "appended_head"


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


def plain_hash(event: CaseEvent) -> str:
    """Return the unkeyed hash that entries before the keyed epoch carry."""
    return hashlib.sha256(_canonical(event)).hexdigest()


def event_mac(master_key: MasterKey, event: CaseEvent) -> str:
    """Return the MAC an entry must carry, given its content and its predecessor's MAC."""
    return master_key.chain_mac(_canonical(event))


def chain_head(session: Session) -> ChainHead:
    """Return the chain head row, locked for update where the database supports it."""
    query = select(ChainHead).where(ChainHead.id == 1).with_for_update()
    return session.execute(query).scalar_one()


def session_master_key(session: Session) -> MasterKey:
    """Return the master key of the store that made `session`."""
    master_key = session.info.get(MASTER_KEY_INFO)
    if not isinstance(master_key, MasterKey):
        raise RuntimeError("this session was not made by Store: it cannot sign the event log")
    return master_key


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
    entry.hash = event_mac(session_master_key(session), entry)
    session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.flush()
    session.info[APPENDED_INFO] = (entry.seq, entry.hash)  # anchored once the commit is done
    return entry


def start_chain(session: Session) -> None:
    """Give a new store its chain head; every entry of a new store is keyed."""
    if session.get(ChainHead, 1) is None:
        session.add(ChainHead(id=1, seq=0, hash=GENESIS_HASH))
    if session.get(StoreMeta, KEYED_FROM) is None:
        session.add(StoreMeta(key=KEYED_FROM, value="1"))


def keyed_from(session: Session) -> int | None:
    """Return the seq of the first keyed entry, or None for a store not moved to it yet."""
    row = session.get(StoreMeta, KEYED_FROM)
    return int(row.value) if row is not None else None


def key_the_chain(session: Session, *, now: dt.datetime) -> tuple[int, bool]:
    """Move a store from before the keyed chain to it: record the epoch entry.

    Return the epoch's seq, and whether this call moved it (False: another process had).
    """
    head = chain_head(session)  # locked: a second process moving it at once waits here
    already = keyed_from(session)
    if already is not None:
        return already, False
    epoch = head.seq + 1
    session.add(StoreMeta(key=KEYED_FROM, value=str(epoch)))
    session.flush()
    append_event(
        session, reference=None, kind=EPOCH_KIND, actor="safepassage", at=now,
        detail={"plain_entries": head.seq},
    )  # fmt: skip
    return epoch, True


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


def verify_chain(
    session: Session, master_key: MasterKey, *, epoch: int, anchored: Mapping[int, str]
) -> BrokenLink | None:
    """Walk the whole log and return the first broken link, or None if every entry verifies.

    `epoch` is the first keyed entry and `anchored` the heads the anchor recorded, both as
    kept outside the database: entries from the epoch on must carry the chain key's MAC,
    entries before it the plain hash, and every anchored head must still be in the log.
    """
    expected_seq, prev_hash = 1, GENESIS_HASH
    for entry in _in_order(session):
        if entry.seq != expected_seq:
            return BrokenLink(expected_seq, f"is missing (the log jumps to event {entry.seq})")
        if entry.prev_hash != prev_hash:
            return BrokenLink(entry.seq, "does not follow the entry before it (moved or replaced)")
        keyed = entry.seq >= epoch
        if (event_mac(master_key, entry) if keyed else plain_hash(entry)) != entry.hash:
            return BrokenLink(
                entry.seq, "was changed after it was written, or written without the chain key"
            )
        if anchored.get(entry.seq, entry.hash) != entry.hash:
            return BrokenLink(entry.seq, "differs from the entry the anchor recorded")
        expected_seq, prev_hash = entry.seq + 1, entry.hash
    last = expected_seq - 1
    ahead = max(anchored, default=0)
    if ahead > last:
        return BrokenLink(
            last + 1,
            f"is missing: the anchor recorded the log up to event {ahead}, the database ends at "
            f"event {last} (rolled back to an older copy, or cut short)",
        )
    head = session.get(ChainHead, 1)
    if head is not None and (head.seq, head.hash) != (last, prev_hash):
        return BrokenLink(expected_seq, f"is missing (the log should end at event {head.seq})")
    return None
