"""Deliver due outbox items: claim a batch, send each through Apprise, record the results.

Claiming and recording are one transaction per batch, not per message: on SQLite a commit per
message would cost a quarter of a local send again, and it would hold the write lock that every
stage's transaction needs. A claim is a lease (`claimed_by`, `claimed_until`),
so the task delivering its own case and a background drainer never send one item at the same
time, and a crashed sender's items come back when its lease runs out. Delivery is therefore
at-least-once; every message carries its item's uuid for the recipient to de-duplicate on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import apprise
from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.orm import Session

from safepassage.models.clock import utcnow
from safepassage.models.crypto import MasterKey
from safepassage.models.errors import KeyUnavailable
from safepassage.models.settings import Settings, get_settings
from safepassage.models.store import state_seal
from safepassage.models.store.consent import consents_to
from safepassage.models.store.db import Store
from safepassage.models.store.events import append_event
from safepassage.models.store.orm import Case, OutboxItem
from safepassage.notifications.events import Event
from safepassage.notifications.outbox import (
    State,
    audiences_of,
    detail_allowed,
    queue_notifications,
    sealed_purpose,
)
from safepassage.notifications.render import Level
from safepassage.notifications.targets import Target, Targets, load_targets

logger = logging.getLogger("safepassage.notifications")

MESSAGE_ID_HEADER = "X-SafePassage-Message-Id"
ACTOR = "notifications"
# Services whose Apprise plugin takes extra HTTP or mail headers per URL.
_HEADER_PROTOCOLS = frozenset({"json", "form", "xml", "mailto"})


@dataclass
class DeliveryReport:
    """What one delivery run did; counts only, so it is safe to log and to return from a flow."""

    claimed: int = 0
    sent: int = 0
    detailed: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0

    def as_dict(self) -> dict[str, int]:
        """Return the counts as a plain mapping."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class _Claimed:
    """An item claimed for sending, copied out of the session that claimed it."""

    id: int
    uuid: str
    case_id: int
    reference: str
    stage: str
    event: str
    audience: str
    target: str
    title: str
    body: str
    sealed_body: bytes | None
    tries: int
    requeued: int
    consent: dict[str, Any]
    share_with_mission: bool
    share_with_embassy: bool
    data_key: bytes | None
    programme: str
    destination_country: str
    escort_required: bool
    state_mac: str | None

    def state_holds(self, master_key: MasterKey) -> bool:
        """Return whether the case's consent and stage are as SafePassage wrote them."""
        values = {name: getattr(self, name) for name in state_seal.COVERED}
        return state_seal.values_hold(master_key, values, self.state_mac)


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    level: Level | None = None
    error: str | None = None


@dataclass
class _Run:
    store: Store
    targets: Targets
    settings: Settings
    clock: Callable[[], dt.datetime]
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    report: DeliveryReport = field(default_factory=DeliveryReport)
    # Targets that failed during this run: their other items wait for the next run.
    failing: set[str] = field(default_factory=set)


def deliver_due(
    store: Store,
    *,
    reference: str | None = None,
    now: dt.datetime | None = None,
    limit: int = 1000,
    batch_size: int = 250,
    targets: Targets | None = None,
    settings: Settings | None = None,
) -> DeliveryReport:
    """Send the outbox items that are due (of one case if `reference` is given); report counts.

    A stage's task calls this with its case's reference right after committing; the drainer
    and the `deliver-notifications` flow call it without. Each item is tried at most once per
    call; a failure waits `notify_retry_base_seconds * 2**(tries-1)` before the next try, and
    after `notify_max_attempts` the item fails and coordinators get a `delivery-failed` notice.
    `now` fixes the clock (tests); otherwise the real time is read as the run goes.
    """
    settings = settings or get_settings()
    run = _Run(
        store=store,
        targets=targets if targets is not None else load_targets(settings),
        settings=settings,
        clock=(lambda: now) if now is not None else utcnow,
    )
    tried: set[int] = set()
    while run.report.claimed < limit:
        claimed = _claim(run, reference, min(batch_size, limit - run.report.claimed), tried)
        if not claimed:
            break
        run.report.claimed += len(claimed)
        outcomes = _send_batch(run, claimed)
        _record(run, claimed, outcomes)
        tried.update(c.id for c, o in zip(claimed, outcomes, strict=True) if not (o and o.ok))
    return run.report


def deliver_now(store: Store, reference: str) -> None:
    """Deliver a case's due notifications right after a stage commits; never fail the stage.

    A receiver that is down must not stop a person's return: the items stay in the outbox and
    the serving process's drainer retries them with backoff.
    """
    try:
        report = deliver_due(store, reference=reference)
    except Exception as exc:
        logger.warning(
            "notifications of %s left for the drainer: %s", reference, type(exc).__name__
        )
    else:
        logger.info("notifications of %s: %s", reference, report)


