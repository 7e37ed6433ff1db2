"""The reintegration grant's use cases: ask for an increase, record a delivery, see the grant.

The mission does the first two in the gateway (its portal or API, with its country checked as
for its answers), or a coordinator on its behalf with `safepassage grant`; each is recorded
under the name of whoever acts. Both need the plan agreed (the grant is planned with it) and a
case that has not ended. An increase request is decided in its own `grant-increase` run, so
a second request waits until the first is decided: the coordinator weighs one recommendation
at a time against what the ceiling leaves.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from safepassage.models.checkpoints import ArrivalAnswer, Checkpoint
from safepassage.models.clock import utcnow
from safepassage.models.crypto import MasterKey
from safepassage.models.errors import CaseStateError, FieldProblem, IntakeInvalid
from safepassage.models.grant import (
    DELIVERED,
    Delivery,
    GrantLedger,
    IncreaseRequest,
    delivery_record,
    request_record,
)
from safepassage.models.intake import problems_from
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import cipher_for, get_case, reveal_records, seal
from safepassage.models.store.db import Store, store_or_opened
from safepassage.models.store.orm import Case
from safepassage.models.store.workflow import find_answer, read_answer_for_stage, record_action
from safepassage.models.stored_forms import read_stored
from safepassage.models.vocabulary import FINAL_STAGES, Stage
from safepassage.notifications import deliver_due
from safepassage.orchestration.connection import connect
from safepassage.services.mission import the_missions_case
from safepassage.tasks.grant import headroom, record_increase_request, start_increase_runs

logger = logging.getLogger("safepassage.services.grant")
#: Why a person's read of the grant's words is logged: the audit shows it as such.
REVEAL_PURPOSE = "grant review"


def _parsed(model: type[BaseModel], raw: dict[str, Any], what: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:  # its text holds the values: only field names leave here
        raise IntakeInvalid(problems_from(exc, model), source=what) from None


def _open_grant(
    session: Session,
    master_key: MasterKey,
    reference: str,
    country: str | None,
    *,
    closed_ok: bool = False,
) -> tuple[Case, GrantLedger, Decimal]:
    """Return the case, its grant and what the ceiling leaves, or refuse as the state says.

    `closed_ok`: a closed case still takes the record of a delivery made before it closed
    (recorded late); nothing else of its grant changes.
    """
    case = (
        get_case(session, reference, lock=True)
        if country is None
        else the_missions_case(session, master_key, reference, country, lock=True)
    )
    ledger, room = headroom(session, case)
    if room is None:
        raise CaseStateError(f"the {case.programme} programme has no reintegration grant")
    settled = case.stage in {s.value for s in FINAL_STAGES}
    if settled and not (closed_ok and case.stage == Stage.CLOSED.value):
        raise CaseStateError(f"case {reference} has ended ({case.stage}): its grant is settled")
    if not ledger.is_planned:
        raise CaseStateError(
            f"case {reference} has no agreed reintegration plan yet: the grant is planned with it"
        )
    return case, ledger, room


def request_increase(
    reference: str,
    raw: dict[str, Any],
    *,
    by: str,
    country: str | None = None,
    store: Store | None = None,
) -> dict[str, Any]:
    """Record an increase request as `by` and start its approval run; return its number.

    `country` set: the mission of that country asks (another's case is CaseNotFound). Raises
    IntakeInvalid (fields named, never values) or CaseStateError (no plan, a request waiting).
    """
    request: IncreaseRequest = _parsed(IncreaseRequest, raw, "the increase request")
    with store_or_opened(store) as opened:
        with opened.transaction() as session:
            case, ledger, room = _open_grant(session, opened.master_key, reference, country)
            if ledger.pending:
                raise CaseStateError(
                    f"increase request {ledger.pending[0]} of {reference} waits for its "
                    "decision: ask again once it is decided"
                )
            if request.amount_chf > room:
                raise IntakeInvalid(
                    [FieldProblem("amount_chf", f"is more than the programme's ceiling leaves "
                                  f"(CHF {room:,.2f})")],
                    source="the increase request",
                )  # fmt: skip
            number = record_increase_request(
                session, opened.master_key, case, request, actor=by, now=utcnow()
            )
        deliver_due(opened, reference=reference)
        started = _start_runs(opened, reference)
    return {"reference": reference, "request": number, "approval_run_started": started}


def _start_runs(store: Store, reference: str) -> bool:
    """Start the approval run now if Prefect answers; else the daily scheduler starts it."""
    try:
        connect(get_settings())
        start_increase_runs(store, reference)
    except Exception as exc:
        logger.warning("grant-increase run of %s left for later: %s", reference, type(exc).__name__)
        return False
    return True


def record_delivery(
    reference: str,
    raw: dict[str, Any],
    *,
    by: str,
    country: str | None = None,
    store: Store | None = None,
) -> dict[str, Any]:
    """Record a delivery of the grant in kind as `by`; return its number."""
    delivery: Delivery = _parsed(Delivery, raw, "the grant delivery")
    with store_or_opened(store) as opened, opened.transaction() as session:
        case, ledger, _ = _open_grant(
            session, opened.master_key, reference, country, closed_ok=True
        )
        problems = _delivery_problems(session, opened.master_key, case, ledger, delivery)
        if problems:
            raise IntakeInvalid(problems, source="the grant delivery")
        number = ledger.next_delivery()
        at = utcnow()
        seal(
            session,
            case,
            cipher_for(opened.master_key, case),
            delivery_record(number),
            json.dumps(delivery.model_dump(mode="json")).encode(),
            now=at,
        )
        detail = {"amount_chf": str(delivery.amount_chf)}
        record_action(session, case, DELIVERED, number, now=at, detail=detail, actor=by)
    return {"reference": reference, "delivery": number, "amount_chf": str(delivery.amount_chf)}


def _delivery_problems(
    session: Session, master_key: MasterKey, case: Case, ledger: GrantLedger, delivery: Delivery
) -> list[FieldProblem]:
    problems = []
    if delivery.amount_chf > ledger.undelivered():
        problems.append(
            FieldProblem(
                "amount_chf",
                f"is more than the approved grant leaves undelivered "
                f"(CHF {ledger.undelivered():,.2f})",
            )
        )
    today = utcnow().date()
    if delivery.delivered_on > today:
        problems.append(FieldProblem("delivered_on", "must not be in the future"))
    arrived = _arrived_on(session, master_key, case)
    if arrived is not None and delivery.delivered_on < arrived:
        problems.append(FieldProblem("delivered_on", "must not be before the person arrived"))
    return problems


def _arrived_on(session: Session, master_key: MasterKey, case: Case) -> dt.date | None:
    if find_answer(session, case, Checkpoint.ARRIVAL.value, 1) is None:
        return None
    raw = read_answer_for_stage(session, master_key, case, Checkpoint.ARRIVAL.value, 1)
    return read_stored(ArrivalAnswer, raw, what="arrival answer").arrived_at.date()


def grant_of(
    reference: str, *, reveal: bool = False, actor: str, store: Store | None = None
) -> dict[str, Any]:
    """Return the case's grant in amounts; with `reveal`, the sealed words too (logged)."""
    with store_or_opened(store) as opened, opened.transaction() as session:
        case = get_case(session, reference)
        ledger, room = headroom(session, case)
        if room is None:
            raise CaseStateError(f"the {case.programme} programme has no reintegration grant")
        shown: dict[str, Any] = {"reference": reference, **ledger.as_dict()}
        shown["ceiling_leaves_chf"] = str(room)
        if reveal:
            records = [request_record(n) for n in sorted(ledger.requested)]
            records += [delivery_record(n) for n in sorted(ledger.delivered)]
            opened_records = reveal_records(
                session, opened.master_key, case, records, actor=actor,
                purpose=REVEAL_PURPOSE, now=utcnow(),
            )  # fmt: skip
            for item in shown["increases"]:
                item.update(json.loads(opened_records[request_record(item["number"])]))
            for item in shown["deliveries"]:
                item.update(json.loads(opened_records[delivery_record(item["number"])]))
    return shown
