"""The Prefect options every stage task is declared with: retries for faults, keyed results.

A task is the unit of retry, side effect and transaction (see tasks/). Two kinds exist:
`STAGE_TASK` caches its result under (case, task, attempt), so a replayed or second run of a
case reuses what was done; `LEDGER_TASK` is never cached, because its idempotency comes from
the case store's ledger instead (it reads the store afresh each time, and whatever it writes
or sends is recorded there once). Both retry unexpected faults and never SafePassage's own
errors, which would fail the same way again.
"""

from __future__ import annotations

from typing import Any

from prefect import Task
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import TaskRunContext

from safepassage.models.errors import SafePassageError
from safepassage.models.settings import get_settings


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


def _retries() -> dict[str, Any]:
    # Read when the task modules are imported: a flow-run process imports them once, with its
    # settings in the environment (SAFEPASSAGE_TASK_RETRIES, SAFEPASSAGE_TASK_RETRY_DELAY_SECONDS).
    settings = get_settings()
    return {
        "retries": settings.task_retries,
        "retry_delay_seconds": settings.task_retry_delay_seconds,
        "retry_condition_fn": retry_unless_our_error,
    }


STAGE_TASK: dict[str, Any] = {"persist_result": True, "cache_key_fn": stage_key, **_retries()}
"""Options of a stage with side effects: its result is keyed on (case, task, attempt)."""

LEDGER_TASK: dict[str, Any] = {"persist_result": False, **_retries()}
"""Options of a task that is idempotent through the ledger: never cached, always run afresh."""