def _claim(run: _Run, reference: str | None, count: int, tried: set[int]) -> list[_Claimed]:
    """Lease up to `count` due items to this run, and copy out what sending them needs."""
    now = run.clock()
    with run.store.transaction() as session:
        query = select(OutboxItem.id).where(
            OutboxItem.state == State.PENDING.value,
            OutboxItem.next_attempt_at <= now,
            or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until <= now),
        )
        if reference is not None:
            case_id = select(Case.id).where(Case.reference == reference).scalar_subquery()
            query = query.where(OutboxItem.case_id == case_id)
        if tried:
            # An item that failed or was handed back earlier in this call may be due again at
            # once: one try per call keeps a call's length bounded.
            query = query.where(OutboxItem.id.not_in(tried))
        # SKIP LOCKED lets concurrent claimers on PostgreSQL take different rows instead of
        # queueing behind each other; SQLite serialises writers with BEGIN IMMEDIATE instead.
        query = (
            query.order_by(OutboxItem.next_attempt_at, OutboxItem.id)
            .limit(count)
            .with_for_update(skip_locked=True)
        )
        ids = list(session.scalars(query))
        if not ids:
            return []
        lease_end = now + dt.timedelta(seconds=run.settings.notify_lease_seconds)
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids))
            .values(claimed_by=run.token, claimed_until=lease_end)
            .execution_options(synchronize_session=False)
        )
        # Plain columns, not ORM objects: a batch is hundreds of rows, and nothing here is
        # changed through the ORM.
        item, case = _table(), cast(Table, Case.__table__)
        rows = session.execute(
            select(
                item.c.id,
                item.c.uuid,
                item.c.case_id,
                case.c.reference,
                case.c.stage,
                item.c.event,
                item.c.audience,
                item.c.target,
                item.c.title,
                item.c.body,
                item.c.sealed_body,
                item.c.tries,
                item.c.requeued,
                case.c.consent,
                case.c.share_with_mission,
                case.c.share_with_embassy,
                case.c.data_key,
                case.c.programme,
                case.c.destination_country,
                case.c.escort_required,
                case.c.state_mac,
            )
            .join(case, case.c.id == item.c.case_id)
            .where(item.c.id.in_(ids))
            .order_by(item.c.next_attempt_at, item.c.id)
        )
        return [_Claimed(**row._mapping) for row in rows]


def _send_batch(run: _Run, claimed: Sequence[_Claimed]) -> list[_Outcome | None]:
    """Send each claimed item; None for an item handed back unsent, untried.

    Two reasons to hand an item back: its target already failed in this run (a target that is
    down or hanging costs one timeout per run, not one per queued message, and its other
    messages wait their turn), or slow targets ate half the lease (better to hand the rest
    back than risk another process claiming them while we still send).
    """
    started = time.monotonic()
    budget = run.settings.notify_lease_seconds / 2
    outcomes: list[_Outcome | None] = []
    for item in claimed:
        if item.target in run.failing or time.monotonic() - started > budget:
            outcomes.append(None)
            continue
        outcome = _send_one(run.store.master_key, run.targets, item)
        if not outcome.ok:
            run.failing.add(item.target)
        outcomes.append(outcome)
    return outcomes


def _send_one(master_key: MasterKey, targets: Targets, item: _Claimed) -> _Outcome:
    """Decide the level from the consent and clearance of now, and send the item.

    The consent is checked again for the item's recipient and purpose: a consent withdrawn
    since it was queued (for this purpose only, or altogether) sends it minimal.
    """
    target = targets.get(item.target)
    if target is None:
        return _Outcome(ok=False, error="the target is no longer in the notification configuration")
    level, body = Level.MINIMAL, item.body
    allowed = detail_allowed(
        target,
        audiences_of(item.audience),
        event=item.event,
        consents=lambda recipient, purpose: consents_to(item, recipient, purpose),
    )
    # A consent set by hand in the database (its seal fails) shares nothing.
    if item.sealed_body is not None and allowed and item.state_holds(master_key):
        try:
            cipher = master_key.case_cipher(item.reference, item.data_key)
            purpose = sealed_purpose(item.uuid, item.target, item.audience)
            body = cipher.open(purpose, item.sealed_body).decode()
            level = Level.DETAILED
        except KeyUnavailable:  # erased since it was queued: the minimal text is all that's left
            pass
    if send_message(target, title=item.title, body=body, message_id=item.uuid):
        return _Outcome(ok=True, level=level)
    return _Outcome(ok=False, error="the target refused the message or could not be reached")


def send_message(target: Target, *, title: str, body: str, message_id: str | None = None) -> bool:
    """Send one message to one target through its Apprise service; return whether it went.

    The message id also goes in a header (and, for `json://`, a `message_id` field) where the
    service takes one. Those are per-URL settings in Apprise, so they are set for this one send
    under the target's lock and put back after.
    """
    service: Any = target.service
    protocol = getattr(service, "protocol", None)
    with target.lock:
        saved_headers = getattr(service, "headers", None)
        saved_payload = getattr(service, "payload_extras", None)
        try:
            if message_id and protocol in _HEADER_PROTOCOLS and isinstance(saved_headers, dict):
                service.headers = {**saved_headers, MESSAGE_ID_HEADER: message_id}
            if message_id and protocol == "json" and isinstance(saved_payload, dict):
                service.payload_extras = {**saved_payload, "message_id": message_id}
            return bool(
                service.notify(
                    body=body,
                    title=title,
                    notify_type=apprise.NotifyType.INFO,
                    body_format=apprise.NotifyFormat.TEXT,
                )
            )
        except Exception:  # a plugin's crash is a failed delivery, retried like any other
            return False
        finally:
            if isinstance(saved_headers, dict):
                service.headers = saved_headers
            if isinstance(saved_payload, dict):
                service.payload_extras = saved_payload


