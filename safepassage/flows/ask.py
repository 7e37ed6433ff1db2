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
from safepassage.models.checkpoints import JOURNEY, Checkpoint
from safepassage.orchestration.case_view import publish_case_view
from safepassage.orchestration.pause_key import PauseKey
from safepassage.tasks.checkpoints import accept_answer, checkpoint_status, mark_waiting
from safepassage.tasks.risk import conclude_risk_review

#: Give up re-asking after this many refused answers in a row; the run fails and says why.
MAX_REFUSALS = 20


class TravelStopped(Exception):
    """A coordinator ruled that a raised risk stops travel: the return ends here."""


def ask(
    reference: str, checkpoint: Checkpoint, *, attempt: int = 1, escort_required: bool = False
) -> dict[str, Any]:
    """Return the PII-free summary of the accepted answer, suspending until there is one.

    At a journey checkpoint a raised risk holds the case before the form is shown and again
    before the flow passes on: a coordinator must rule on it first (see `hold_gate`).
    """
    gated = checkpoint in JOURNEY
    while True:
        status = checkpoint_status(reference, checkpoint.value, attempt)
        if status.answered:
            summary, hold = status.summary, status.open_hold
            break
        if status.refusals >= MAX_REFUSALS:
            raise RuntimeError(f"{checkpoint.value} refused {MAX_REFUSALS} answers in a row")
        if gated and status.open_hold is not None:
            hold_gate(reference, status.open_hold)
            continue
        key = PauseKey(checkpoint, attempt, status.refusals)
        mark_waiting(reference, checkpoint.value, attempt)
        publish_case_view(reference)  # the UI says what the case waits for before the run suspends
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
            suspend_flow_run(wait_for_input=form, key=str(key), timeout=None)
        acceptance = accept_answer(reference, key, flow_run.id)
        if acceptance.accepted:
            summary, hold = acceptance.summary, acceptance.open_hold
            break
    boarded = checkpoint is Checkpoint.DEPARTURE and summary.get("boarded")
    if gated and hold is not None and not boarded:
        hold_gate(reference, hold)
    return summary


def hold_gate(reference: str, hold: int) -> None:
    """Ask a coordinator to rule on each open risk hold; raise TravelStopped if one says stop."""
    while True:
        review = ask(reference, Checkpoint.RISK_REVIEW, attempt=hold)
        if not conclude_risk_review(reference, hold, review["approved"]):
            raise TravelStopped(reference)
        status = checkpoint_status(reference, Checkpoint.RISK_REVIEW.value, hold)
        if status.open_hold is None:
            return
        hold = status.open_hold
