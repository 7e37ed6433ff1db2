"""Show a case in the Prefect UI: the `stage:` tag and two artifacts on the case's flow run.

The run's tags get the case's `stage:` tag (the API replaces a run's whole tag list, so the
others are kept); one Markdown artifact `case-<reference>` holds the stage timeline,
checkpoints, and what the case waits for and since when; one progress artifact
`case-<reference>-progress` the bar. The view itself is models/case_view.py.

The flows call `publish_case_view` where they decide to: before every suspend (flows/ask.py),
when a return-case run ends, after each stage of the withdrawal and follow-up flows. A flow
body re-executes from the top on each resume, so the same view is published again and again:
each artifact is updated in place, and only when its content changed, so a replay costs one
read (the artifacts; the run's tags are those the engine read with the run when the process
started, for the run the process runs, and kept as this process sets them). It is best effort:
a view that fails to publish is logged and never fails a stage.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.actions import ArtifactCreate, ArtifactUpdate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from prefect.client.schemas.objects import Artifact, FlowRun
from prefect.client.schemas.sorting import ArtifactSort
from prefect.context import FlowRunContext, TaskRunContext
from prefect.runtime import flow_run

from safepassage.models.case_view import CaseView, artifact_key, progress_key, read_view, stage_tags
from safepassage.models.settings import get_settings
from safepassage.models.sla import limits
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import process_store

logger = logging.getLogger("safepassage.case_view")


def _run_to_show(case_run_id: str | None) -> UUID | None:
    """Return the run to publish on: the case's own, else the current one; None outside a run."""
    # Outside a flow or task run (a stage task called as a plain function in tests, say) there
    # is no server to publish to, and a client would start a throwaway one.
    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return None
    # The case's own run, even from another flow (a withdrawal) that acts on the case.
    run_id = case_run_id or flow_run.id
    return UUID(run_id) if run_id else None


def _own_run(run_id: UUID) -> FlowRun | None:
    """Return this process's flow run as the engine read it, if `run_id` is that run.

    Its tags are what the server holds: only SafePassage sets a run's tags (the gateway lets no
    coordinator change them), and this process sets them through here while it runs the run.
    """
    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    return run if run is not None and run.id == run_id else None


def publish_case_view(reference: str) -> None:
    """Publish the case's tags and artifacts on its run, if changed; log, never raise, a failure.

    The view is derived and published again at the next stage, so a failure costs nothing but
    staleness; failing the stage for it would stop a person's return over a display.
    """
    try:
        store = process_store()
        with store.transaction() as session:
            view = read_view(session, reference, limits=limits(get_settings()))
            run_id = _run_to_show(get_case(session, reference).flow_run_id)
        if run_id is not None:
            publish(view, run_id)
    except Exception as exc:
        logger.warning("view of %s not published: %s", reference, type(exc).__name__)


def publish(view: CaseView, run_id: UUID) -> None:
    """Set the run's stage tag and keep its two artifacts current (two reads when unchanged)."""
    wanted: dict[str, tuple[str, Any, str]] = {
        artifact_key(view.reference): (
            "markdown",
            view.markdown(),
            f"Case {view.reference}: stage timeline and what it waits for (no personal data).",
        ),
        progress_key(view.reference): ("progress", view.progress, view.progress_text),
    }
    with get_client(sync_client=True) as client:
        own = _own_run(run_id)
        tags = list(own.tags if own is not None else client.read_flow_run(run_id).tags)
        new_tags = stage_tags(tags, view.stage)
        if new_tags != tags:
            client.update_flow_run(run_id, tags=new_tags)
            if own is not None:
                own.tags = new_tags  # the server's now; the next publish of this process reads it
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=list(wanted)),
                flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]),
            ),
            sort=ArtifactSort.CREATED_DESC,
        )
        latest: dict[str | None, Artifact] = {}
        for artifact in found:  # newest first: keep one per key
            latest.setdefault(artifact.key, artifact)
        for key, (kind, data, description) in wanted.items():
            existing = latest.get(key)
            if existing is None:
                client.create_artifact(
                    ArtifactCreate(
                        key=key, type=kind, data=data, description=description, flow_run_id=run_id
                    )
                )
            elif existing.data != data or existing.description != description:
                client.update_artifact(
                    existing.id, ArtifactUpdate(data=data, description=description)
                )
