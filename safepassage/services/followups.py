"""Follow-ups: reconcile their runs now (and the demo's compressed clock), correct an arrival."""

from __future__ import annotations

import datetime as dt
from typing import Any

from safepassage.models.clock import utcnow
from safepassage.models.errors import ConfigurationError
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import opened_store
from safepassage.models.store.followups import correct_arrival
from safepassage.orchestration.connection import connect
from safepassage.orchestration.followup_runs import PrefectFollowUpRuns
from safepassage.tasks.followups import reconcile_now


def reconcile_followups_now(
    reference: str | None = None, *, compressed: bool = False
) -> dict[str, Any]:
    """Run the follow-up reconcile now (of one case, or all) and return its report.

    `compressed` is the demo's compressed clock: the case's pending follow-ups are scheduled
    for now rather than months after arrival. Never use it on a real case.
    """
    connect(get_settings())
    with opened_store() as store:
        if reference is not None:
            with store.transaction() as session:
                get_case(session, reference)  # CaseNotFound before anything is scheduled
        report = reconcile_now(
            store, PrefectFollowUpRuns(), at=utcnow(), reference=reference, compressed=compressed
        )
    return report.as_dict()


def correct_arrival_date(reference: str, arrived_on: dt.date, *, actor: str) -> dict[str, Any]:
    """Re-plan a case's follow-ups from a corrected arrival date; move its runs if Prefect is up.

    The store is changed first and alone decides; if no server answers, the daily
    `followup-scheduler` moves the runs (the result says so).
    """
    with opened_store() as store, store.transaction() as session:
        case = get_case(session, reference)
        moved = correct_arrival(session, case, arrived_on, actor=actor, now=utcnow())
        result: dict[str, Any] = {
            "reference": reference,
            "arrived_on": arrived_on.isoformat(),
            "moved": [{"number": r.number, "due_on": r.due_on.isoformat()} for r in moved],
        }
    try:
        result["runs"] = reconcile_followups_now(reference)
    except ConfigurationError:  # no server: the store holds the new plan; the scheduler follows
        result["runs"] = None
    return result
