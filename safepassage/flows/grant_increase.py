"""The grant-increase flow: one run per increase request of a case's reintegration grant.

The mission asks for an increase with the service provider's recommendation, at any time after
the plan (the gateway, or a coordinator with `safepassage grant request`); the request is
recorded in the case store and this run asks a coordinator at `grant-approval` (at most the
recommendation, within the office's ceiling), then records the decision and tells the mission.
Its parameters are the reference and the request's number. Orchestration only, as in
return_case.py: a resumed run re-executes from the top and the store says what was done.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from safepassage.flows.ask import ask
from safepassage.models.checkpoints import Checkpoint
from safepassage.orchestration.case_view import publish_case_view
from safepassage.orchestration.catalog import GRANT_INCREASE
from safepassage.tasks.grant import conclude_increase, open_increase


@flow(
    name=GRANT_INCREASE.flow_name,
    flow_run_name="grant-increase-{reference}-{number}",
    persist_result=True,
    log_prints=False,
)
def grant_increase(reference: str, number: int) -> dict[str, Any]:
    """Ask a coordinator to decide on increase request `number` of the case's grant."""
    opened = open_increase(reference, number, str(flow_run.id))
    if not opened.proceed:
        return {"reference": reference, "request": number, "ended": opened.state}
    ask(reference, Checkpoint.GRANT_APPROVAL, attempt=number)
    decision = conclude_increase(reference, number)
    publish_case_view(reference)
    return {"reference": reference, "request": number, **decision.model_dump()}
