"""The `case-report` flow: the daily office dashboard, and the time-limit check before it.

One run a day (and on demand from the UI's deployment page) does both: it alerts coordinators
to each case newly past its checkpoint's limit, then publishes the report that shows every case
past its limit among the other figures. Checking in one run for every case costs one process a
day, instead of a flow-run process per case.
"""

from __future__ import annotations

from prefect import flow

from safepassage.tasks.report import publish_case_report
from safepassage.tasks.sla import check_time_limits

FLOW_NAME = "case-report"
#: Every morning, before the coordinators' day starts (UK time, whatever the server's zone).
SCHEDULE_CRON = "0 7 * * *"
SCHEDULE_TIMEZONE = "Europe/London"


@flow(name=FLOW_NAME, log_prints=False)
def case_report() -> dict[str, int]:
    """Alert on cases past their time limits, then publish the report; return its counts."""
    new_breaches = check_time_limits()
    return {"new_breaches": new_breaches, **publish_case_report()}
