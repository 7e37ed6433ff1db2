"""The operations behind `intake`, `status` and `resume`, shared by the CLI, the demo and tests.

Each opens the case store and talks to the Prefect server. Prefect is imported inside them,
after `environment.connect` has put the server's address in the environment: prefect reads its
settings once, when first imported.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from safepassage.deployments.environment import connect
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import (
    CaseStateError,
    ConfigurationError,
    FieldProblem,
    IntakeInvalid,
)
from safepassage.models.intake import Intake
from safepassage.models.rules import Decision
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import create_case, get_case
from safepassage.models.store.db import Store, open_store
from safepassage.models.vocabulary import FINAL_STAGES


def _store() -> Store:
    return open_store(get_settings())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def take_in(case_file: Intake, decision: Decision, *, actor: str) -> dict[str, Any]:
    """Store the case and start its flow run; the server is checked before anything is written."""
    address = connect(get_settings())  # before prefect is imported: it reads its settings once
    from safepassage.deployments.runs import start_case_run

    check_targets_for(case_file.destination_country)
    store = _store()
    try:
        with store.transaction() as session:
            case = create_case(
                session, store.master_key, case_file, decision, actor=actor, now=_now()
            )
            reference, programme, country = case.reference, case.programme, case.destination_country
        # Created after the commit, so the run never starts on a case that is not stored. If
        # this fails, `safepassage serve` starts the run of any case that has none.
        flow_run_id = start_case_run(reference, programme, country)
        with store.transaction() as session:
            stored = get_case(session, reference)
            stored.flow_run_id = flow_run_id
            status = {"stage": stored.stage, "status": stored.status}
    finally:
        store.dispose()
    return {
        "reference": reference,
        **status,
        "flow_run_id": flow_run_id,
        "ui_url": address.run_url(flow_run_id),
    }


def case_status(reference: str) -> dict[str, Any]:
    """Return a case's status as the CLI's JSON shows it (store and Prefect together)."""
    address = connect(get_settings())  # before prefect is imported: it reads its settings once
    from safepassage.deployments.runs import run_status

    store = _store()
    try:
        with store.transaction() as session:
            case = get_case(session, reference)
            stage, flow_run_id = case.stage, case.flow_run_id
    finally:
        store.dispose()
    run = run_status(flow_run_id) if flow_run_id else None
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
    }


def answer_checkpoint(reference: str, raw: Any, *, expected: str | None = None) -> Checkpoint:
    """Validate `raw` against the checkpoint the case waits at, resume the run, return which.

    The path of `safepassage resume` and of the demo.
    """
    connect(get_settings())  # before prefect is imported: it reads its settings once
    from safepassage.deployments.runs import resume_run, run_status
    from safepassage.tasks.checkpoints import history_of, validate_answer

    store = _store()
    try:
        with store.transaction() as session:
            case = get_case(session, reference)
            if case.flow_run_id is None:
                raise CaseStateError(
                    f"case {reference} has no flow run yet: is `safepassage serve` up?"
                )
            run = run_status(case.flow_run_id)
            if run.waiting_for is None or run.pause_key is None:
                raise CaseStateError(
                    f"case {reference} is not waiting at a checkpoint (stage {case.stage}, "
                    f"run {run.state_name}): see `safepassage status {reference}`"
                )
            _check_expected(expected, run.waiting_for)
            answer, problems = validate_answer(
                run.waiting_for, raw, history_of(session, store.master_key, case)
            )
            flow_run_id = case.flow_run_id
    finally:
        store.dispose()
    if answer is None or problems:
        raise IntakeInvalid(problems, source=f"answer to {run.waiting_for.value}")
    resume_run(flow_run_id, run.pause_key, answer.model_dump(mode="json"))
    return run.waiting_for


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


def check_targets_for(country: str) -> None:
    """Refuse a case whose mission or embassy has no notification target, before storing it.

    Missions learn of a case only through notifications: a case nobody can be told of must not
    start. The programme countries are checked at start-up; ad hoc countries are checked here.
    """
    from safepassage.notifications import load_targets

    targets = load_targets(get_settings())
    for tag in (f"mission-{country.lower()}", f"embassy-{country.lower()}"):
        if not targets.find(tag):
            raise ConfigurationError(
                f"no notification target is tagged {tag} in {targets.path}: add one "
                "(docs/notifications.md) before taking in a case to this country"
            )
