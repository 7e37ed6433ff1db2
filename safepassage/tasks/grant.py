"""The reintegration grant: planned with the plan, increased on request, delivered in kind.

models/grant.py says what the grant stands at; this module writes its steps, each once through
the case's ledger and each an audit event. An increase request runs as its own flow run of the
`grant-increase` deployment (flows/grant_increase.py): the case's return-case run has usually
ended by then. `start_increase_runs` creates a run for each request that has none yet; the
request, the return-case flow and the daily follow-up scheduler all call it, so a request made
while Prefect did not answer still gets its run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal

from prefect import task
from pydantic import BaseModel
from sqlalchemy.orm import Session

from safepassage.models.checkpoints import ArrivalAnswer, Checkpoint, GrantApprovalAnswer
from safepassage.models.clock import utcnow
from safepassage.models.crypto import MasterKey
from safepassage.models.grant import (
    INCREASE_DECIDED,
    INCREASE_REQUESTED,
    INCREASE_STARTED,
    PLANNED,
    GrantLedger,
    IncreaseRequest,
    amount,
    request_record,
)
from safepassage.models.office_policy import BASE_GRANT_CHF
from safepassage.models.rules import policy_in_force
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import cipher_for, get_case, seal
from safepassage.models.store.db import Store, process_store
from safepassage.models.store.grant import cases_with_unstarted_requests, grant_ledger
from safepassage.models.store.orm import Case
from safepassage.models.store.workflow import find_answer, read_answer_for_stage, record_action
from safepassage.models.stored_forms import read_stored
from safepassage.models.vocabulary import Programme
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.catalog import GRANT_INCREASE
from safepassage.orchestration.runs import start_run
from safepassage.orchestration.task_options import LEDGER_TASK

logger = logging.getLogger("safepassage.tasks.grant")
APPROVAL = Checkpoint.GRANT_APPROVAL
#: The words sealed with an increase the provider recommended at the arrival handover.
AT_ARRIVAL = IncreaseRequest(
    amount_chf=Decimal(1),  # replaced by the recommended amount
    provider="the service provider at the arrival handover",
    recommendation="recommended at the arrival handover (see the arrival answer)",
)


def plan_grant(session: Session, master_key: MasterKey, case: Case, *, now: dt.datetime) -> None:
    """Plan the programme's base grant with the agreed plan (a programme without one: nothing);
    an increase the provider recommended at arrival becomes the first request."""
    base = BASE_GRANT_CHF.get(Programme(case.programme))
    if base is None:
        return
    if record_action(session, case, PLANNED, now=now, detail={"amount_chf": str(base)}):
        queue_notifications(
            session, master_key, case, Event.GRANT_PLANNED, facts={"grant": amount(base)}, now=now
        )
    if find_answer(session, case, Checkpoint.ARRIVAL.value, 1) is None:
        return
    arrival = read_stored(
        ArrivalAnswer,
        read_answer_for_stage(session, master_key, case, Checkpoint.ARRIVAL.value, 1),
        what="arrival answer",
    )
    recommended = arrival.recommended_grant_chf
    if recommended is not None and recommended > base and not grant_ledger(session, case).requested:
        request = AT_ARRIVAL.model_copy(update={"amount_chf": recommended - base})
        record_increase_request(session, master_key, case, request, actor="flow", now=now)


def record_increase_request(
    session: Session,
    master_key: MasterKey,
    case: Case,
    request: IncreaseRequest,
    *,
    actor: str,
    now: dt.datetime,
) -> int:
    """Record an increase request (its words sealed) and alert the coordinators; its number."""
    number = grant_ledger(session, case).next_request()
    seal(
        session,
        case,
        cipher_for(master_key, case),
        request_record(number),
        json.dumps(request.model_dump(mode="json")).encode(),
        now=now,
    )
    detail = {"amount_chf": str(request.amount_chf)}
    record_action(session, case, INCREASE_REQUESTED, number, now=now, detail=detail, actor=actor)
    queue_notifications(
        session,
        master_key,
        case,
        Event.GRANT_INCREASE_REQUESTED,
        attempt=str(number),
        facts={"request": str(number), "recommended": amount(request.amount_chf)},
        now=now,
    )
    return number


def start_increase_runs(store: Store, reference: str) -> list[int]:
    """Create the approval run of each increase request of the case that has none; their numbers.

    Idempotent: the run's key is (case, request), and the run's id is recorded once.
    """
    with store.transaction() as session:
        unstarted = grant_ledger(session, get_case(session, reference)).unstarted
    for number in unstarted:
        run_id = start_run(
            GRANT_INCREASE.full_name,
            reference,
            name=f"grant-increase-{reference}-{number}",
            tags=["grant-increase"],
            key=f"grant-increase:{reference}:{number}",
            parameters={"number": number},
        )
        with case_transaction(reference) as (_, session, case):
            detail = {"flow_run_id": run_id}
            record_action(session, case, INCREASE_STARTED, number, now=utcnow(), detail=detail)
    return unstarted


@task(**LEDGER_TASK)
def start_pending_increases(reference: str | None = None) -> list[str]:
    """Start the approval runs that increase requests still lack, of one case or of all;
    return `REF-n` of each started.

    A run that cannot be created now is left for the daily follow-up scheduler, which calls
    this for every case: the request is in the store either way, so nothing is lost.
    """
    store = process_store()
    if reference is None:
        with store.transaction() as session:
            references = cases_with_unstarted_requests(session)
    else:
        references = [reference]
    started = []
    for ref in references:
        try:
            started += [f"{ref}-{n}" for n in start_increase_runs(store, ref)]
        except Exception as exc:  # Prefect did not answer: the scheduler tries again tomorrow
            logger.warning("grant-increase runs of %s left for later: %s", ref, type(exc).__name__)
    return started


class IncreaseOpened(BaseModel):
    """Whether an increase request waits for its decision (PII-free)."""

    proceed: bool
    state: str


@task(**LEDGER_TASK)
def open_increase(reference: str, number: int, flow_run_id: str) -> IncreaseOpened:
    """Return whether request `number` waits for a decision; record this run as its own."""
    with case_transaction(reference) as (_, session, case):
        ledger = grant_ledger(session, case)
        if number not in ledger.requested:
            return IncreaseOpened(proceed=False, state="no such request")
        if number in ledger.decided:
            return IncreaseOpened(proceed=False, state="decided")
        detail = {"flow_run_id": flow_run_id}
        record_action(session, case, INCREASE_STARTED, number, now=utcnow(), detail=detail)
    return IncreaseOpened(proceed=True, state="waiting")


class IncreaseDecision(BaseModel):
    """The decision on an increase, in amounts (PII-free)."""

    approved: bool
    approved_chf: str
    total_chf: str


@task(**LEDGER_TASK)
def conclude_increase(reference: str, number: int) -> IncreaseDecision:
    """Record the coordinator's decision on request `number` and tell the mission."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        answer = read_stored(
            GrantApprovalAnswer,
            read_answer_for_stage(session, store.master_key, case, APPROVAL.value, number),
            what="grant approval answer",
        )
        approved = answer.amount_chf if answer.approved else Decimal(0)
        detail = {"approved": answer.approved, "amount_chf": str(approved)}
        if record_action(session, case, INCREASE_DECIDED, number, now=at, detail=detail):
            total = grant_ledger(session, case).total
            event = Event.GRANT_APPROVED if answer.approved else Event.GRANT_INCREASE_DECLINED
            facts = {"request": str(number), "grant_total": amount(total)}
            if answer.approved:
                facts["increase"] = amount(approved)
            queue_notifications(
                session, store.master_key, case, event, attempt=str(number), facts=facts, now=at
            )
        ledger = grant_ledger(session, case)
    deliver_now(process_store(), reference)
    return IncreaseDecision(
        approved=answer.approved, approved_chf=str(approved), total_chf=str(ledger.total)
    )


def headroom(session: Session, case: Case) -> tuple[GrantLedger, Decimal | None]:
    """Return the case's grant ledger and the most an increase may still add (None: no grant)."""
    ledger = grant_ledger(session, case)
    ceiling = policy_in_force().grant_ceiling(case.programme)
    return ledger, None if ceiling is None else ledger.headroom(ceiling)
