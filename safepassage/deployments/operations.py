"""The operations behind `intake`, `status` and `resume`, shared by the CLI, the demo and tests.

Each opens the case store and talks to the Prefect server. Prefect is imported inside them,
after `environment.connect` has put the server's address in the environment: prefect reads its
settings once, when first imported.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from safepassage.deployments.environment import connect
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import (
    CaseStateError,
    ConfigurationError,
    FieldProblem,
    IntakeInvalid,
)
from safepassage.models.intake import Intake, LongText, problems_from
from safepassage.models.rules import Decision
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import cipher_for, create_case, get_case, seal
from safepassage.models.store.db import Store, open_store
from safepassage.models.store.events import append_event, case_events
from safepassage.models.store.followups import waiting_run_ids

if TYPE_CHECKING:
    from safepassage.deployments.runs import RunStatus
from safepassage.models.store.workflow import record_action
from safepassage.models.vocabulary import BEFORE_DEPARTURE, FINAL_STAGES, RiskLevel


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
    from safepassage.deployments.followup_runs import waiting_runs

    store = _store()
    try:
        with store.transaction() as session:
            case = get_case(session, reference)
            stage, case_run_id = case.stage, case.flow_run_id
            followup_runs = waiting_run_ids(session, case)
    finally:
        store.dispose()
    # A case at a follow-up waits in that follow-up's own run, not in its return-case run.
    runs = waiting_runs(case_run_id, followup_runs)
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
    expected, pinned = _split_expected(expected)
    attempt = attempt if attempt is not None else pinned
    connect(get_settings())  # before prefect is imported: it reads its settings once
    from safepassage.deployments.followup_runs import waiting_runs
    from safepassage.deployments.runs import resume_run
    from safepassage.tasks.checkpoints import history_of, validate_answer

    store = _store()
    try:
        with store.transaction() as session:
            case = get_case(session, reference)
            if case.flow_run_id is None:
                raise CaseStateError(
                    f"case {reference} has no flow run yet: is `safepassage serve` up?"
                )
            runs = waiting_runs(case.flow_run_id, waiting_run_ids(session, case))
            flow_run_id, run = _the_waiting_run(reference, runs, attempt)
            if run.waiting_for is None or run.pause_key is None:
                raise CaseStateError(
                    f"case {reference} is not waiting at a checkpoint (stage {case.stage}, "
                    f"run {run.state_name}): see `safepassage status {reference}`"
                )
            _check_expected(expected, run.waiting_for)
            answer, problems = validate_answer(
                run.waiting_for, raw, history_of(session, store.master_key, case)
            )
    finally:
        store.dispose()
    if answer is None or problems:
        raise IntakeInvalid(problems, source=f"answer to {run.waiting_for.value}")
    resume_run(flow_run_id, run.pause_key, answer.model_dump(mode="json"))
    return run.waiting_for


def _split_expected(expected: str | None) -> tuple[str | None, int | None]:
    """Split `followup-report-3` into checkpoint and attempt; other names stay as they are."""
    match = re.fullmatch(r"(?P<name>[a-z-]+?)-(?P<attempt>\d+)", expected or "")
    if match is None or match["name"] not in {c.value for c in Checkpoint}:
        return expected, None
    return match["name"], int(match["attempt"])


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


REASON = TypeAdapter(LongText)


def reason_text(text: str) -> str:
    """Return the reason as stored text, or raise IntakeInvalid naming --reason."""
    try:
        return REASON.validate_python(text)
    except ValidationError as exc:
        raise IntakeInvalid(
            [FieldProblem("--reason", p.message) for p in problems_from(exc)], source="the command"
        ) from None


def _seal_request(
    store: Store, reference: str, *, kind: str, reason: str, actor: str, detail: dict[str, Any]
) -> int:
    """Log a request (a withdrawal, a risk) with its reason sealed; return its number."""
    with store.transaction() as session:
        case = get_case(session, reference, lock=True)
        number = 1 + sum(1 for e in case_events(session, reference) if e.kind == kind)
        seal(
            session, case, cipher_for(store.master_key, case), f"{kind}:{number}",
            reason.encode(), now=_now(),
        )  # fmt: skip
        append_event(
            session, reference=reference, kind=kind, actor=actor, at=_now(), stage=case.stage,
            detail={"request": number, **detail},
        )  # fmt: skip
        return number


def withdraw(reference: str, reason: str, *, actor: str, timeout: float = 180.0) -> dict[str, Any]:
    """Withdraw a case: log the request, run `withdraw-case`, and wait for it to finish.

    Repeating it is safe: each compensation is recorded once in the case store's ledger.
    """
    text = reason_text(reason)
    connect(get_settings())  # before prefect is imported: it reads its settings once
    from safepassage.deployments.runs import start_run, wait_for_end
    from safepassage.deployments.serve import WITHDRAW_CASE
    from safepassage.tasks.withdrawal import check_withdrawable

    store = _store()
    try:
        with store.transaction() as session:
            check_withdrawable(get_case(session, reference))
        number = _seal_request(
            store, reference, kind="withdrawal-requested", reason=text, actor=actor, detail={}
        )
    finally:
        store.dispose()
    run_id = start_run(
        WITHDRAW_CASE, reference, name=f"withdraw-{reference}-{number}",
        tags=["withdrawal"], key=f"withdraw-case:{reference}:{number}",
    )  # fmt: skip
    state = wait_for_end(run_id, timeout=timeout)
    if state != "Completed":
        raise CaseStateError(
            f"the withdrawal run of {reference} ended {state}: see the Prefect UI; "
            "running `safepassage withdraw` again is safe"
        )
    return {"reference": reference, "withdraw_run_id": run_id, "state": state}


#: After departure a raised risk is a follow-up matter: travel can no longer be stopped.
RISK_STAGES = frozenset(s.value for s in BEFORE_DEPARTURE)


def raise_risk(reference: str, level: RiskLevel, reason: str, *, actor: str) -> dict[str, Any]:
    """Record a changed risk level; a high one holds travel until a coordinator approves again.

    The reason is sealed (it may name people or places); coordinators get a `risk-alert` that
    carries the reference and the level only.
    """
    from safepassage.notifications import Event, deliver_due, queue_notifications

    text = reason_text(reason)
    store = _store()
    try:
        with store.transaction() as session:
            case = get_case(session, reference)
            if case.stage not in RISK_STAGES:
                raise CaseStateError(
                    f"case {reference} is at stage {case.stage}: a risk stops travel only before "
                    "departure (after it, report risk in the follow-up)"
                )
        number = _seal_request(
            store, reference, kind="risk-raised", reason=text, actor=actor,
            detail={"level": level.value, "holds_travel": level is RiskLevel.HIGH},
        )  # fmt: skip
        if level is RiskLevel.HIGH:
            with store.transaction() as session:
                case = get_case(session, reference, lock=True)
                record_action(
                    session, case, "risk-hold", number, now=_now(), detail={"level": level.value},
                    actor=actor,
                )  # fmt: skip
                queue_notifications(
                    session, store.master_key, case, Event.RISK_ALERT, attempt=f"risk-{number}",
                    facts={"reason": "risk raised to high: travel is on hold until re-approved"},
                    now=_now(),
                )  # fmt: skip
            deliver_due(store, reference=reference)
    finally:
        store.dispose()
    return {
        "reference": reference,
        "risk": number,
        "level": level.value,
        "holds_travel": level is RiskLevel.HIGH,
    }
