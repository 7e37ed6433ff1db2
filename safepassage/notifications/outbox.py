"""Queue notifications in the caller's transaction, and look at or requeue what was queued.

A stage change and the notifications it causes commit together or not at all: the outbox row
is the promise to notify, kept by `deliver.py` after the commit. Queueing is idempotent per
(case, event, target, stage attempt), so a replayed or retried stage queues nothing new.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from safepassage.models.consent_record import Purpose, Recipient
from safepassage.models.crypto import CaseCipher, MasterKey
from safepassage.models.errors import ConfigurationError, KeyUnavailable
from safepassage.models.json_ready import json_ready
from safepassage.models.store.cases import cipher_for
from safepassage.models.store.consent import consent_tag, consents_to
from safepassage.models.store.events import append_event
from safepassage.models.store.orm import Case, OutboxItem
from safepassage.notifications.events import Audience, Event, audiences_for, next_action, tag_for
from safepassage.notifications.purposes import consents_needed
from safepassage.notifications.render import Level, render
from safepassage.notifications.targets import Target, Targets, load_targets


class State(StrEnum):
    """Where an outbox item stands; a claimed item stays `pending` while its lease runs."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class Queued:
    """One queued notification, as its queuer sees it: no body, nothing personal."""

    message_id: str
    event: str
    target: str
    level: str
    state: str

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> Queued:
        """Return the record of an outbox row (a mapping of its columns)."""
        return cls(row["uuid"], row["event"], row["target"], row["level"], row["state"])

    def as_dict(self) -> dict[str, str]:
        """Return the record as JSON-ready values."""
        return json_ready(self)


def sealed_purpose(item_uuid: str, target: str, audience: str) -> str:
    """Return the purpose a detailed body is sealed under: this one message, to this target for
    this audience. A row whose target or audience was changed in the database no longer opens,
    so the details cannot be redirected to someone the person did not consent to."""
    return f"outbox:{item_uuid}|{target}|{audience}"


def audiences_of(audience_column: str) -> list[Audience]:
    """Return the audiences an item's `audience` column names ("mission-ro+embassy-ro")."""
    found = []
    for tag in audience_column.split("+"):
        kind = tag.split("-", 1)[0]
        if kind in {a.value for a in Audience}:
            found.append(Audience(kind))
    return found


def detail_allowed(
    target: Target | None,
    audiences: Sequence[Audience],
    *,
    event: Event | str,
    consents: Callable[[Recipient, Purpose], bool],
) -> bool:
    """Return whether `target` may get a case's personal details of `event` as `audiences`.

    Only targets tagged `secure`, only for an event whose details serve a purpose for each
    audience (purposes.py), and only with the person's consent (`consents`, the store's
    `consents_to` on the case) for that recipient and that purpose; a target serving several
    audiences needs each. Coordinators never get details by notification: they are staff who
    can open the case in SafePassage, where every reveal is logged, so a copy in a mailbox
    would add exposure and no capability.
    """
    if target is None or not target.secure:
        return False
    needed = consents_needed(event, audiences)
    return needed is not None and all(consents(r, p) for r, p in needed)


def plan_targets(targets: Targets, event: Event, case: Case) -> list[tuple[Target, list[str]]]:
    """Return each target that `event` of `case` goes to, with the tags it matched on.

    A target matched by several audiences gets one message; a missing audience tag is an error
    naming it, because a silent gap would leave a recipient uninformed.
    """
    plan: dict[str, tuple[Target, list[str]]] = {}
    for audience in audiences_for(event):
        tag = tag_for(audience, case.destination_country)
        matched = targets.find(tag)
        if not matched:
            raise ConfigurationError(
                f"no notification target is tagged {tag}, needed to send {event.value} for case "
                f"{case.reference}: add an entry with `tag: {tag}` to {targets.path}"
            )
        for target in matched:
            plan.setdefault(target.label, (target, []))[1].append(tag)
    return list(plan.values())


