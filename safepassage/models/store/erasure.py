"""Erasing a case: destroy its data key and its sealed records; keep what statistics need.

What remains of an erased case is its reference, programme, destination, stage, dates,
decision outcome and the event log (which never held personal data). Its sealed records are
deleted and its data key destroyed, so a copy of the database from before (a backup) cannot
be opened either, not even with the master key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from safepassage.models.crypto import MasterKey
from safepassage.models.errors import CaseStateError, FieldProblem, IntakeInvalid, KeyUnavailable
from safepassage.models.followup_plan import add_months
from safepassage.models.store.cases import read_intake
from safepassage.models.store.events import append_event
from safepassage.models.store.followups import PENDING, FollowUpState
from safepassage.models.store.orm import Case, FollowUp, OutboxItem, SealedRecord
from safepassage.models.vocabulary import FINAL_STAGES

ERASED = "erased"


@dataclass(frozen=True)
class Erasure:
    """What erasing one case did (all counts; nothing personal)."""

    reference: str
    stage: str
    already_erased: bool
    forced: bool
    sealed_records_destroyed: int = 0
    notification_bodies_destroyed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Return the erasure as JSON-ready values."""
        return asdict(self)


def is_active(case: Case) -> bool:
    """Return whether the case has not reached a final stage (closed, withdrawn, ineligible)."""
    return case.stage not in {s.value for s in FINAL_STAGES}


def check_erasable(case: Case, *, force: bool, reason: str | None) -> None:
    """Refuse to erase an active case unless forced with a reason (CaseStateError otherwise)."""
    if case.erased_at is not None or not is_active(case):
        return
    if not force:
        raise CaseStateError(
            f"case {case.reference} is still active (stage {case.stage}): erase it once it is "
            "closed or withdrawn, or pass --force --reason TEXT to erase it now"
        )
    if not reason:
        raise CaseStateError("--force needs --reason TEXT: say why an active case is erased")


def check_reason_names_no_one(
    session: Session, master_key: MasterKey, case: Case, text: str
) -> None:
    """Refuse a reason that quotes the person's details: the event log keeps it after erasure."""
    try:
        values = read_intake(session, master_key, case).identifying_values()
    except (KeyUnavailable, KeyError):
        return
    lowered = text.casefold()
    if any(value.casefold() in lowered for value in values):
        raise IntakeInvalid(
            [
                FieldProblem(
                    "--reason",
                    "quotes the person's personal details; the audit log keeps the reason "
                    "after erasure, so give it without them",
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
    force: bool = False,
    reason: str | None = None,
) -> Erasure:
    """Erase `case` in the caller's transaction (idempotent: a second call changes nothing)."""
    if case.erased_at is not None:
        return Erasure(case.reference, case.stage, already_erased=True, forced=False)
    check_erasable(case, force=force, reason=reason)
    if reason:
        check_reason_names_no_one(session, master_key, case, reason)
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
    case.erased_at = now
    case.status = ERASED
    case.waiting_for = None
    case.ended_at = case.ended_at or now
    case.updated_at = now
    erasure = Erasure(
        case.reference,
        case.stage,
        already_erased=False,
        forced=forced,
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
            "reason": reason,
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
