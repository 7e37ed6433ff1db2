"""Remove an erased case from Prefect: its flow runs and its artifacts.

The case's flow runs go (their run inputs and task runs with them; the server deletes their
logs right after), and so do its artifacts. Prefect's events cannot be deleted (they expire
after 7 days); they never carry personal data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from uuid import UUID

from prefect import get_client
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

from safepassage.models.case_view import artifact_key, progress_key
from safepassage.orchestration.runs import FINAL_RUN_STATES, cancel_and_wait

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