def queue_notifications(
    session: Session,
    master_key: MasterKey,
    case: Case,
    event: Event | str,
    *,
    attempt: str = "1",
    facts: Mapping[str, str] | None = None,
    details: Mapping[str, str] | None = None,
    now: dt.datetime,
    targets: Targets | None = None,
) -> list[Queued]:
    """Queue `event` of `case` for every target its audiences have, in the caller's transaction.

    `attempt` names the attempt of the stage (a retried or replayed stage passes the same one
    and gets the existing items back, queueing nothing). `facts` are impersonal extras such as
    a due date; `details` are personal and reach only cleared targets, sealed under the case's
    key until sent. Returns what is queued for this (case, event, attempt), one per target, as
    PII-free records a task can return as its result.
    """
    event = Event(event)
    if case.id is None:  # a case added in this transaction and not yet written
        session.flush()
    targets = targets if targets is not None else load_targets()
    plan = plan_targets(targets, event, case)
    rows = [
        _new_row(
            master_key,
            case=case,
            event=event,
            attempt=attempt,
            target=target,
            tags=tags,
            facts=facts,
            details=details,
            now=now,
        )
        for target, tags in plan
    ]
    # INSERT .. ON CONFLICT DO NOTHING .. RETURNING, in Core: one statement queues what is new
    # and skips what a replay or a concurrent process queued already (the unique constraint),
    # with no savepoint and no failed statement to recover from. Core rather than ORM objects:
    # this runs in every stage's transaction, and the ORM's bookkeeping doubled its cost.
    table = _table()
    statement = _insert_ignoring_duplicates(session.get_bind().dialect.name)
    # On the connection: the ORM session adds nothing for a Core statement but its overhead.
    connection = session.connection()
    new = {row.target for row in connection.execute(statement, rows)}
    queued = {r["target"]: Queued.of(r) for r in rows if r["target"] in new}
    if len(queued) < len(plan):
        earlier = select(table).where(
            table.c.case_id == case.id,
            table.c.event == event.value,
            table.c.stage_attempt == attempt,
        )
        queued.update((r.target, Queued.of(r._mapping)) for r in connection.execute(earlier))
    return [queued[target.label] for target, _ in plan]


def _table() -> Table:
    return cast(Table, OutboxItem.__table__)


@functools.cache
def _insert_ignoring_duplicates(dialect: str) -> Any:
    # Built once per dialect: constructing the statement costs as much as running it. The
    # dialect's module is imported here, not at the top: SQLAlchemy's PostgreSQL package costs
    # a flow-run process on SQLite about 0.1 s to import for nothing.
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql  # noqa: PLC0415 - see above

        return postgresql.insert(_table()).on_conflict_do_nothing().returning(_table().c.target)
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite  # noqa: PLC0415 - see above

        return sqlite.insert(_table()).on_conflict_do_nothing().returning(_table().c.target)
    raise ConfigurationError(  # pragma: no cover - the store supports these two only
        f"the outbox needs PostgreSQL or SQLite, not {dialect}: check SAFEPASSAGE_DATABASE_URL"
    )


