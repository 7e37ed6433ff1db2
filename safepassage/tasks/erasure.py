"""The retention sweep that erases expired cases, and recording a case's removal from Prefect.

Erasure is done in the case store first (the key is destroyed in one transaction); Prefect's
copies come second (orchestration/purge.py). If Prefect cannot be reached, the case stays
marked as awaiting the purge and the daily `retention` run finishes it.
"""

from __future__ import annotations

import logging

from prefect import task
from pydantic import BaseModel

from safepassage.models.clock import utcnow
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store, process_store
from safepassage.models.store.erasure import (
    awaiting_prefect_purge,
    delete_expired_notes,
    erase_case,
    expired_cases,
    reclaim_erased_space,
)
from safepassage.models.store.events import append_event
from safepassage.models.vocabulary import ErasureReason
from safepassage.orchestration.purge import PrefectPurge, purge_from_prefect
from safepassage.orchestration.task_options import LEDGER_TASK

logger = logging.getLogger("safepassage.erasure")


def purge_and_record(store: Store, reference: str) -> PrefectPurge:
    """Purge the case from Prefect, then mark it purged in the store with an audit event."""
    purge = purge_from_prefect(reference)
    with store.transaction() as session:
        case = get_case(session, reference, lock=True)
        case.prefect_purged_at = utcnow()
        append_event(
            session,
            reference=reference,
            kind="prefect-records-removed",
            actor="erasure",
            at=utcnow(),
            stage=case.stage,
            detail={
                "flow_runs_deleted": purge.flow_runs_deleted,
                "artifacts_deleted": purge.artifacts_deleted,
            },
        )
    return purge


class RetentionSweep(BaseModel):
    """What one retention run did (references and counts: no personal data)."""

    erased: list[str]
    purged: list[str]
    purge_failed: list[str]
    erase_failed: list[str] = []


def sweep(store: Store, *, actor: str = "retention", purge: bool = True) -> RetentionSweep:
    """Erase every case past its retention period; delete erasure notes past theirs; finish
    purges Prefect still owes.

    `purge=False` (no server answers) erases in the store only; the purges stay owed.
    """
    months = get_settings().retention_months
    with store.transaction() as session:
        expired = expired_cases(session, now=utcnow(), months=months)
    erased, erase_failed = [], []
    for reference in expired:
        try:
            if _erase_one(store, reference, actor=actor):
                erased.append(reference)
        except Exception as exc:  # one case must not stop the others, nor the key step after
            logger.error("%s not erased: %s", reference, type(exc).__name__)
            erase_failed.append(reference)
    with store.transaction() as session:
        notes_deleted = delete_expired_notes(session, now=utcnow())
    if erased or notes_deleted:  # once, after the commits, for all of them
        reclaim_erased_space(store.engine)
    with store.transaction() as session:
        pending = awaiting_prefect_purge(session) if purge else []
    purged, failed = [], []
    for reference in pending:
        try:
            purge_and_record(store, reference)
            purged.append(reference)
        except Exception as exc:  # the next day's run tries again; the store is erased already
            logger.warning(
                "Prefect records of %s not removed yet: %s", reference, type(exc).__name__
            )
            failed.append(reference)
    return RetentionSweep(
        erased=erased, purged=purged, purge_failed=failed, erase_failed=erase_failed
    )


def _erase_one(store: Store, reference: str, *, actor: str) -> bool:
    """Erase one expired case in its own transaction; False if it was erased already."""
    with store.transaction() as session:
        case = get_case(session, reference, lock=True)
        if case.erased_at is not None:
            return False
        erase_case(
            session, store.master_key, case, actor=actor, now=utcnow(),
            reason=ErasureReason.RETENTION,
        )  # fmt: skip
        return True


@task(**LEDGER_TASK)
def erase_expired_cases() -> RetentionSweep:
    """Erase the cases past their retention period and remove them from Prefect."""
    return sweep(process_store())
