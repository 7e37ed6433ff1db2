"""Alert coordinators, once per wait, to every case that has waited past its time limit, and
remind a mission, once per wait, of a reception it has not answered by half its limit.

Run by the daily `case-report` job, not by a flow run per case: one query finds every waiting
case. Each breach is entered in the ledger as `sla-breached`, each reminder as
`reminder-sent`, with a stable attempt per checkpoint and ask (models/sla.ledger_attempt), in
the same transaction as its notification, so running the check again, or twice at once, tells
nobody twice. A new ask of the checkpoint (a new booking, the mission asked again) is a new
wait, with a limit, a reminder and an alert of its own.
"""

from __future__ import annotations

import datetime as dt
import logging

from prefect import task

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.clock import utcnow
from safepassage.models.settings import Settings, get_settings
from safepassage.models.sla import Wait, ledger_attempt, limits, waiting_cases
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store, process_store
from safepassage.models.store.workflow import record_action
from safepassage.notifications import Event, deliver_due, queue_notifications
from safepassage.orchestration.task_options import LEDGER_TASK

logger = logging.getLogger("safepassage.tasks.sla")

ACTION = "sla-breached"
REMINDER_ACTION = "reminder-sent"
#: The reminder each REMINDED checkpoint (models/sla.py) sends its answerer.
REMINDERS: dict[Checkpoint, Event] = {Checkpoint.RECEPTION: Event.RECEPTION_REMINDER}


def _facts(wait: Wait) -> dict[str, str]:
    # Allowed fact keys only (notifications/render.FACT_LABELS). A departure's due date would
    # reveal the booked flight, so it is said in words instead.
    facts = {
        "stage": wait.stage,
        "reason": f"waiting at {wait.checkpoint.value} (attempt {wait.attempt}) past its "
        f"time limit of {wait.limit_text}",
        "note": f"`safepassage status {wait.reference}` shows the checkpoint and its run.",
    }
    if wait.shows_due and wait.due_at is not None:
        facts["due_on"] = wait.due_at.date().isoformat()
    return facts


def raise_breaches(
    store: Store, *, at: dt.datetime, settings: Settings | None = None, deliver: bool = True
) -> list[str]:
    """Record and queue an `sla-breached` alert for each new breach; return their references.

    `at` is the clock (tests pass their own). Delivery follows the commit; what fails to send
    stays in the outbox for the drainer.
    """
    rules = limits(settings or get_settings())
    raised: list[str] = []
    with store.transaction() as session:
        for wait in waiting_cases(session, store.master_key, limits=rules):
            if not wait.over_limit(at):
                continue
            case = get_case(session, wait.reference)
            detail = {"checkpoint": wait.checkpoint.value, "checkpoint_attempt": wait.attempt}
            attempt = ledger_attempt(wait.checkpoint, wait.attempt)
            if not record_action(
                session, case, ACTION, attempt, now=at, detail=detail, actor="sla-check"
            ):
                continue
            queue_notifications(
                session,
                store.master_key,
                case,
                Event.SLA_BREACHED,
                attempt=f"{wait.checkpoint.value}-{wait.attempt}",
                facts=_facts(wait),
                now=at,
            )
            raised.append(wait.reference)
    if deliver:
        _deliver(store, raised, at=at)
    return raised


def _deliver(store: Store, references: list[str], *, at: dt.datetime) -> None:
    for reference in references:
        try:
            deliver_due(store, reference=reference, now=at)
        except Exception as exc:  # the drainer retries; the message is queued and durable
            logger.warning("notice of %s left for the drainer: %s", reference, type(exc).__name__)


def send_reminders(
    store: Store, *, at: dt.datetime, settings: Settings | None = None, deliver: bool = True
) -> list[str]:
    """Record and queue one reminder per unanswered wait past half its limit; return their
    references. Only the checkpoints in REMINDERS have one (a mission's reception)."""
    settings = settings or get_settings()
    rules = limits(settings)
    sent: list[str] = []
    with store.transaction() as session:
        for wait in waiting_cases(session, store.master_key, limits=rules):
            event = REMINDERS.get(wait.checkpoint)
            if event is None or not wait.reminder_due(at) or wait.due_at is None:
                continue
            case = get_case(session, wait.reference)
            detail = {"checkpoint": wait.checkpoint.value, "checkpoint_attempt": wait.attempt}
            attempt = ledger_attempt(wait.checkpoint, wait.attempt)
            if not record_action(
                session, case, REMINDER_ACTION, attempt, now=at, detail=detail, actor="sla-check"
            ):
                continue
            # The reference, the due date and the portal's link: nothing about the person.
            facts = {"due_on": wait.due_at.date().isoformat()}
            if (link := settings.mission_case_url(wait.reference)) is not None:
                facts["link"] = link
            queue_notifications(
                session,
                store.master_key,
                case,
                event,
                attempt=f"{wait.checkpoint.value}-{wait.attempt}",
                facts=facts,
                now=at,
            )
            sent.append(wait.reference)
    if deliver:
        _deliver(store, sent, at=at)
    return sent


@task(**LEDGER_TASK)
def check_time_limits() -> int:
    """Remind missions of receptions half their time past, and alert coordinators to every
    case past its checkpoint's limit; return how many breaches are new."""
    store, at = process_store(), utcnow()
    reminded = send_reminders(store, at=at)
    raised = raise_breaches(store, at=at)
    logger.info("time limits: %d reminder(s), %d new breach(es)", len(reminded), len(raised))
    return len(raised)
