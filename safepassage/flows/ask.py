"""Ask a coordinator at a checkpoint without holding a process: suspend, then read the store.

The sequence of suspends must be the same on every re-execution of the flow, so each ask has
an explicit key per checkpoint, attempt and re-ask (`ticket-2`, `ticket-2-r1`). On replay an
answered checkpoint is found in the case store and not asked again: Prefect's copy of the
answer was deleted once it was stored, and a suspend whose stored answer is gone would fail.
The ask the run was just resumed from (its suspend has fired: its key is among the run's pause
keys) is not suspended again either: Prefect would refuse the suspend and hand back the answer,
a state change and a read for nothing; the answer is read where it is judged (accept_answer).
"""

from __future__ import annotations

import contextlib
from typing import Any

from prefect.context import FlowRunContext
from prefect.flow_runs import suspend_flow_run
from prefect.runtime import flow_run
from pydantic import ValidationError

from safepassage.flows.forms import RUN_INPUTS, describe
from safepassage.models.checkpoints import JOURNEY, Checkpoint
from safepassage.orchestration.case_view import publish_case_view
from safepassage.orchestration.pause_key import PauseKey
from safepassage.tasks.checkpoints import MAX_REFUSALS, accept_answer, checkpoint_status
from safepassage.tasks.risk import conclude_risk_review


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
        status = checkpoint_status(
            reference, checkpoint.value, attempt, ask=True, gated=gated, fired=fired_pause_keys()
        )
        if status.answered:
            summary, hold = status.summary, status.open_hold
            break
        if status.refusals >= MAX_REFUSALS:
            raise RuntimeError(f"{checkpoint.value} refused {MAX_REFUSALS} answers in a row")
        if gated and status.open_hold is not None:
            hold_gate(reference, status.open_hold)
            continue
        key = PauseKey(checkpoint, attempt, status.refusals)
        if status.waiting:  # marked waiting just now; else resumed from this very suspend
            publish_case_view(reference)  # the UI says what the case waits for, then it suspends
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


def fired_pause_keys() -> frozenset[str]:
    """Return the keys of the suspends this run has fired (and been resumed from since).

    Prefect refuses a suspend whose key is among them. The engine read them with the run when
    this process started, after any retry or restart had reset them; nothing adds one until the
    next suspend, which ends the process. Outside a flow run, none.
    """
    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    return frozenset(run.empirical_policy.pause_keys or ()) if run is not None else frozenset()
