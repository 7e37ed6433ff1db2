"""Checkpoint bookkeeping: has a person answered, accept or refuse an answer, forget Prefect's copy.

The answer a coordinator submits through the Prefect UI (or `safepassage resume`) is stored by
Prefect as a run input. `accept_answer` reads it from Prefect's API inside this task (so it is
never a task parameter or result), validates it against the form and the case's history, seals
it into the case store, and deletes every key of that checkpoint from Prefect. The case store is
then the only place the answer lives, and the flow asks the store, not Prefect, on replay.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar
from uuid import UUID

from prefect import task
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from safepassage.models.checkpoints import (
    FORMS,
    MISSION_CHECKPOINTS,
    ArrivalAnswer,
    Checkpoint,
    DepartureAnswer,
    History,
    TicketAnswer,
    TravelDocumentAnswer,
    problems_with,
)
from safepassage.models.clock import utcnow
from safepassage.models.crypto import MasterKey
from safepassage.models.errors import FieldProblem
from safepassage.models.intake import problems_from
from safepassage.models.rules import HU_BASE_GRANT_CHF
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import read_intake_for_stage
from safepassage.models.store.events import case_events
from safepassage.models.store.mission_identity import speaks_for_mission
from safepassage.models.store.orm import Case
from safepassage.models.store.workflow import (
    count_refusals,
    find_answer,
    latest_answer_attempt,
    open_checkpoint,
    open_hold,
    read_answer_for_stage,
    record_answer,
    record_refusal,
)
from safepassage.models.stored_forms import read_stored
from safepassage.orchestration.pause_key import PauseKey
from safepassage.orchestration.run_inputs import forget_ask_inputs, read_answer_input
from safepassage.orchestration.task_options import LEDGER_TASK
from safepassage.tasks.grant import headroom

M = TypeVar("M", bound=BaseModel)
logger = logging.getLogger("safepassage.tasks.checkpoints")


#: Give up re-asking after this many refused answers in a row; the run fails and says why.
MAX_REFUSALS = 20


class CheckpointStatus(BaseModel):
    """Whether a checkpoint attempt was answered, and what the last refusal said (no values)."""

    answered: bool
    summary: dict[str, Any] = {}
    refusals: int = 0
    last_problems: list[str] = []
    open_hold: int | None = None
    #: The case was marked waiting at this ask just now: the flow shows it and suspends.
    waiting: bool = False


class Acceptance(BaseModel):
    """The outcome of reading an answer: accepted (with its summary) or refused (with problems)."""

    accepted: bool
    summary: dict[str, Any] = {}
    problems: list[str] = []
    open_hold: int | None = None


def _last_problems(session: Session, case: Case, checkpoint: str, attempt: int) -> list[str]:
    for event in reversed(case_events(session, case.reference)):
        detail = event.detail
        if (
            event.kind == "checkpoint-answer-refused"
            and detail.get("checkpoint") == checkpoint
            and detail.get("attempt") == attempt
        ):
            return list(detail.get("problems", []))
    return []


@task(**LEDGER_TASK)
def checkpoint_status(
    reference: str,
    checkpoint: str,
    attempt: int,
    *,
    ask: bool = False,
    gated: bool = False,
    fired: frozenset[str] = frozenset(),
) -> CheckpointStatus:
    """Return whether the case store holds an accepted answer for this checkpoint attempt.

    With `ask`, an attempt to be asked now is also marked waiting (idempotent), in the same
    transaction, and reported `waiting`: one unanswered, refused fewer than MAX_REFUSALS times,
    not held by an open risk at a journey checkpoint (`gated`), whose suspend has not fired on
    this run yet (its key is not in `fired`: a fired one was marked before it suspended, and
    its answer waits in Prefect). One task run, where marking was a second: each task run costs
    the Prefect server three events and about 20 ms of CPU.
    """
    with case_transaction(reference) as (_, session, case):
        answer = find_answer(session, case, checkpoint, attempt)
        hold = open_hold(session, case)
        if answer is not None:
            return CheckpointStatus(answered=True, summary=answer.summary, open_hold=hold)
        refusals = count_refusals(session, case, checkpoint, attempt)
        key = PauseKey(Checkpoint(checkpoint), attempt, refusals)
        waiting = (
            ask
            and refusals < MAX_REFUSALS
            and not (gated and hold is not None)
            and str(key) not in fired
        )
        if waiting:
            open_checkpoint(session, case, checkpoint, attempt, now=utcnow())
        return CheckpointStatus(
            answered=False,
            refusals=refusals,
            last_problems=_last_problems(session, case, checkpoint, attempt),
            open_hold=hold,
            waiting=waiting,
        )


def history_of(session: Session, master_key: MasterKey, case: Case) -> History:
    """Return what a new answer must agree with: consent, the document, the latest booking."""
    intake = read_intake_for_stage(session, master_key, case)
    valid_until = intake.travel_document.passport_expires_on
    document = _latest(session, master_key, case, Checkpoint.TRAVEL_DOCUMENT, TravelDocumentAnswer)
    if document is not None:
        valid_until = document.valid_until
    arrival = _latest(session, master_key, case, Checkpoint.ARRIVAL, ArrivalAnswer)
    grant, grant_headroom = headroom(session, case)
    # A grant approval judges the one request that waits (a new one waits for its decision).
    pending = grant.pending
    return History(
        consent_recorded_on=intake.consent.recorded_on,
        escort_required=case.escort_required,
        programme=case.programme,
        document_valid_until=valid_until,
        ticket=_latest(session, master_key, case, Checkpoint.TICKET, TicketAnswer),
        departure=_latest(session, master_key, case, Checkpoint.DEPARTURE, DepartureAnswer),
        recommended_grant_chf=grant.requested[pending[0]] if pending else None,
        grant_headroom_chf=grant_headroom,
        arrived_on=arrival.arrived_at.date() if arrival else None,
        earliest_departure=intake.earliest_departure,
        today=utcnow().date(),
    )


def _latest(
    session: Session, master_key: MasterKey, case: Case, checkpoint: Checkpoint, model: type[M]
) -> M | None:
    attempt = latest_answer_attempt(session, case, checkpoint.value)
    if attempt is None:
        return None
    return stored_answer(session, master_key, case, checkpoint, attempt=attempt, model=model)


def stored_answer(
    session: Session,
    master_key: MasterKey,
    case: Case,
    checkpoint: Checkpoint,
    *,
    attempt: int,
    model: type[M],
) -> M:
    """Return the accepted answer to `checkpoint` ask `attempt`, read from the sealed store."""
    return read_stored(
        model,
        read_answer_for_stage(session, master_key, case, checkpoint.value, attempt),
        what=f"{checkpoint.value} answer",
    )


def summarise(checkpoint: Checkpoint, answer: Any) -> dict[str, Any]:
    """Return the PII-free facts of an answer that the flow branches on and the log keeps."""
    match checkpoint:
        case Checkpoint.IDENTIFICATION_REVIEW | Checkpoint.RISK_REVIEW:
            return {"approved": answer.approved}
        case Checkpoint.GRANT_APPROVAL:
            return {"approved": answer.approved, "amount_chf": str(answer.amount_chf)}
        case Checkpoint.REINTEGRATION_PLAN:
            return {"items": len(answer.items)}  # needs are health data: they stay sealed
        case Checkpoint.PLAN_REVIEW:
            return {"decision": answer.decision}
        case Checkpoint.TRAVEL_DOCUMENT:
            return {"document_type": answer.document_type}
        case Checkpoint.RECEPTION:
            return {"accepted": answer.accepted}  # the notes stay sealed
        case Checkpoint.RECEPTION_DECISION:
            return {"decision": answer.decision}
        case Checkpoint.TICKET:
            return {"escort": answer.escort}
        case Checkpoint.DEPARTURE:
            # Why a person did not board stays sealed (it may be medical); the flow needs to
            # know only whether the journey was moved on purpose, and to when.
            summary: dict[str, Any] = {
                "boarded": answer.boarded,
                "rescheduled": answer.reason == "rescheduled",
            }
            if answer.rescheduled_to is not None:
                summary["rescheduled_to"] = answer.rescheduled_to.isoformat()
            return summary
        case Checkpoint.CHILD_SAFEGUARDING:
            # The guardian, the references and the authority stay sealed.
            return {
                "guardian_type": answer.guardian_type,
                "guardian_consent": answer.guardian_consent,
                "best_interests": answer.best_interests,
            }
        case Checkpoint.CONSENT:
            return {"share_with_embassy": answer.share_with_embassy}
        case Checkpoint.PRE_DEPARTURE:
            # Fitness and assistance are what the flow and the mission act on; notes stay sealed.
            summary = {
                "fit_to_travel": answer.fit_to_travel,
                "airport_assistance": answer.airport_assistance,
                "transit_assistance": answer.transit_assistance,
            }
            if answer.ask_again_on is not None:
                summary["ask_again_on"] = answer.ask_again_on.isoformat()
            return summary
        case Checkpoint.FOLLOWUP_REPORT:
            # Wellbeing and services stay sealed; the flow needs only these two to act on.
            return {
                "contacted": answer.contacted,
                "risk_raised": answer.risk_of_retrafficking == "raised",
            }
        case Checkpoint.ARRIVAL:
            grant = answer.recommended_grant_chf
            return {
                "onward_transport": answer.onward_transport,
                "grant_recommended": grant is not None and grant > HU_BASE_GRANT_CHF,
            }
    return {}  # pragma: no cover - every checkpoint is matched above


def validate_answer(
    checkpoint: Checkpoint, raw: Any, history: History
) -> tuple[BaseModel | None, list[FieldProblem]]:
    """Return the parsed answer and its problems: the form's own, then the case history's."""
    if not isinstance(raw, dict):
        return None, [FieldProblem("", "the answer must be an object with the form's fields")]
    try:
        answer = FORMS[checkpoint].model_validate(raw)
    except ValidationError as exc:  # its text holds the values: only field names leave here
        return None, problems_from(exc, FORMS[checkpoint])
    return answer, problems_with(answer, history)


@task(**LEDGER_TASK)
def accept_answer(reference: str, key: PauseKey, flow_run_id: UUID) -> Acceptance:
    """Validate the answer Prefect holds for `key`, seal it in the store, delete Prefect's copy."""
    form, checkpoint, attempt = key.checkpoint, key.checkpoint.value, key.attempt
    with case_transaction(reference) as (store, session, case):
        existing = find_answer(session, case, checkpoint, attempt)
        if existing is not None:  # accepted before a crash; only Prefect's copy may be left
            result = Acceptance(accepted=True, summary=existing.summary)
        else:
            raw = read_answer_input(flow_run_id, key)
            if raw is None:
                # Resumed without an answer (a run restarted after a crash keeps its fired
                # pause keys, yet its answer never came): counted as a refusal, so the next
                # ask suspends under a new key rather than reading nothing for ever.
                problem = FieldProblem("", "no answer was submitted: answer the form again")
                record_refusal(session, case, checkpoint, attempt, problems=[problem], now=utcnow())
                result = Acceptance(accepted=False, problems=[str(problem)])
            else:
                result = _judge(session, store.master_key, case, form, attempt=attempt, raw=raw)
        result.open_hold = open_hold(session, case)
    forget_ask_inputs(flow_run_id, key)
    return result


