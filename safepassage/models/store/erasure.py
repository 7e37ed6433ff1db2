"""Erasing a case: destroy its data key and its sealed records; keep what statistics need.

What remains of an erased case is its reference, programme, destination, stage, dates,
decision and the event log (which holds no free text: the erasure's reason is a code). Its
sealed records are deleted and its data key destroyed, so a copy of the database from before (a
backup) cannot be opened either, not even with the master key. What stays, field by field, and
why: docs/data-protection.md. After the commit, `reclaim_erased_space` pushes the deleted bytes
out of the database's own files (SQLite's write-ahead log, PostgreSQL's dead rows).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from safepassage.models.consent_record import ConsentRecord
from safepassage.models.crypto import MasterKey
from safepassage.models.errors import CaseStateError, FieldProblem, IntakeInvalid, KeyUnavailable
from safepassage.models.followup_plan import add_months
from safepassage.models.store.cases import read_intake_for_stage
from safepassage.models.store.consent import set_record
from safepassage.models.store.events import append_event, chain_head
from safepassage.models.store.followups import PENDING, FollowUpState
from safepassage.models.store.orm import Case, ErasureNote, FollowUp, OutboxItem, SealedRecord
from safepassage.models.vocabulary import FINAL_STAGES, ErasureReason

ERASED = "erased"
NOTE_PURPOSE = "erasure-note"
#: How long an erasure's note is kept: enough to answer a question about the erasure from the
#: person or the regulator (UK GDPR art. 12(3): a month to answer, extendable by two more).
NOTE_KEPT = dt.timedelta(days=92)
#: The tables an erasure deletes from or overwrites: the ones to vacuum on PostgreSQL.
ERASURE_TABLES = tuple(
    model.__tablename__ for model in (SealedRecord, OutboxItem, Case, FollowUp, ErasureNote)
)

logger = logging.getLogger("safepassage.erasure")


@dataclass(frozen=True)
class Erasure:
    """What erasing one case did (all counts; nothing personal)."""

    reference: str
    stage: str
    already_erased: bool
    forced: bool
    reason: str | None = None
    note_kept: bool = False
    sealed_records_destroyed: int = 0
    notification_bodies_destroyed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Return the erasure as JSON-ready values."""
        return asdict(self)


def is_active(case: Case) -> bool:
    """Return whether the case has not reached a final stage (closed, withdrawn, ineligible)."""
    return case.stage not in {s.value for s in FINAL_STAGES}


def check_erasable(case: Case, *, force: bool) -> None:
    """Refuse to erase an active case unless forced (CaseStateError otherwise)."""
    if case.erased_at is not None or not is_active(case):
        return
    if not force:
        raise CaseStateError(
            f"case {case.reference} is still active (stage {case.stage}): erase it once it is "
            "closed or withdrawn, or pass --force to erase it now"
        )


def check_note_names_no_one(session: Session, master_key: MasterKey, case: Case, text: str) -> None:
    """Refuse a note that quotes the person's details: it is kept for a while after erasure.

    A filter of this kind is easy to pass (initials, a reformatted date, a relative's name), so
    it is a courtesy check only: what protects the person is that the note is sealed, outside
    the permanent log, and deleted after NOTE_KEPT.
    """
    try:
        values = read_intake_for_stage(session, master_key, case).identifying_values()
    except (KeyUnavailable, KeyError):
        return
    lowered = text.casefold()
    if any(value.casefold() in lowered for value in values):
        raise IntakeInvalid(
            [
                FieldProblem(
                    "--note",
                    "quotes the person's personal details; the note is kept for a while after "
                    "erasure, so give it without them (a request's or an order's number)",
                )
            ],
            source="the command",
        )


def erase_case(
    session: Session,
    master_key: MasterKey,
    case: Case,
    *,
    actor: str,
    now: dt.datetime,
    reason: ErasureReason,
    force: bool = False,
    note: str | None = None,
) -> Erasure:
    """Erase `case` in the caller's transaction (idempotent: a second call changes nothing).

    The event log keeps `reason`, a code; `note`, free text, is sealed apart (keep_note).
    """
    if case.erased_at is not None:
        return Erasure(case.reference, case.stage, already_erased=True, forced=False)
    check_erasable(case, force=force)
    if note:
        check_note_names_no_one(session, master_key, case, note)
    forced = is_active(case)
    records = session.execute(delete(SealedRecord).where(SealedRecord.case_id == case.id))
    bodies = session.execute(
        update(OutboxItem)
        .where(OutboxItem.case_id == case.id, OutboxItem.sealed_body.is_not(None))
        .values(sealed_body=None)
    )
    # A forced erasure ends the case: no follow-up may be scheduled for it again.
    session.execute(
        update(FollowUp)
        .where(FollowUp.case_id == case.id, FollowUp.state.in_([s.value for s in PENDING]))
        .values(state=FollowUpState.CANCELLED.value, updated_at=now)
    )
    case.data_key = None
    case.intake_fingerprint = None
    # The consent record names the person's language and when they were asked: theirs, so it
    # goes too (the event log keeps only who changed what for whom). Empty, it agrees to nothing.
    set_record(case, ConsentRecord())
    case.erased_at = now
    case.status = ERASED
    case.waiting_for = None
    case.ended_at = case.ended_at or now
    case.updated_at = now
    if note:
        keep_note(session, master_key, case, note, now=now)
    erasure = Erasure(
        case.reference,
        case.stage,
        already_erased=False,
        forced=forced,
        reason=reason.value,
        note_kept=bool(note),
        sealed_records_destroyed=int(getattr(records, "rowcount", 0) or 0),
        notification_bodies_destroyed=int(getattr(bodies, "rowcount", 0) or 0),
    )
    append_event(
        session,
        reference=case.reference,
        kind="case-erased",
        actor=actor,
        at=now,
        stage=case.stage,
        detail={
            "forced": forced,
            "reason": reason.value,
            "note_kept": bool(note),
            "sealed_records_destroyed": erasure.sealed_records_destroyed,
            "notification_bodies_destroyed": erasure.notification_bodies_destroyed,
        },
    )
    session.flush()
    return erasure


