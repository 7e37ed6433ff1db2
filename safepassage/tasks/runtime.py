"""What every stage task shares: the process's store, the clock, retry policy, delivery.

A task is the unit of retry, side effect and transaction. It takes a case reference, opens its
own session, records its action in the ledger together with the stage change, the audit event
and the queued notifications, then delivers those notifications after the commit. It returns a
small PII-free result, because Prefect persists task results unencrypted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from prefect import Task, get_client
from prefect.client.schemas.objects import State, StateType, TaskRun
from prefect.context import TaskRunContext
from sqlalchemy.orm import Session

from safepassage.models.errors import CaseErased, CaseWithdrawn, SafePassageError
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store, open_store
from safepassage.models.store.orm import Case
from safepassage.models.vocabulary import Stage
from safepassage.notifications import deliver_due

logger = logging.getLogger("safepassage.tasks")

#: Retries of a stage task on an unexpected error (a database restart, a full disk).
TASK_RETRIES = int(os.environ.get("SAFEPASSAGE_TASK_RETRIES", "2"))
TASK_RETRY_DELAY_SECONDS = float(os.environ.get("SAFEPASSAGE_TASK_RETRY_DELAY_SECONDS", "5"))


@functools.cache
def case_store() -> Store:
    """Return this process's case store (opened once; a flow-run process lives for one run)."""
    return open_store()


def now() -> dt.datetime:
    """Return the current time (UTC)."""
    return dt.datetime.now(dt.UTC)


def retry_unless_our_error(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry I/O faults, never a validation or configuration error: those fail the same again."""
    try:
        state.result()
    except SafePassageError:
        return False
    except Exception:
        return True
    return False


def stage_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Key a stage's result on (case, task, attempt), so a replay or a new run reuses it."""
    attempt = parameters.get("attempt", 1)
    return f"{parameters['reference']}-{context.task.name}-{attempt}"


STAGE_TASK: dict[str, Any] = {
    "persist_result": True,
    "cache_key_fn": stage_key,
    "retries": TASK_RETRIES,
    "retry_delay_seconds": TASK_RETRY_DELAY_SECONDS,
    "retry_condition_fn": retry_unless_our_error,
}
"""Options of a task with side effects: keyed result, retries for faults only."""

READ_TASK: dict[str, Any] = {
    "persist_result": False,
    "retries": TASK_RETRIES,
    "retry_delay_seconds": TASK_RETRY_DELAY_SECONDS,
    "retry_condition_fn": retry_unless_our_error,
}
"""Options of a task that only reads the store: always fresh, never cached."""


#: A flow run in one of these states runs no more code of its own.
FINAL_RUN_STATES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED}
)


def cancel_and_wait(run_id: UUID, message: str, *, timeout: float) -> State[Any] | None:
    """Cancel a flow run unless it has ended, wait until it has; return its last state.

    A suspended or scheduled run goes straight to Cancelled (Prefect's orchestration rules do
    that, so the request is not forced); a running one is stopped by the runner or worker that
    started it, which can take a few seconds.
    """
    from prefect.states import Cancelling

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
        if state is not None and state.type not in FINAL_RUN_STATES:
            client.set_flow_run_state(run_id, Cancelling(message=message))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = client.read_flow_run(run_id).state
            if state is None or state.type in FINAL_RUN_STATES:
                break
            time.sleep(0.5)
    return state


@contextlib.contextmanager
def case_transaction(
    reference: str, *, after_withdrawal: bool = False
) -> Iterator[tuple[Store, Session, Case]]:
    """Yield the store, a session in a transaction, and the case with `reference`, locked.

    A withdrawn case refuses every stage (CaseWithdrawn, never retried): a stage that was
    running when the person withdrew must not book or notify after the compensations ran.
    Only the withdrawal's own tasks pass `after_withdrawal=True`. An erased case refuses
    everything (CaseErased): its key is gone, and nothing may be written about it again.
    """
    store = case_store()
    with store.transaction() as session:
        case = get_case(session, reference, lock=True)
        if case.erased_at is not None:
            raise CaseErased(f"case {reference} was erased: this stage does nothing")
        if case.stage == Stage.WITHDRAWN.value and not after_withdrawal:
            raise CaseWithdrawn(f"case {reference} was withdrawn: this stage does nothing")
        yield store, session, case


def deliver_now(reference: str, *, show: bool = True) -> None:
    """Deliver the case's due notifications after a commit; failures are left to the drainer.

    A receiver that is down must not fail the stage: the items stay in the outbox and the
    serving process's drainer retries them with backoff. Every stage ends here, so this is
    also where the coordinator's view of the case in the Prefect UI is brought up to date,
    unless `show` is False: the return-case flow's stages leave that to the flow, which
    publishes the view once when it stops for a person or ends (each publish costs the server
    several requests, and nobody reads the view in the second between two stages).
    """
    try:
        report = deliver_due(case_store(), reference=reference)
    except Exception as exc:
        logger.warning(
            "notifications of %s left for the drainer: %s", reference, type(exc).__name__
        )
    else:
        logger.info("notifications of %s: %s", reference, report)
    if not show:
        return
    from safepassage.tasks.case_view import show_case  # imports this module: import late

    show_case(reference)