def _judge(
    session: Session, master_key: MasterKey, case: Case, form: Checkpoint, *, attempt: int, raw: Any
) -> Acceptance:
    answer, problems = validate_answer(form, raw, history_of(session, master_key, case))
    if answer is None or problems:
        messages = [str(p) for p in problems]
        record_refusal(session, case, form.value, attempt, problems=problems, now=utcnow())
        logger.info("answer to %s of %s refused: %s", form.value, case.reference, messages)
        return Acceptance(accepted=False, problems=messages)
    # Through the gateway it is the signed-in name; left empty only on Prefect's own port.
    entered_by = getattr(answer, "entered_by", None) or "not given"
    summary = summarise(form, answer)
    if form in MISSION_CHECKPOINTS:
        # From the store, never from the answer: the mission's own account or token, of this
        # case's country, or else someone answered for it (a coordinator in the Prefect UI).
        own = speaks_for_mission(session, entered_by, case.destination_country)
        summary["on_behalf_of_mission"] = not own
    record_answer(
        session,
        master_key,
        case,
        form.value,
        attempt,
        answer_json=json.dumps(answer.model_dump(mode="json")).encode(),
        entered_by=entered_by,
        summary=summary,
        now=utcnow(),
    )
    return Acceptance(accepted=True, summary=summary)
