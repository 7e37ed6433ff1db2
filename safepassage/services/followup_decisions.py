"""A coordinator's decisions after the follow-ups, and the person's choice to end contact.

`add_followup` plans an extra follow-up N months from today; `close_case` closes a case the
follow-ups left open; `decline_followup_contact` (called by the consent services when the
person says no to follow-up contact with the mission) cancels the follow-ups still to come, so
that the case closes on the last one's due date. Each writes the store first, in one
transaction with its audit event and its notifications, and alone decides: Prefect's runs are
then reconciled at once if a server answers, else by the daily `followup-scheduler`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.orm import Session

from safepassage.models.clock import utcnow
from safepassage.models.crypto import MasterKey
from safepassage.models.errors import (
    CaseStateError,
    ConfigurationError,
    FieldProblem,
    IntakeInvalid,
)
from safepassage.models.followup_decisions import (
    CLOSURE_NOTE,
    CLOSURE_REASON_CODES,
    EXTRA_REASON_CODES,
    MAX_EXTRA_MONTHS,
    ClosureReason,
    ExtraFollowUpReason,
    ends_followup_contact,
)
from safepassage.models.followup_plan import add_months, plan_for, report_by
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import cipher_for, get_case, seal
from safepassage.models.store.consent import ConsentChange
from safepassage.models.store.db import opened_store
from safepassage.models.store.followups import (
    ADDED_ACTION,
    PENDING,
    FollowUpState,
    case_followups,
    decline_followups,
)
from safepassage.models.store.followups import (
    add_followup as add_followup_row,
)
from safepassage.models.store.orm import Case
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import FINAL_STAGES, Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.services.erasure import note_text

logger = logging.getLogger("safepassage.services.followup_decisions")
DECLINED_ACTION = "followup-contact-declined"
CLOSED_ACTION = "case-closed-by-coordinator"
_FINAL = frozenset(s.value for s in FINAL_STAGES)


def months_option(text: str | int | None) -> int:
    """Return --months as a number of months, or raise IntakeInvalid naming it (not its value)."""
    try:
        months = int(str(text).strip()) if text is not None else 0
    except ValueError:
        months = 0
    if not 1 <= months <= MAX_EXTRA_MONTHS:
        raise IntakeInvalid(
            [FieldProblem("--months", f"must be a whole number from 1 to {MAX_EXTRA_MONTHS}")],
            source="the command",
        )
    return months


def extra_reason(text: str | None) -> ExtraFollowUpReason:
    """Return the extra follow-up's reason code, or raise IntakeInvalid naming --reason."""
    try:
        return ExtraFollowUpReason((text or "").strip().lower())
    except ValueError:
        raise IntakeInvalid(
            [FieldProblem("--reason", f"must be one of {EXTRA_REASON_CODES}")],
            source="the command",
        ) from None


def closure_reason(text: str | None) -> ClosureReason:
    """Return the closure's reason code, or raise IntakeInvalid naming --reason."""
    try:
        return ClosureReason((text or "").strip().lower())
    except ValueError:
        raise IntakeInvalid(
            [FieldProblem("--reason", f"must be one of {CLOSURE_REASON_CODES}")],
            source="the command",
        ) from None


def add_followup(reference: str, *, months: str | int, reason: str, actor: str) -> dict[str, Any]:
    """Add a follow-up to the case, due `months` from today; tell the mission; schedule its run.

    Refused (CaseStateError) for a case that ended, has no follow-ups yet, or whose person
    declined further contact.
    """
    count, code = months_option(months), extra_reason(reason)
    now = utcnow()
    with opened_store() as store, store.transaction() as session:
        case = get_case(session, reference, lock=True)
        plan = plan_for(case.programme, get_settings().followup_plans)
        due_on = add_months(now.astimezone(dt.UTC).date(), count)
        row = add_followup_row(
            session, case, due_on=due_on, months=count, window_days=plan.window_days, now=now
        )
        deadline = report_by(row.due_on, row.window_days)
        record_action(
            session, case, ADDED_ACTION, row.number, now=now, actor=actor,
            detail={"follow_up": row.number, "months": count, "reason": code.value,
                    "due_on": due_on.isoformat()},
        )  # fmt: skip
        # Back in follow-up, if the last report had left the case waiting in reintegration.
        if case.stage == Stage.REINTEGRATION.value:
            set_stage(session, case, Stage.FOLLOW_UP, actor=actor, now=now)
        queue_notifications(
            session, store.master_key, case, Event.FOLLOWUP_ADDED, attempt=str(row.number),
            facts={"follow_up": str(row.number), "due_on": due_on.isoformat(),
                   "report_by": deadline.isoformat()},
            now=now,
        )  # fmt: skip
        result: dict[str, Any] = {
            "reference": reference,
            "number": row.number,
            "due_on": due_on.isoformat(),
            "report_by": deadline.isoformat(),
            "reason": code.value,
        }
    _deliver(reference)
    result["runs"] = _reconcile(reference)
    return result


