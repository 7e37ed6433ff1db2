"""The `case-report` flow: the daily office dashboard, and the time-limit check before it.

One run a day (and on demand from the UI's deployment page) does both: it alerts coordinators
to each case newly past its checkpoint's limit, then publishes the report that shows every case
past its limit among the other figures. Checking in one run for every case costs one process a
day, instead of a flow-run process per case.
"""

from __future__ import annotations

from prefect import flow

from safepassage.orchestration.catalog import CASE_REPORT
from safepassage.tasks.report import publish_case_report
from safepassage.tasks.sla import check_time_limits


@flow(name=CASE_REPORT.flow_name, log_prints=False)
def case_report() -> dict[str, int]:
    """Alert on cases past their time limits, then publish the report; return its counts."""
    new_breaches = check_time_limits()
    return {"new_breaches": new_breaches, **publish_case_report()}