def _table() -> Table:
    return cast(Table, OutboxItem.__table__)


def _record(run: _Run, claimed: Sequence[_Claimed], outcomes: Sequence[_Outcome | None]) -> None:
    """Write every result of a batch in one transaction; only rows this run still holds change.

    Results are grouped so that each group is one UPDATE over a list of ids (all sent at one
    level, all retrying after the same number of tries, all handed back): a statement per
    group rather than per message, which is what keeps the bookkeeping cheap on SQLite.
    """
    now = run.clock()
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    final: list[tuple[_Claimed, str]] = []
    with run.store.transaction() as session:
        for item, outcome in zip(claimed, outcomes, strict=True):
            if outcome is None:
                groups[("released",)].append(item.id)
            elif outcome.ok:
                level = outcome.level or Level.MINIMAL
                groups[("sent", level.value)].append(item.id)
                if level is Level.DETAILED:
                    _log_disclosure(session, item, now)
            elif item.tries + 1 >= run.settings.notify_max_attempts:
                final.append((item, outcome.error or "delivery failed"))
            else:
                error = outcome.error or "delivery failed"
                groups[("retry", str(item.tries + 1), error)].append(item.id)
        table = _table()
        cleared = {"claimed_by": None, "claimed_until": None, "updated_at": now}
        for key, ids in groups.items():
            mine = and_(table.c.id.in_(ids), table.c.claimed_by == run.token)
            if key[0] == "sent":
                values: dict[str, Any] = {
                    "state": State.SENT.value,
                    "tries": table.c.tries + 1,
                    "level_sent": key[1],
                    "sent_at": now,
                    "last_error": None,
                }
                run.report.sent += len(ids)
                run.report.detailed += len(ids) if key[1] == Level.DETAILED.value else 0
            elif key[0] == "retry":
                # Doubling, capped: a receiver down for a day is retried every so often, not
                # once a week by the tenth try.
                delay = min(
                    run.settings.notify_retry_base_seconds * 2 ** (int(key[1]) - 1),
                    run.settings.notify_retry_max_seconds,
                )
                values = {
                    "tries": table.c.tries + 1,
                    "next_attempt_at": now + dt.timedelta(seconds=delay),
                    "last_error": key[2],
                }
                run.report.retrying += len(ids)
            else:
                values = {}
                run.report.released += len(ids)
            session.execute(update(table).where(mine).values(**values, **cleared))
        for item, error in final:
            _fail(run, session, item, error, now)


def _log_disclosure(session: Session, item: _Claimed, now: dt.datetime) -> None:
    append_event(
        session,
        reference=item.reference,
        kind="detail-disclosed",
        actor=ACTOR,
        at=now,
        stage=item.stage,
        detail={
            "event": item.event,
            "target": item.target,
            "level": Level.DETAILED.value,
            "message_id": item.uuid,
        },
    )


def _fail(run: _Run, session: Session, item: _Claimed, error: str, now: dt.datetime) -> None:
    """Give up on an item; tell coordinators, unless it was itself such a notice."""
    result = session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item.id, OutboxItem.claimed_by == run.token)
        .values(
            state=State.FAILED.value,
            tries=item.tries + 1,
            last_error=error,
            claimed_by=None,
            claimed_until=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):  # our lease ran out and another run took the item
        return
    run.report.failed += 1
    append_event(
        session,
        reference=item.reference,
        kind="notification-failed",
        actor=ACTOR,
        at=now,
        stage=item.stage,
        detail={"event": item.event, "target": item.target, "tries": item.tries + 1},
    )
    if item.event == Event.DELIVERY_FAILED.value:
        # A notice about a failed notice would chase itself; the event log and
        # `safepassage notifications --failed` show it instead.
        return
    case = session.get(Case, item.case_id)
    if case is None:  # pragma: no cover - the foreign key cascades, so the case exists
        return
    queue_notifications(
        session,
        run.store.master_key,
        case,
        Event.DELIVERY_FAILED,
        # One notice per failed item and per requeue of it, so a retried failure is told again.
        attempt=f"{item.uuid}.{item.requeued}",
        facts={
            "failed_event": item.event,
            "failed_target": item.target,
            "tries": str(item.tries + 1),
        },
        now=now,
        targets=run.targets,
    )


def send_test_message(targets: Targets, tag: str, *, now: dt.datetime) -> list[tuple[Target, bool]]:
    """Send a test message, with no case data at all, to every target tagged `tag`."""
    results = []
    for target in targets.find(tag):
        body = (
            f"This is a test message from SafePassage to the targets tagged {tag}, "
            f"sent {now.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC. No action is needed."
        )
        ok = send_message(target, title=f"SafePassage test: {tag}", body=body)
        results.append((target, ok))
    return results
