"""Data functions for a case's progress: stages, the idempotency ledger, checkpoint answers.

Each function works in the caller's transaction, so a stage's change, its audit event, its
ledger entry and its queued notifications commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from safepassage.models.crypto import MasterKey
from safepassage.models.errors import FieldProblem
from safepassage.models.store.cases import cipher_for, open_sealed, seal, status_of
from safepassage.models.store.events import append_event
from safepassage.models.store.orm import Case, CaseAction, CaseEvent, CheckpointAnswer
from safepassage.models.vocabulary import FINAL_STAGES, Stage


def answer_purpose(checkpoint: str, attempt: int) -> str:
    """Return the sealed record's purpose for a checkpoint answer."""
    return f"checkpoint:{checkpoint}:{attempt}"


def find_action(session: Session, case: Case, action: str, attempt: int = 1) -> CaseAction | None:
    """Return the ledger entry of an action, if it was done."""
    return session.scalar(
        select(CaseAction).where(
            CaseAction.case_id == case.id,
            CaseAction.action == action,
            CaseAction.attempt == attempt,
        )
    )


def record_action(
    session: Session,
    case: Case,
    action: str,
    attempt: int = 1,
    *,
    now: dt.datetime,
    detail: dict[str, Any] | None = None,
    actor: str = "flow",
) -> bool:
    """Enter an action in the ledger and the event log; False if it was done already.

    The caller does the action's side effects only when this returns True, in the same
    transaction, so that each happens once however often the stage runs.
    """
    if find_action(session, case, action, attempt) is not None:
        return False
    entry = CaseAction(case_id=case.id, action=action, attempt=attempt, at=now, detail=detail or {})
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:  # another process recorded it between our look and our write
        return False
    append_event(
        session,
        reference=case.reference,
        kind=action,
        actor=actor,
        at=now,
        stage=case.stage,
        detail={"attempt": attempt, **(detail or {})},
    )
    return True


def set_stage(
    session: Session,
    case: Case,
    stage: Stage,
    *,
    actor: str,
    now: dt.datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Move the case to `stage` and log the change (nothing happens if it is there already)."""
    if case.stage == stage.value:
        return
    previous = case.stage
    case.stage = stage.value
    case.status = status_of(stage.value)
    case.updated_at = now
    case.waiting_for = None
    case.waiting_since = None
    if stage in FINAL_STAGES:
        case.ended_at = now
    append_event(
        session,
        reference=case.reference,
        kind="stage-changed",
        actor=actor,
        at=now,
        stage=stage.value,
        detail={"from": previous, **(detail or {})},
    )


def open_checkpoint(
    session: Session, case: Case, checkpoint: str, attempt: int, *, now: dt.datetime
) -> None:
    """Record that the case now waits for a person's answer at `checkpoint`."""
    if case.waiting_for == checkpoint:
        return
    case.waiting_for = checkpoint
    case.waiting_since = now
    case.status = "waiting"
    case.updated_at = now
    append_event(
        session,
        reference=case.reference,
        kind="checkpoint-opened",
        actor="flow",
        at=now,
        stage=case.stage,
        detail={"checkpoint": checkpoint, "attempt": attempt},
    )


def find_answer(
    session: Session, case: Case, checkpoint: str, attempt: int
) -> CheckpointAnswer | None:
    """Return the accepted answer of a checkpoint attempt, if there is one."""
    return session.scalar(
        select(CheckpointAnswer).where(
            CheckpointAnswer.case_id == case.id,
            CheckpointAnswer.checkpoint == checkpoint,
            CheckpointAnswer.attempt == attempt,
        )
    )


def record_answer(
    session: Session,
    master_key: MasterKey,
    case: Case,
    checkpoint: str,
    attempt: int,
    *,
    answer_json: bytes,
    entered_by: str,
    summary: dict[str, Any],
    now: dt.datetime,
) -> CheckpointAnswer:
    """Store an accepted answer sealed, with its PII-free summary; idempotent per attempt."""
    existing = find_answer(session, case, checkpoint, attempt)
    if existing is not None:
        return existing
    seal(
        session,
        case,
        cipher_for(master_key, case),
        answer_purpose(checkpoint, attempt),
        answer_json,
        now=now,
    )
    answer = CheckpointAnswer(
        case_id=case.id,
        checkpoint=checkpoint,
        attempt=attempt,
        answered_at=now,
        entered_by=entered_by[:200],
        summary=summary,
    )
    session.add(answer)
    if case.waiting_for == checkpoint:
        case.waiting_for = None
        case.waiting_since = None
        case.status = status_of(case.stage)
    case.updated_at = now
    append_event(
        session,
        reference=case.reference,
        kind="checkpoint-answered",
        actor=entered_by[:120],
        at=now,
        stage=case.stage,
        detail={"checkpoint": checkpoint, "attempt": attempt, **summary},
    )
    session.flush()
    return answer


def read_answer_for_stage(
    session: Session, master_key: MasterKey, case: Case, checkpoint: str, attempt: int
) -> bytes:
    """Decrypt a stored checkpoint answer (JSON bytes)."""
    return open_sealed(session, master_key, case, answer_purpose(checkpoint, attempt))


def record_refusal(
    session: Session,
    case: Case,
    checkpoint: str,
    attempt: int,
    *,
    problems: list[FieldProblem],
    now: dt.datetime,
) -> None:
    """Log that an answer was refused, naming the fields at fault and why (never the values).

    The messages are kept so that the next ask, even in a replayed run, can state them.
    """
    append_event(
        session,
        reference=case.reference,
        kind="checkpoint-answer-refused",
        actor="flow",
        at=now,
        stage=case.stage,
        detail={
            "checkpoint": checkpoint,
            "attempt": attempt,
            "fields": [p.path for p in problems],
            "problems": [str(p) for p in problems],
        },
    )


def count_refusals(session: Session, case: Case, checkpoint: str, attempt: int) -> int:
    """Return how many answers to a checkpoint attempt were refused (keys the next ask)."""
    rows = session.scalars(
        select(CaseEvent.detail).where(
            CaseEvent.reference == case.reference, CaseEvent.kind == "checkpoint-answer-refused"
        )
    )
    return sum(1 for d in rows if d.get("checkpoint") == checkpoint and d.get("attempt") == attempt)


def open_hold(session: Session, case: Case) -> int | None:
    """Return the first raised-risk hold on travel that no coordinator has ruled on, if any."""
    rows = session.execute(
        select(CaseAction.action, CaseAction.attempt).where(
            CaseAction.case_id == case.id,
            CaseAction.action.in_(("risk-hold", "risk-cleared", "travel-stopped")),
        )
    )
    holds: set[int] = set()
    ruled: set[int] = set()
    for action, attempt in rows:
        (holds if action == "risk-hold" else ruled).add(attempt)
    pending = sorted(holds - ruled)
    return pending[0] if pending else None


def latest_action_attempt(session: Session, case: Case, action: str) -> int | None:
    """Return the highest attempt of an action that was done, if any (one query)."""
    return session.scalar(
        select(func.max(CaseAction.attempt)).where(
            CaseAction.case_id == case.id, CaseAction.action == action
        )
    )


def latest_answer_attempt(session: Session, case: Case, checkpoint: str) -> int | None:
    """Return the highest attempt of a checkpoint that has an accepted answer (one query)."""
    return session.scalar(
        select(func.max(CheckpointAnswer.attempt)).where(
            CheckpointAnswer.case_id == case.id, CheckpointAnswer.checkpoint == checkpoint
        )
    )