def expired_cases(session: Session, *, now: dt.datetime, months: int) -> list[str]:
    """Return the references of cases ended more than `months` months ago and not yet erased."""
    day = add_months(now.date(), -months)
    cutoff = dt.datetime.combine(day, now.timetz())
    query = (
        select(Case.reference)
        .where(
            Case.erased_at.is_(None),
            Case.ended_at.is_not(None),
            Case.ended_at < cutoff,
            Case.stage.in_([s.value for s in FINAL_STAGES]),
        )
        .order_by(Case.ended_at)
    )
    return list(session.scalars(query))


def awaiting_prefect_purge(session: Session) -> list[str]:
    """Return erased cases whose Prefect runs and artifacts are still to be removed."""
    query = select(Case.reference).where(
        Case.erased_at.is_not(None), Case.prefect_purged_at.is_(None)
    )
    return list(session.scalars(query))


def keep_note(
    session: Session, master_key: MasterKey, case: Case, note: str, *, now: dt.datetime
) -> None:
    """Seal the erasure's note under a key of its own, to be deleted after NOTE_KEPT.

    Not under the case's key: the erasure destroys that key in the same transaction, and the
    note would be unreadable from the start. Its own key is bound to the case and this purpose.
    """
    chain_head(session)  # before wrapping: see cases.create_case
    cipher, wrapped = master_key.new_case_key(f"{case.reference}/{NOTE_PURPOSE}")
    session.add(
        ErasureNote(
            case_id=case.id,
            written_at=now,
            delete_after=now + NOTE_KEPT,
            data_key=wrapped,
            ciphertext=cipher.seal(NOTE_PURPOSE, note.encode()),
        )
    )


def delete_expired_notes(session: Session, *, now: dt.datetime) -> int:
    """Delete the erasure notes kept past NOTE_KEPT; return how many."""
    deleted = session.execute(delete(ErasureNote).where(ErasureNote.delete_after < now))
    return int(getattr(deleted, "rowcount", 0) or 0)


def reclaim_erased_space(engine: Engine) -> bool:
    """After an erasure committed, push its deleted bytes out of the database's own files.

    SQLite overwrites freed pages (`secure_delete`), but its write-ahead log keeps the pages as
    they were (the wrapped key, the ciphertexts) until a checkpoint, which happens on its own
    only after about a thousand pages more. PostgreSQL keeps deleted and updated rows as dead
    tuples until a vacuum. Returns whether the step completed; the erasure stands either way,
    as it rests on the destroyed key, not on scrubbed bytes.
    """
    try:
        if engine.dialect.name == "sqlite":
            return _checkpoint_sqlite(engine)
        if engine.dialect.name == "postgresql":
            _vacuum_postgresql(engine)
            return True
    except DBAPIError as exc:  # the erasure has committed: say so, do not fail it
        logger.warning("erased data not yet reclaimed from disk: %s", type(exc.orig).__name__)
    return False


def _checkpoint_sqlite(engine: Engine) -> bool:
    # A raw connection, outside any transaction: the engine's BEGIN IMMEDIATE hook would
    # otherwise open one, and a checkpoint cannot run inside a transaction.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        # TRUNCATE copies every frame into the database file (where secure_delete zeroed the
        # freed cells) and empties the log file; `busy` is 1 if a reader kept it from finishing.
        busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        connection.close()
    if busy:
        # The next erasure's checkpoint, or SQLite's own, empties it once the reader is done.
        logger.warning("the write-ahead log was not emptied after the erasure: a reader held it")
    return not busy


def _vacuum_postgresql(engine: Engine) -> None:
    # Plain VACUUM (not FULL, which locks the tables): it frees the dead rows' space for reuse,
    # TOAST included. It cannot run in a transaction, hence AUTOCOMMIT.
    tables = ", ".join(f'"{name}"' for name in ERASURE_TABLES)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM {tables}")
