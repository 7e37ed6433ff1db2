"""Removing an erased case from Prefect, and the retention sweep that erases expired cases.

Erasure is done in the case store first (the key is destroyed in one transaction); Prefect's
copies come second: the case's flow runs (their run inputs and task runs go with them, their
logs are deleted by the server right after) and its artifacts. If Prefect cannot be reached,
the case stays marked as awaiting the purge and the daily `retention` run finishes it.
Prefect's events cannot be deleted (they expire after 7 days); they never carry personal data.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from uuid import UUID

from prefect import get_client, task
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterName,
)
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled
from pydantic import BaseModel

from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.erasure import awaiting_prefect_purge, erase_case, expired_cases
from safepassage.models.store.events import append_event
from safepassage.tasks.case_view import artifact_key, progress_key
from safepassage.tasks.runtime import (
    FINAL_RUN_STATES,
    READ_TASK,
    cancel_and_wait,
    case_store,
    now,
)

logger = logging.getLogger("safepassage.erasure")

#: How long a running run of a forcibly erased case gets to stop before it is cancelled outright.
STOP_WAIT_SECONDS = 30.0


class PrefectPurge(BaseModel):
    """What was removed from Prefect for one case (counts only)."""

    reference: str
    flow_runs_deleted: int
    artifacts_deleted: int


def case_runs(reference: str) -> list[FlowRun]:
    """Return every flow run of the case: its return, withdrawal and follow-up runs.

    Each is named after the reference (`return-<REF>`, `withdraw-<REF>-<n>`, `followup-<REF>-<n>`).
    """
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=reference))
        )
    return [run for run in runs if reference in run.name]


def _stop(runs: list[FlowRun]) -> None:
    """Stop the runs still going (a forced erasure); end those no runner stops, without one."""
    for run in runs:
        if run.state is None or run.state.type in FINAL_RUN_STATES:
            continue
        state = cancel_and_wait(run.id, "the case was erased", timeout=STOP_WAIT_SECONDS)
        if state is None or state.type not in FINAL_RUN_STATES:
            with get_client(sync_client=True) as client:
                client.set_flow_run_state(
                    run.id, Cancelled(message="the case was erased"), force=True
                )


def purge_from_prefect(reference: str) -> PrefectPurge:
    """Delete the case's flow runs and artifacts from the Prefect server (PREFECT_API_URL)."""
    runs = case_runs(reference)
    _stop(runs)
    run_ids: list[UUID] = [run.id for run in runs]
    with get_client(sync_client=True) as client:
        keyed = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[artifact_key(reference), progress_key(reference)])
            )
        )
        on_runs = (
            client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=run_ids))
            )
            if run_ids
            else []
        )
        artifacts = {a.id: a for a in [*keyed, *on_runs]}
        for artifact_id in artifacts:
            _ignore_missing(client.delete_artifact, artifact_id)
        for run_id in run_ids:
            _ignore_missing(client.delete_flow_run, run_id)
    return PrefectPurge(
        reference=reference, flow_runs_deleted=len(run_ids), artifacts_deleted=len(artifacts)
    )


def _ignore_missing(delete: Callable[[UUID], None], object_id: UUID) -> None:
    """Delete by id; one already gone (a purge repeated after an interruption) is fine."""
    with contextlib.suppress(ObjectNotFound):
        delete(object_id)


def purge_and_record(store: Store, reference: str) -> PrefectPurge:
    """Purge the case from Prefect, then mark it purged in the store with an audit event."""
    purge = purge_from_prefect(reference)
    with store.transaction() as session:
        case = get_case(session, reference, lock=True)
        case.prefect_purged_at = now()
        append_event(
            session,
            reference=reference,
            kind="prefect-records-removed",
            actor="erasure",
            at=now(),
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


def sweep(store: Store, *, actor: str = "retention", purge: bool = True) -> RetentionSweep:
    """Erase every case past its retention period; finish purges Prefect still owes.

    `purge=False` (no server answers) erases in the store only; the purges stay owed.
    """
    months = get_settings().retention_months
    with store.transaction() as session:
        expired = expired_cases(session, now=now(), months=months)
    erased = []
    for reference in expired:
        with store.transaction() as session:
            case = get_case(session, reference, lock=True)
            if case.erased_at is None:
                erase_case(session, store.master_key, case, actor=actor, now=now())
                erased.append(reference)
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
    return RetentionSweep(erased=erased, purged=purged, purge_failed=failed)


@task(name="erase_expired_cases", **READ_TASK)
def erase_expired_cases() -> RetentionSweep:
    """Erase the cases past their retention period and remove them from Prefect."""
    return sweep(case_store())