def _new_row(
    master_key: MasterKey,
    *,
    case: Case,
    event: Event,
    attempt: str,
    target: Target,
    tags: list[str],
    facts: Mapping[str, str] | None,
    details: Mapping[str, str] | None,
    now: dt.datetime,
) -> dict[str, Any]:
    item_uuid = str(uuid.uuid4())
    audiences = [Audience(tag.split("-", 1)[0]) for tag in tags]
    wants_detail = bool(details) and detail_allowed(
        target,
        audiences,
        event=event,
        consents=lambda recipient, purpose: consents_to(case, recipient, purpose),
    )
    rendered = render(
        reference=case.reference,
        programme=case.programme,
        event=event,
        date=now.astimezone(dt.UTC).date().isoformat(),
        next_action=" Also: ".join(dict.fromkeys(next_action(event, a) for a in audiences)),
        message_id=item_uuid,
        facts=facts,
        details=details if wants_detail else None,
    )
    sealed, consent_for = None, None
    if rendered.detailed is not None:
        cipher = _cipher(master_key, case)
        if cipher is not None:
            purpose = sealed_purpose(item_uuid, target.label, "+".join(tags))
            sealed = cipher.seal(purpose, rendered.detailed.encode())
            # What the body was sealed on: withdrawing any of these strips it (store/consent.py).
            needed = consents_needed(event, audiences) or []
            consent_for = "+".join(consent_tag(r, p) for r, p in needed)
    return {
        "uuid": item_uuid,
        "case_id": case.id,
        "event": event.value,
        "audience": "+".join(tags),
        "target": target.label,
        "stage_attempt": attempt,
        "level": Level.DETAILED.value if sealed is not None else Level.MINIMAL.value,
        "consent_for": consent_for,
        "level_sent": None,
        "title": rendered.title[:200],
        "body": rendered.minimal,
        "sealed_body": sealed,
        "state": State.PENDING.value,
        "tries": 0,
        "requeued": 0,
        "next_attempt_at": now,
        "claimed_by": None,
        "claimed_until": None,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
        "sent_at": None,
    }


def _cipher(master_key: MasterKey, case: Case) -> CaseCipher | None:
    # An erased case has no key: it can only be told of minimally, which is what we then do.
    try:
        return cipher_for(master_key, case)
    except KeyUnavailable:
        return None


# -- looking at the outbox -----------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxView:
    """One outbox item as shown to people and scripts: no body, no URL, no personal data."""

    reference: str
    message_id: str
    event: str
    stage_attempt: str
    target: str
    level: str
    level_sent: str | None
    state: str
    tries: int
    last_error: str | None
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        """Return the view as JSON-ready values."""
        return {
            "reference": self.reference,
            "message_id": self.message_id,
            "event": self.event,
            "stage_attempt": self.stage_attempt,
            "target": self.target,
            "level": self.level_sent or self.level,
            "state": self.state,
            "attempts": self.tries,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": (
                self.next_attempt_at.isoformat() if self.state == State.PENDING else None
            ),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
        }


def list_outbox(
    session: Session,
    *,
    reference: str | None = None,
    failed_only: bool = False,
    limit: int | None = None,
) -> list[OutboxView]:
    """Return outbox items, newest first, optionally of one case or only the failed ones."""
    query = select(OutboxItem, Case.reference).join(Case, Case.id == OutboxItem.case_id)
    if reference is not None:
        query = query.where(Case.reference == reference)
    if failed_only:
        query = query.where(OutboxItem.state == State.FAILED.value)
    query = query.order_by(OutboxItem.created_at.desc(), OutboxItem.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [
        OutboxView(
            reference=ref,
            message_id=item.uuid,
            event=item.event,
            stage_attempt=item.stage_attempt,
            target=item.target,
            level=item.level,
            level_sent=item.level_sent,
            state=item.state,
            tries=item.tries,
            last_error=item.last_error,
            created_at=item.created_at,
            next_attempt_at=item.next_attempt_at,
            sent_at=item.sent_at,
        )
        for item, ref in session.execute(query)
    ]


def requeue_failed(session: Session, case: Case, *, actor: str, now: dt.datetime) -> int:
    """Put a case's failed items back in the queue with fresh attempts; return how many.

    The same items (same message ids) are sent again, so recipients can still de-duplicate.
    """
    result = session.execute(
        update(OutboxItem)
        .where(OutboxItem.case_id == case.id, OutboxItem.state == State.FAILED.value)
        .values(
            state=State.PENDING.value,
            tries=0,
            requeued=OutboxItem.requeued + 1,
            next_attempt_at=now,
            claimed_by=None,
            claimed_until=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        append_event(
            session,
            reference=case.reference,
            kind="notifications-requeued",
            actor=actor,
            at=now,
            stage=case.stage,
            detail={"count": count},
        )
    return count
