"""The `deliver-notifications` flow: deliver what is due in the outbox, for operators.

Day to day, stage tasks deliver their own items right after committing and the serving
process's drainer retries the rest; this flow is for an operator who wants a run on demand or
on a schedule (after an outage, say), visible in the Prefect UI. It calls the same function.
"""

from __future__ import annotations

from prefect import flow

from safepassage.models.store.db import opened_store
from safepassage.notifications import deliver_due
from safepassage.orchestration.catalog import DELIVER_NOTIFICATIONS


@flow(name=DELIVER_NOTIFICATIONS.flow_name, log_prints=False)
def deliver_notifications(reference: str | None = None, limit: int = 1000) -> dict[str, int]:
    """Deliver due notifications (of one case if `reference` is given) and return the counts.

    The result holds counts only: Prefect persists results unencrypted.
    """
    with opened_store() as store:
        return deliver_due(store, reference=reference, limit=limit).as_dict()
