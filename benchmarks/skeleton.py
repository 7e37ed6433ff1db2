"""Prefect's own floor: a flow with as many tasks and suspends as a case's first two stages.

It mirrors the return-case path from intake to the pre-departure checkpoint (two checkpoints,
the same persisted task calls and suspends) and does nothing else: no case store, no encryption, no
notifications. `python benchmarks/skeleton.py` serves it, as `safepassage serve` serves the
real flows, with the same flow-run limit.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from prefect import flow, serve, task
from prefect.context import TaskRunContext
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput

FLOW_NAME = "skeleton-case"


class SkeletonForm(RunInput):
    entered_by: str
    note: str


def key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return f"{parameters['reference']}-{context.task.name}-{parameters.get('step', 0)}"


@task(persist_result=True, cache_key_fn=key)
def stage(reference: str, step: int) -> dict[str, Any]:
    return {"reference": reference, "step": step}


@task(persist_result=False)
def look(reference: str, step: int) -> bool:
    return False


def checkpoint(reference: str, name: str) -> None:
    # The pipeline's ask(): a status read, a waiting mark, the suspend, the acceptance.
    look(reference, 1)
    look(reference, 2)
    suspend_flow_run(wait_for_input=SkeletonForm, key=f"{name}-1", timeout=None)
    look(reference, 3)


@flow(name=FLOW_NAME, persist_result=True)
def skeleton_case(reference: str) -> dict[str, Any]:
    look(reference, 0)  # claim_case_run
    stage(reference, 1)  # check_identification
    stage(reference, 2)  # request_travel_document
    checkpoint(reference, "travel-document")
    stage(reference, 3)  # record_travel_document
    stage(reference, 4)  # begin_pre_departure
    checkpoint(reference, "pre-departure")
    return {"reference": reference}


def main() -> None:
    """Serve the skeleton: `skeleton.py [LIMIT] [warm|prefect]` (the flow-run processes'
    starter: forks of SafePassage's warm parent, or Prefect's own, its default)."""
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    deployment = skeleton_case.to_deployment(name=FLOW_NAME, tags=["benchmark"])
    if sys.argv[2:3] == ["warm"]:
        from safepassage.deployments.warm.parent import WarmParent
        from safepassage.deployments.warm.runner import serve_runs

        parent = WarmParent()
        if not parent.start():
            raise SystemExit("the warm parent did not start")
        serve_runs([deployment], limit=limit, parent=parent)  # type: ignore[list-item]
    else:
        serve(deployment, limit=limit, print_starting_message=False)  # type: ignore[arg-type]
    os._exit(0)


if __name__ == "__main__":
    main()
