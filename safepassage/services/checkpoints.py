"""Where a case stands, and answering the checkpoint it waits at (as the Prefect UI form would).

`case_status` (`safepassage status`) reads the store and asks the Prefect server over its REST
API, without importing prefect (about a second of the command's time); answering imports it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import CaseStateError, FieldProblem, IntakeInvalid
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import opened_store
from safepassage.models.store.followups import waiting_run_ids
from safepassage.models.store.grant import waiting_grant_run_ids
from safepassage.models.store.orm import Case
from safepassage.models.vocabulary import FINAL_STAGES
from safepassage.orchestration.connection import connect
from safepassage.orchestration.pause_key import PauseKey
from safepassage.orchestration.prefect_api import PrefectApi, RunStatus, waiting_runs


def case_status(reference: str) -> dict[str, Any]:
    """Return a case's status as the CLI's JSON shows it (store and Prefect together)."""
    address = connect(get_settings())
    api = PrefectApi.from_environment(address.api_url)
    with opened_store() as store, store.transaction() as session:
        case = get_case(session, reference)
        stage, case_run_id = case.stage, case.flow_run_id
        side_runs = _side_run_ids(session, case)
    # A case at a follow-up (or a grant increase) waits in that run, not its return-case run.
    runs = waiting_runs(api, case_run_id, side_runs)
    flow_run_id, run = runs[0] if runs else (None, None)
    waiting_for = run.waiting_for.value if run and run.waiting_for else None
    ended = stage in {s.value for s in FINAL_STAGES}
    return {
        "reference": reference,
        "stage": stage,
        "status": "ended" if ended else "waiting" if waiting_for else "active",
        "waiting_for": waiting_for,
        "attempt": run.attempt if run else None,
        "run_state": run.state_name if run else None,
        "flow_run_id": flow_run_id,
        "ui_url": address.run_url(flow_run_id) if flow_run_id else None,
        # Every follow-up waiting for its report (several can, at once), by number.
        "waiting_followups": sorted(
            r.attempt for _, r in runs if r.waiting_for is Checkpoint.FOLLOWUP_REPORT and r.attempt
        ),
    }


def answer_checkpoint(
    reference: str, raw: Any, *, expected: str | None = None, attempt: int | None = None
) -> Checkpoint:
    """Validate `raw` against the checkpoint the case waits at, resume the run, return which.

    The path of `safepassage resume` and of the demo. `expected` may name the attempt too
    (`followup-report-3`), as `attempt` does: needed when several follow-ups wait at once.
    """
    from safepassage.orchestration.runs import resume_run  # noqa: PLC0415 - imports prefect (3 s); `status` needs none of it
    from safepassage.tasks.checkpoints import history_of, validate_answer  # noqa: PLC0415 - as above

    expected, pinned = _split_expected(expected)
    attempt = attempt if attempt is not None else pinned
    address = connect(get_settings())
    api = PrefectApi.from_environment(address.api_url)
    with opened_store() as store, store.transaction() as session:
        case = get_case(session, reference)
        if case.flow_run_id is None:
            raise CaseStateError(
                f"case {reference} has no flow run yet: is `safepassage serve` up?"
            )
        runs = waiting_runs(api, case.flow_run_id, _side_run_ids(session, case))
        flow_run_id, run = _the_waiting_run(reference, _at(runs, expected), attempt)
        if run.waiting_for is None or run.pause_key is None:
            raise CaseStateError(
                f"case {reference} is not waiting at a checkpoint (stage {case.stage}, "
                f"run {run.state_name}): see `safepassage status {reference}`"
            )
        _check_expected(expected, run.waiting_for)
        answer, problems = validate_answer(
            run.waiting_for, raw, history_of(session, store.master_key, case)
        )
    if answer is None or problems:
        raise IntakeInvalid(problems, source=f"answer to {run.waiting_for.value}")
    resume_run(flow_run_id, run.pause_key, answer.model_dump(mode="json"))
    return run.waiting_for


def _side_run_ids(session: Session, case: Case) -> list[str]:
    """Return the runs besides the case's own that may wait for an answer: follow-ups and
    grant increases."""
    return waiting_grant_run_ids(session, case) + waiting_run_ids(session, case)


def _at(runs: list[tuple[str, RunStatus]], expected: str | None) -> list[tuple[str, RunStatus]]:
    """Return the runs waiting at `expected` when any does (a grant approval and a follow-up
    can wait at once); else all, for the caller to say what the case waits at."""
    named = [(i, r) for i, r in runs if r.waiting_for is not None and r.waiting_for == expected]
    return named or runs


def _split_expected(expected: str | None) -> tuple[str | None, int | None]:
    """Split `followup-report-3` into checkpoint and attempt; other names stay as they are."""
    key = PauseKey.parse(expected or "")
    if key is None or key.refusals:
        return expected, None
    return key.checkpoint.value, key.attempt


def _the_waiting_run(
    reference: str, runs: list[tuple[str, RunStatus]], attempt: int | None
) -> tuple[str, RunStatus]:
    """Return the one run to resume: refuse to guess between follow-ups that all wait."""
    if attempt is not None:
        pinned = [(i, r) for i, r in runs if r.waiting_for is not None and r.attempt == attempt]
        if not pinned:
            raise CaseStateError(
                f"case {reference} does not wait at attempt {attempt}: see "
                f"`safepassage status {reference}`"
            )
        runs = pinned
    if not runs:  # pragma: no cover - a case with a run always has one
        raise CaseStateError(f"case {reference} has no flow run yet: is `safepassage serve` up?")
    if len(runs) > 1:
        numbers = ", ".join(str(r.attempt) for _, r in runs)
        raise CaseStateError(
            f"follow-ups {numbers} of {reference} all wait for a report: name one with "
            "--checkpoint followup-report-N"
        )
    return runs[0]


def _check_expected(expected: str | None, actual: Checkpoint) -> None:
    if expected is None:
        return
    try:
        named = Checkpoint(expected)
    except ValueError:
        choices = ", ".join(c.value for c in Checkpoint)
        raise IntakeInvalid(
            [FieldProblem("--checkpoint", f"must be one of {choices}")], source="the command"
        ) from None
    if named is not actual:
        raise CaseStateError(f"the case waits at {actual.value}, not {named.value}")
