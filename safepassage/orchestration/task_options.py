"""The Prefect options every stage task is declared with: retries for faults, keyed results.

A task is the unit of retry, side effect and transaction (see tasks/). Two kinds exist:
`stage_task` caches its result under (case, task, attempt), so a replayed or second run of a
case reuses what was done; `LEDGER_TASK` is never cached, because its idempotency comes from
the case store's ledger instead (it reads the store afresh each time, and whatever it writes
or sends is recorded there once). Both retry unexpected faults and never SafePassage's own
errors, which would fail the same way again.

A flow re-executes from the top on every resume, so each completed stage is called again. A
`stage_task` reads its persisted result itself then, as Prefect's cache lookup would, instead of
creating a task run that ends Cached: each such run cost the Prefect server three events and a
task run's rows (about 20 ms of its CPU), a dozen per resume late in a case, for nothing anyone
reads. The result is the same record under the same key; a stage without one runs as a task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from prefect import Task
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import FlowRunContext, TaskRunContext
from prefect.results import ResultStore
from prefect.settings import PREFECT_TASKS_REFRESH_CACHE
from prefect.utilities.callables import get_call_parameters

from safepassage.models.errors import SafePassageError, StoreUnreachable
from safepassage.models.settings import get_settings

P = ParamSpec("P")
R = TypeVar("R")


def retry_unless_our_error(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry I/O faults, never a validation or configuration error: those fail the same again.

    A store that did not answer is the exception: mid-run it is a database restarting, not a
    wrong setting (the run opened the same store a moment before), so it is retried like any I/O.
    """
    try:
        state.result()
    except StoreUnreachable:
        return True
    except SafePassageError:
        return False
    except Exception:
        return True
    return False


def stage_result_key(task_name: str, parameters: Mapping[str, Any]) -> str:
    """Return the key a stage's result is stored under: (case, task, attempt)."""
    return f"{parameters['reference']}-{task_name}-{parameters.get('attempt', 1)}"


def stage_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Key a stage's result on (case, task, attempt), so a replay or a new run reuses it."""
    return stage_result_key(context.task.name, parameters)


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


class StageTask(Task[P, R]):
    """A stage task (STAGE_TASK's options) whose completed call replays without a task run."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:  # type: ignore[override]
        """Return the stage's persisted result if it completed before, else run it as a task."""
        if "return_state" not in kwargs and "wait_for" not in kwargs:
            found, result = self._persisted(args, kwargs)
            if found:
                return result  # type: ignore[no-any-return]
        return super().__call__(*args, **kwargs)

    def _persisted(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, Any]:
        """Look the call's result up as Prefect's cache would: (found, result).

        Only in a flow run (not inside a task, not with the cache refreshed); any doubt, such as
        a record that cannot be read, leaves the decision to Prefect, which runs the task.
        """
        context = FlowRunContext.get()
        if context is None or TaskRunContext.get() is not None:
            return False, None
        refresh = self.refresh_cache
        if refresh or (refresh is None and PREFECT_TASKS_REFRESH_CACHE.value()):
            return False, None
        try:
            key = stage_result_key(self.name, get_call_parameters(self.fn, args, kwargs))
            # As the task engine builds its store: the flow run's, with this task's options.
            store = context.result_store.update_for_task(self, _sync=True)  # type: ignore[call-arg]
            if not isinstance(store, ResultStore) or not store.exists(key):
                return False, None
            return True, store.read(key).result
        except Exception:
            return False, None


def stage_task(fn: Callable[P, R]) -> StageTask[P, R]:
    """Declare a stage with side effects: keyed, persisted, retried, replayed from its result."""
    return StageTask(fn, **STAGE_TASK)
