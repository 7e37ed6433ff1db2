"""The office's figures: cases per programme and stage, waits and time limits, follow-ups.

The same figures as the daily `case-report` run publishes in the Prefect UI, computed from the
case store alone (no Prefect server needed) and free of personal data. Reading them changes
nothing: the time-limit alerts are raised by the daily run, not by looking at the report.
"""

from __future__ import annotations

from safepassage.models.clock import utcnow
from safepassage.models.intake import reason_option
from safepassage.models.report import Report, build_report
from safepassage.models.settings import get_settings
from safepassage.models.sla import limits
from safepassage.models.store.cases import get_case, log_disclosure
from safepassage.models.store.db import opened_store

#: How an export of late cases' references shows in each case's audit trail (`audit REF`).
REFERENCE_EXPORT = "export: report --csv --with-references"
#: What of each case such an export hands out.
EXPORTED_RECORDS = ["reference", "checkpoint and days waited"]


def office_report() -> Report:
    """Compute the office's report now."""
    rules = limits(get_settings())  # a bad SAFEPASSAGE_SLA_DAYS is named before any work
    with opened_store() as store, store.transaction() as session:
        return build_report(session, store.master_key, now=utcnow(), limits=rules)


def record_reference_export(figures: Report, *, actor: str, reason: str) -> list[str]:
    """Record, in each late case's audit trail, that its reference goes out in a report file.

    Called before the file is written: no record, no file. The reason stays in the event log
    after an erasure, so it must name no one (the --reason help says so). Returns the
    references recorded.
    """
    why = reason_option(reason)
    references = sorted({b.reference for b in figures.breaches})
    now = utcnow()
    with opened_store() as store, store.transaction() as session:
        for reference in references:
            log_disclosure(
                session,
                get_case(session, reference),
                EXPORTED_RECORDS,
                actor=actor,
                purpose=f"{REFERENCE_EXPORT} ({why})",
                now=now,
            )
    return references
