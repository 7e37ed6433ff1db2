"""The office's figures: cases per programme and stage, waits and time limits, follow-ups.

The same figures as the daily `case-report` run publishes in the Prefect UI, computed from the
case store alone (no Prefect server needed) and free of personal data. Reading them changes
nothing: the time-limit alerts are raised by the daily run, not by looking at the report.
"""

from __future__ import annotations

from safepassage.models.clock import utcnow
from safepassage.models.report import Report, build_report
from safepassage.models.settings import get_settings
from safepassage.models.sla import limits
from safepassage.models.store.db import opened_store


def office_report() -> Report:
    """Compute the office's report now."""
    rules = limits(get_settings())  # a bad SAFEPASSAGE_SLA_DAYS is named before any work
    with opened_store() as store, store.transaction() as session:
        return build_report(session, store.master_key, now=utcnow(), limits=rules)
