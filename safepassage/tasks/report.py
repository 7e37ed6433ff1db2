"""Publish the office's case report as Prefect artifacts: a table and a Markdown summary.

The figures come from models/report.py (the same functions as `safepassage report`); this task
only puts them where coordinators and managers look, the Prefect UI's Artifacts page, under
stable keys, so each daily run adds a version and the latest is always one click away.
"""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from safepassage.models.clock import utcnow
from safepassage.models.report import build_report, markdown
from safepassage.models.settings import get_settings
from safepassage.models.sla import limits
from safepassage.models.store.db import process_store
from safepassage.orchestration.task_options import LEDGER_TASK

TABLE_KEY = "case-report"
SUMMARY_KEY = "case-report-summary"


@task(**LEDGER_TASK)
def publish_case_report() -> dict[str, int]:
    """Compute the report and publish it; return its headline counts (no personal data)."""
    store = process_store()
    with store.transaction() as session:
        report = build_report(
            session, store.master_key, now=utcnow(), limits=limits(get_settings())
        )
    create_table_artifact(
        report.rows(),
        key=TABLE_KEY,
        description="Cases per programme and stage, waits, time limits, overdue follow-ups, "
        "failed deliveries (no personal data).",
    )
    create_markdown_artifact(
        markdown(report), key=SUMMARY_KEY, description="The case report, as tables to read."
    )
    return {
        "cases": report.total_cases,
        "waiting": sum(w.cases for w in report.waiting),
        "over_limit": len(report.breaches),
        "followups_overdue": sum(f.count for f in report.followups_overdue),
        "deliveries_failed": sum(d.count for d in report.deliveries_failed),
    }
