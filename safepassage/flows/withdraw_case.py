"""The withdraw-case flow: stop a case's return and undo what was arranged, each thing once.

Cancelling the return-case run cannot run that run's own code (a suspended run goes straight to
Cancelled), so the compensations live here, as tasks recorded in the case store's ledger.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from safepassage.orchestration.case_view import publish_case_view
from safepassage.orchestration.catalog import WITHDRAW_CASE
from safepassage.tasks.withdrawal import (
    announce_withdrawal,
    cancel_case_run,
    mark_withdrawn,
    request_booking_cancellation,
)


@flow(name=WITHDRAW_CASE.flow_name, persist_result=True, log_prints=False)
def withdraw_case(reference: str) -> dict[str, Any]:
    """Mark the case withdrawn, cancel its run and open booking, tell mission and embassy."""
    withdrawal = mark_withdrawn(reference)
    run_state = cancel_case_run(withdrawal.flow_run_id)
    booking = request_booking_cancellation(reference, "the person withdrew")
    announce_withdrawal(reference)
    publish_case_view(reference)  # on the case's own run: the UI shows it withdrawn
    return {"reference": reference, "run": run_state, "booking_cancelled": booking}
