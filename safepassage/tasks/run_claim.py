"""One active return-case run per case, whatever is clicked or submitted twice.

The case row records the run that owns the case. A run starting for a case owned by another
run that is still going (a second "Run" click in the UI, two workers handed two runs of one
case) stands down at once; the lock on the case row settles two that start together. A run
whose owner has ended for good (failed, cancelled, crashed) takes over: that is how a
coordinator restarts a case.
"""

from __future__ import annotations

from prefect import task
from prefect.runtime import flow_run
from pydantic import BaseModel

from safepassage.models.store.case_transaction import case_transaction
from safepassage.orchestration.runs import run_has_ended
from safepassage.orchestration.task_options import LEDGER_TASK


class RunClaim(BaseModel):
    """Whether this run owns its case, and which run does if not."""

    claimed: bool
    owner: str | None


@task(**LEDGER_TASK)
def claim_case_run(reference: str) -> RunClaim:
    """Make this run the case's owner unless another live run owns it."""
    this_run = str(flow_run.id)
    with case_transaction(reference) as (_, _session, case):
        owner = case.flow_run_id
        if owner in (None, this_run) or run_has_ended(owner):
            case.flow_run_id = this_run
            return RunClaim(claimed=True, owner=this_run)
        return RunClaim(claimed=False, owner=owner)
