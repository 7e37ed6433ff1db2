"""When plans change: the person withdraws, or a coordinator raises the risk."""

from __future__ import annotations

from typing import Any

from safepassage.models.clock import utcnow
from safepassage.models.errors import CaseStateError
from safepassage.models.intake import reason_option
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import cipher_for, get_case, seal
from safepassage.models.store.db import Store, opened_store
from safepassage.models.store.events import append_event, case_events
from safepassage.models.store.workflow import record_action
from safepassage.models.vocabulary import BEFORE_DEPARTURE, RiskLevel
from safepassage.notifications import Event, deliver_due, queue_notifications
from safepassage.orchestration.catalog import WITHDRAW_CASE
from safepassage.orchestration.connection import connect
from safepassage.orchestration.runs import start_run, wait_for_end
from safepassage.tasks.withdrawal import check_withdrawable


def _seal_request(
    store: Store, reference: str, *, kind: str, reason: str, actor: str, detail: dict[str, Any]
) -> int:
    """Log a request (a withdrawal, a risk) with its reason sealed; return its number."""
    with store.transaction() as session:
        case = get_case(session, reference, lock=True)
        number = 1 + sum(1 for e in case_events(session, reference) if e.kind == kind)
        seal(
            session, case, cipher_for(store.master_key, case), f"{kind}:{number}",
            reason.encode(), now=utcnow(),
        )  # fmt: skip
        append_event(
            session, reference=reference, kind=kind, actor=actor, at=utcnow(), stage=case.stage,
            detail={"request": number, **detail},
        )  # fmt: skip
        return number


def withdraw(reference: str, reason: str, *, actor: str, timeout: float = 180.0) -> dict[str, Any]:
    """Withdraw a case: log the request, run `withdraw-case`, and wait for it to finish.

    Repeating it is safe: each compensation is recorded once in the case store's ledger.
    """
    text = reason_option(reason)
    connect(get_settings())
    with opened_store() as store:
        with store.transaction() as session:
            check_withdrawable(get_case(session, reference))
        number = _seal_request(
            store, reference, kind="withdrawal-requested", reason=text, actor=actor, detail={}
        )
    run_id = start_run(
        WITHDRAW_CASE.full_name, reference, name=f"withdraw-{reference}-{number}",
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
    text = reason_option(reason)
    with opened_store() as store:
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
                    session, case, "risk-hold", number, now=utcnow(), detail={"level": level.value},
                    actor=actor,
                )  # fmt: skip
                queue_notifications(
                    session, store.master_key, case, Event.RISK_ALERT, attempt=f"risk-{number}",
                    facts={"reason": "risk raised to high: travel is on hold until re-approved"},
                    now=utcnow(),
                )  # fmt: skip
            deliver_due(store, reference=reference)
    return {
        "reference": reference,
        "risk": number,
        "level": level.value,
        "holds_travel": level is RiskLevel.HIGH,
    }
