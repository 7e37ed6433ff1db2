"""The follow-up flows: one run per follow-up of a case, and the daily scheduler.

`reintegration-followup` tells the mission a follow-up is due, suspends for its report (the
`followup-report` checkpoint, answered in the Prefect UI or with `safepassage resume`), then
alerts coordinators of a raised risk and closes the case after the last report. Its only
parameters are the reference and the follow-up number. Orchestration only, as in
return_case.py: a resumed run re-executes from the top and the store says what was done.

`followup-scheduler` keeps Prefect's scheduled follow-up runs in step with the case store.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from safepassage.flows.ask import ask
from safepassage.models.checkpoints import Checkpoint
from safepassage.orchestration.case_view import publish_case_view
from safepassage.orchestration.catalog import FOLLOWUP_SCHEDULER, REINTEGRATION_FOLLOWUP
from safepassage.tasks.followups import conclude_followup, open_followup, reconcile_followups
from safepassage.tasks.grant import start_pending_increases


@flow(
    name=REINTEGRATION_FOLLOWUP.flow_name,
    flow_run_name="followup-{reference}-{number}",
    persist_result=True,
    log_prints=False,
)
def reintegration_followup(reference: str, number: int) -> dict[str, Any]:
    """Ask the mission for follow-up `number` of the case and act on its report."""
    opened = open_followup(reference, number)
    if not opened.proceed:
        return {"reference": reference, "follow_up": number, "ended": opened.state}
    # The ask's attempt is the follow-up number: its keys are `followup-report-<n>`. The ask
    # shows the case in the UI before it suspends; so does the end of the run.
    ask(reference, Checkpoint.FOLLOWUP_REPORT, attempt=number)
    outcome = conclude_followup(reference, number)
    publish_case_view(reference)
    return {"reference": reference, "follow_up": number, "closed": outcome.closed}


@flow(name=FOLLOWUP_SCHEDULER.flow_name, log_prints=False)
def followup_scheduler() -> dict[str, Any]:
    """Create, move or recreate the follow-up runs due soon; escalate overdue reports."""
    report = reconcile_followups()
    # An increase request made while Prefect did not answer gets its approval run here.
    report["grant_increases_started"] = start_pending_increases()
    for reference in report["escalated_cases"]:  # their views now say the report is late
        publish_case_view(reference)
    return report
