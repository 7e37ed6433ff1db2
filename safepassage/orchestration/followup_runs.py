"""Follow-up runs in Prefect: the reconcile's `FollowUpRuns`.

Which run waits for a report is read without prefect: `prefect_api.waiting_runs`.

Call `connection.connect` first (or run inside a flow run, which has its server's address).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Scheduled

from safepassage.models.followup_reconcile import RunInfo, RunSpec
from safepassage.orchestration.catalog import REINTEGRATION_FOLLOWUP

#: Runs read per request when looking up which exist.
PAGE = 200


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _info(run: FlowRun) -> RunInfo:
    state = run.state
    if state is None:
        return RunInfo(str(run.id), StateType.PENDING.value, None)
    when = state.state_details.scheduled_time or run.next_scheduled_start_time
    scheduled = None
    if state.type == StateType.SCHEDULED and when is not None:
        scheduled = dt.datetime.fromisoformat(when.isoformat()).astimezone(dt.UTC)
    return RunInfo(str(run.id), state.type.value, scheduled)


class PrefectFollowUpRuns:
    """Follow-up runs of the `reintegration-followup` deployment on the Prefect server."""

    def __init__(self, deployment_name: str = REINTEGRATION_FOLLOWUP.full_name) -> None:
        self._deployment_name = deployment_name
        self._deployment: tuple[UUID, list[str]] | None = None

    def _read_deployment(self) -> tuple[UUID, list[str]]:
        if self._deployment is None:
            with get_client(sync_client=True) as client:
                deployment = client.read_deployment_by_name(self._deployment_name)
            self._deployment = (deployment.id, list(deployment.tags))
        return self._deployment

    def find(self, run_ids: Sequence[str]) -> dict[str, RunInfo]:
        """Return the runs that exist among `run_ids`, by id (a page of ids per request)."""
        ids = [uuid for text in dict.fromkeys(run_ids) if (uuid := _uuid(text)) is not None]
        found: dict[str, RunInfo] = {}
        with get_client(sync_client=True) as client:
            for start in range(0, len(ids), PAGE):
                page = ids[start : start + PAGE]
                runs = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=page)), limit=len(page)
                )
                found.update((str(run.id), _info(run)) for run in runs)
        return found

    def create(self, spec: RunSpec) -> str:
        """Create the scheduled run (the existing one if its key was used); return its id."""
        deployment_id, tags = self._read_deployment()
        with get_client(sync_client=True) as client:
            run = client.create_flow_run_from_deployment(
                deployment_id,
                parameters={"reference": spec.reference, "number": spec.number},
                name=spec.name,
                tags=[*tags, *spec.tags],
                idempotency_key=spec.idempotency_key,
                state=Scheduled(scheduled_time=spec.scheduled_for),
            )
        return str(run.id)

    def delete(self, run_id: str) -> None:
        """Delete a run that has not started (gone already is fine)."""
        uuid = _uuid(run_id)
        if uuid is None:
            return
        with get_client(sync_client=True) as client:
            try:
                client.delete_flow_run(uuid)
            except ObjectNotFound:
                return

    def cancel(self, run_id: str) -> None:
        """Cancel a run of a case that ended; the run page says why."""
        uuid = _uuid(run_id)
        if uuid is None:
            return
        with get_client(sync_client=True) as client:
            try:
                client.set_flow_run_state(
                    uuid, Cancelled(message="the case ended: no follow-up is due"), force=True
                )
            except ObjectNotFound:
                return
