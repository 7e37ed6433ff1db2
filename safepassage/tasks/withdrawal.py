"""Withdrawal: the person no longer wishes to return. Stop the case, then undo what was arranged.

Cancelling a suspended run moves it straight to Cancelled: none of its code runs, so the
compensations are this module's own tasks, run by the `withdraw-case` flow. Each is recorded in
the case store's ledger and happens once, however often the withdrawal is asked for. The
return's other ending before departure, a coordinator's stop (`stop_travel`), undoes the same
booking and is here beside it.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from prefect import task
from pydantic import BaseModel
from sqlalchemy.orm import Session

from safepassage.models.clock import utcnow
from safepassage.models.crypto import MasterKey
from safepassage.models.errors import CaseStateError
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.db import process_store
from safepassage.models.store.orm import Case
from safepassage.models.store.workflow import (
    find_action,
    latest_action_attempt,
    record_action,
    set_stage,
)
from safepassage.models.vocabulary import BEFORE_DEPARTURE, Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.runs import cancel_and_wait
from safepassage.orchestration.task_options import LEDGER_TASK

#: Up to and including the wait for the arrival report the return can be withdrawn; after the
#: handover the person is home, and what remains (reintegration) is voluntary support.
WITHDRAWABLE = frozenset(s.value for s in (*BEFORE_DEPARTURE, Stage.ARRIVAL))
CANCEL_WAIT_SECONDS = 60.0


class Withdrawal(BaseModel):
    """What the withdrawal found: the flow run to stop (no personal data)."""

    flow_run_id: str | None
    from_stage: str


def check_withdrawable(case: Case) -> None:
    """Raise CaseStateError unless the case can still be withdrawn (or already was)."""
    if case.stage != Stage.WITHDRAWN.value and case.stage not in WITHDRAWABLE:
        raise CaseStateError(
            f"case {case.reference} is at stage {case.stage}: a withdrawal applies before the "
            "arrival is confirmed"
        )


@task(**LEDGER_TASK)
def mark_withdrawn(reference: str) -> Withdrawal:
    """Move the case to `withdrawn` first, so that no stage of its run does anything more."""
    at = utcnow()
    with case_transaction(reference, after_withdrawal=True) as (_, session, case):
        check_withdrawable(case)
        done = find_action(session, case, "withdrawn")
        if done is not None:  # asked again: report the first withdrawal
            return Withdrawal(flow_run_id=case.flow_run_id, from_stage=done.detail["from_stage"])
        from_stage = case.stage
        record_action(session, case, "withdrawn", now=at, detail={"from_stage": from_stage})
        set_stage(session, case, Stage.WITHDRAWN, actor="withdraw-case", now=at)
        return Withdrawal(flow_run_id=case.flow_run_id, from_stage=from_stage)


@task(**LEDGER_TASK)
def cancel_case_run(flow_run_id: str | None) -> str | None:
    """Cancel the case's return-case run and wait until it has stopped; return its end state."""
    if flow_run_id is None:
        return None
    state = cancel_and_wait(
        UUID(flow_run_id), "withdrawn by the person", timeout=CANCEL_WAIT_SECONDS
    )
    return None if state is None else state.name


def _open_booking(session: Session, case: Case) -> int | None:
    """Return the attempt of a booking made and not yet used or cancelled, if there is one."""
    attempt = latest_action_attempt(session, case, "ticket-booked")
    if attempt is None:
        return None
    used = any(
        find_action(session, case, action, attempt) is not None
        for action in ("departed", "not-boarded", "travel-rescheduled")
    )
    return None if used else attempt


def cancel_open_booking(
    session: Session, master_key: MasterKey, case: Case, *, reason: str, at: dt.datetime
) -> int | None:
    """Request the open booking's cancellation once (coordinators, mission, embassy are told)."""
    attempt = _open_booking(session, case)
    detail = {"reason": reason}
    if attempt is not None and record_action(
        session, case, "booking-cancellation-requested", attempt, now=at, detail=detail
    ):
        queue_notifications(
            session, master_key, case, Event.BOOKING_CANCELLED,
            attempt=f"cancel-{attempt}", facts={"reason": reason}, now=at,
        )  # fmt: skip
    return attempt


def stop_travel(
    session: Session,
    master_key: MasterKey,
    case: Case,
    *,
    why: str,
    label: str,
    at: dt.datetime,
) -> None:
    """End the return at stage `stopped`: cancel an open booking, tell mission and embassy.

    The one ending of a coordinator's stop, whatever its cause (a raised risk, no mission able
    to receive the person). `why` is a category in plain words, never about the person: it
    goes to the mission and the embassy. The caller records the stop in the ledger first and
    calls this only when that is new; `label` keys its notifications.
    """
    cancel_open_booking(session, master_key, case, reason=why, at=at)
    set_stage(session, case, Stage.STOPPED, actor="flow", now=at, detail={"why": why})
    queue_notifications(
        session, master_key, case, Event.RETURN_STOPPED, attempt=label, facts={"reason": why},
        now=at,
    )  # fmt: skip


@task(**LEDGER_TASK)
def request_booking_cancellation(reference: str, reason: str) -> int | None:
    """Ask for the open booking to be cancelled (once); return its attempt, or None if none."""
    with case_transaction(reference, after_withdrawal=True) as (store, session, case):
        attempt = cancel_open_booking(session, store.master_key, case, reason=reason, at=utcnow())
    deliver_now(process_store(), reference)
    return attempt


@task(**LEDGER_TASK)
def announce_withdrawal(reference: str) -> None:
    """Tell the mission and the embassy the person withdrew (once)."""
    at = utcnow()
    with case_transaction(reference, after_withdrawal=True) as (store, session, case):
        if record_action(session, case, "withdrawal-announced", now=at):
            queue_notifications(
                session, store.master_key, case, Event.CASE_WITHDRAWN,
                facts={"reason": "the person withdrew from the voluntary return"}, now=at,
            )  # fmt: skip
    deliver_now(process_store(), reference)
