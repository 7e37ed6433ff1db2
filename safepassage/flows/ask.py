"""Ask a coordinator at a checkpoint without holding a process: suspend, then read the store.

The sequence of suspends must be the same on every re-execution of the flow, so each ask has
an explicit key per checkpoint, attempt and re-ask (`ticket-2`, `ticket-2-r1`). On replay an
answered checkpoint is found in the case store and not asked again: Prefect's copy of the
answer was deleted once it was stored, and a suspend whose stored answer is gone would fail.
"""

from __future__ import annotations

import contextlib
from typing import Any

from prefect.flow_runs import suspend_flow_run
from prefect.runtime import flow_run
from pydantic import ValidationError

from safepassage.flows.forms import RUN_INPUTS, describe
from safepassage.models.checkpoints import Checkpoint
from safepassage.tasks.checkpoints import accept_answer, checkpoint_status, mark_waiting, pause_key

#: Give up re-asking after this many refused answers in a row; the run fails and says why.
MAX_REFUSALS = 20


def ask(
    reference: str, checkpoint: Checkpoint, *, attempt: int = 1, escort_required: bool = False
) -> dict[str, Any]:
    """Return the PII-free summary of the accepted answer, suspending until there is one."""
    while True:
        status = checkpoint_status(reference, checkpoint.value, attempt)
        if status.answered:
            return status.summary
        if status.refusals >= MAX_REFUSALS:
            raise RuntimeError(f"{checkpoint.value} refused {MAX_REFUSALS} answers in a row")
        key = pause_key(checkpoint.value, attempt, status.refusals)
        mark_waiting(reference, checkpoint.value, attempt)
        form = RUN_INPUTS[checkpoint].with_initial_data(
            description=describe(
                checkpoint,
                reference=reference,
                attempt=attempt,
                escort_required=escort_required,
                problems=status.last_problems,
            )
        )
        # An answer submitted around the UI's checks fails the form's validation here;
        # accept_answer reads the raw answer and names the fields at fault. The error's own
        # text holds the values, so it is dropped unlogged.
        with contextlib.suppress(ValidationError):
            suspend_flow_run(wait_for_input=form, key=key, timeout=None)
        acceptance = accept_answer(reference, checkpoint.value, attempt, key, flow_run.id)
        if acceptance.accepted:
            return acceptance.summary
