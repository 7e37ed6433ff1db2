"""The grant's ledger in the case store: its actions, read in one query."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.grant import ACTIONS, INCREASE_REQUESTED, Entry, GrantLedger
from safepassage.models.store.orm import Case, CaseAction


def grant_ledger(session: Session, case: Case) -> GrantLedger:
    """Return what the case's grant stands at, from its ledger actions."""
    rows = session.scalars(
        select(CaseAction)
        .where(CaseAction.case_id == case.id, CaseAction.action.in_(ACTIONS))
        .order_by(CaseAction.id)
    )
    return GrantLedger.of(Entry(row.action, row.attempt, row.detail) for row in rows)


def waiting_grant_run_ids(session: Session, case: Case) -> list[str]:
    """Return the approval runs of the case's undecided increase requests, newest first."""
    ledger = grant_ledger(session, case)
    return [ledger.started[n] for n in reversed(ledger.pending) if ledger.started.get(n)]


def cases_with_unstarted_requests(session: Session) -> list[str]:
    """Return the open cases with an increase request whose approval run was never created."""
    requested = select(CaseAction.case_id).where(CaseAction.action == INCREASE_REQUESTED)
    rows = session.scalars(
        select(Case).where(Case.id.in_(requested), Case.erased_at.is_(None)).order_by(Case.id)
    )
    return [case.reference for case in rows if grant_ledger(session, case).unstarted]