def close_case(
    reference: str, *, reason: str, note: str | None = None, actor: str
) -> dict[str, Any]:
    """Close a case after arrival: its pending follow-ups are cancelled, the mission told.

    The reason is a code kept in the ledger; the note is sealed under the case's key (it goes
    with the case's erasure). Refused (CaseStateError) for a case that ended, or has no
    follow-ups yet (before, a return is withdrawn or stopped, not closed).
    """
    code, text = closure_reason(reason), note_text(note)
    now = utcnow()
    with opened_store() as store, store.transaction() as session:
        case = get_case(session, reference, lock=True)
        if case.stage in _FINAL:
            raise CaseStateError(f"case {reference} has ended ({case.stage}): nothing to close")
        rows = case_followups(session, case)
        if not rows:
            raise CaseStateError(
                f"case {reference} has no follow-ups yet (stage {case.stage}): before the "
                "follow-ups, a return is withdrawn (`safepassage withdraw`), not closed"
            )
        pending = [r.number for r in rows if FollowUpState(r.state) in PENDING]
        if text:
            seal(session, case, cipher_for(store.master_key, case), CLOSURE_NOTE,
                 text.encode(), now=now)  # fmt: skip
        record_action(
            session, case, CLOSED_ACTION, now=now, actor=actor,
            detail={"reason": code.value, "note_kept": bool(text),
                    "followups_cancelled": pending},
        )  # fmt: skip
        # A pending follow-up with a run is cancelled by the reconcile, which stops the run with
        # it (below, or the daily scheduler's); one without is cancelled here.
        for row in rows:
            if FollowUpState(row.state) in PENDING and row.flow_run_id is None:
                row.state, row.updated_at = FollowUpState.CANCELLED.value, now
        set_stage(session, case, Stage.CLOSED, actor=actor, now=now,
                  detail={"reason": code.value})  # fmt: skip
        queue_notifications(session, store.master_key, case, Event.CASE_CLOSED, now=now)
    _deliver(reference)
    result: dict[str, Any] = {
        "reference": reference,
        "stage": Stage.CLOSED.value,
        "reason": code.value,
        "note_kept": bool(text),
        "followups_cancelled": pending,
        "runs": _reconcile(reference),
    }
    return result


def decline_followup_contact(
    session: Session,
    master_key: MasterKey,
    case: Case,
    change: ConsentChange,
    *,
    actor: str,
    now: dt.datetime,
) -> list[int]:
    """Act on a consent change that ends follow-up contact; return the follow-ups declined.

    In the consent's transaction: when the person now says no to follow-up contact with the
    mission, the follow-ups still to come are declined (no report expected, their runs
    stopped), the mission and coordinators told (a minimal message: the consent for details
    is gone), and the case closes on the last follow-up's due date. Nothing happens for any
    other change, or a case without pending follow-ups.
    """
    if not ends_followup_contact(change.changes) or case.stage in _FINAL:
        return []
    rows = decline_followups(session, case, now=now)
    if not rows:
        return []
    numbers = [r.number for r in rows]
    last_due = max(r.due_on for r in case_followups(session, case))
    if record_action(
        session, case, DECLINED_ACTION, now=now, actor=actor,
        detail={"followups_declined": numbers, "closes_on": last_due.isoformat()},
    ):  # fmt: skip
        queue_notifications(
            session, master_key, case, Event.FOLLOWUP_CONTACT_DECLINED,
            facts={"note": f"the case closes on {last_due.isoformat()}"}, now=now,
        )  # fmt: skip
    return numbers


def after_decline(reference: str, declined: list[int]) -> dict[str, Any] | None:
    """Deliver the decline's notices and stop its runs if a server answers (else the scheduler)."""
    if not declined:
        return None
    _deliver(reference)
    return _reconcile(reference)


def _deliver(reference: str) -> None:
    with opened_store() as store:
        deliver_now(store, reference)


def _reconcile(reference: str) -> dict[str, Any] | None:
    """Reconcile the case's runs now; None if no Prefect server answers (the scheduler will)."""
    from safepassage.services.followups import reconcile_followups_now  # noqa: PLC0415 - imports prefect (3 s): only when a server is wanted

    try:
        return reconcile_followups_now(reference)
    except ConfigurationError:
        return None
    except Exception as exc:  # the store decided; the daily scheduler repairs the runs
        logger.warning(
            "runs of %s left for the followup-scheduler: %s", reference, type(exc).__name__
        )
        return None
