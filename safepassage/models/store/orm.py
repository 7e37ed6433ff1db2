"""The case store's tables.

Only the case reference and operational facts (programme, stage, consent, decision) are
stored in clear. Everything personal lives in `sealed_records`, encrypted under the case's own
data key (see crypto.py), so erasing a case is destroying one key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Store UTC without a zone (SQLite has none); hand back aware datetimes on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("datetimes stored in the case store must be timezone-aware")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime, dict[str, Any]: JSON}


class Case(Base):
    """One person's return, known outside the store only by its reference."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    programme: Mapped[str] = mapped_column(String(8), index=True)
    destination_country: Mapped[str] = mapped_column(String(2))
    stage: Mapped[str] = mapped_column(String(24), index=True)
    status: Mapped[str] = mapped_column(String(12))
    # The decision is kept in clear: outcome, rule ids and reasons are categories, not identity,
    # and the office's statistics need them after a case is erased.
    decision_outcome: Mapped[str] = mapped_column(String(16))
    decision: Mapped[dict[str, Any]]
    rules_version: Mapped[str] = mapped_column(String(20))
    # The person's consent per recipient and purpose (models/consent_record.py, as its
    # `stored()` JSON): what notifications and disclosures may carry, needed without a key.
    # The two flags are set from it on every change (FLAG_PURPOSES), for readers of the
    # simple yes/no; they are never written on their own (store/consent.py).
    consent: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    share_with_mission: Mapped[bool] = mapped_column(Boolean)
    share_with_embassy: Mapped[bool] = mapped_column(Boolean)
    escort_required: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    # The case's data key, wrapped by the master key; NULL once the case is erased.
    data_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(16))
    # A MAC of the fields that decide who may see what (see store/state_seal.py).
    state_mac: Mapped[str | None] = mapped_column(String(64))
    erased_at: Mapped[dt.datetime | None]
    # When the case's flow runs and artifacts were removed from Prefect after erasure; NULL
    # while that is still to do (the server was down), so the retention job finishes it.
    prefect_purged_at: Mapped[dt.datetime | None]
    # A keyed digest (HMAC under a key derived from the master key) of the intake as submitted:
    # the same file submitted twice is refused. Keyed, so it cannot be matched against guesses
    # without the master key; cleared at erasure.
    intake_fingerprint: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    # The checkpoint the flow waits at and since when (for status, reports and time limits).
    waiting_for: Mapped[str | None] = mapped_column(String(32))
    waiting_since: Mapped[dt.datetime | None]

    sealed: Mapped[list[SealedRecord]] = relationship(
        back_populates="case", cascade="all, delete-orphan", passive_deletes=True
    )


class SealedRecord(Base):
    """A piece of a case's personal data, encrypted under the case's data key."""

    __tablename__ = "sealed_records"
    __table_args__ = (UniqueConstraint("case_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    # What the record holds, for example "intake" or "checkpoint:ticket:2"; never personal itself.
    purpose: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)

    case: Mapped[Case] = relationship(back_populates="sealed")


class CaseEvent(Base):
    """One entry of the append-only event log; `hash` chains it to the entry before it.

    The chain runs over the whole store, not per case, so that deleting a case's entries
    (or the last entries of all) breaks it too. `detail` never holds personal data.
    """

    __tablename__ = "case_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    reference: Mapped[str | None] = mapped_column(String(20), index=True)
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(String(120))
    stage: Mapped[str | None] = mapped_column(String(24))
    rules_version: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ChainHead(Base):
    """The single row holding the event chain's last sequence number and hash.

    Appending locks this row first, which serialises writers on PostgreSQL, and lets
    verification notice entries removed from the end of the log.
    """

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


class StoreMeta(Base):
    """Facts about the store itself, such as which master key it was created with."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class OutboxItem(Base):
    """One notification for one target, queued in the stage's transaction and delivered after.

    Writing the message here first makes delivery durable: a crash between the stage's commit and
    the send leaves a pending row, not a lost message. The unique constraint makes queueing
    idempotent per (case, event, target, stage attempt), so a replayed stage sends nothing twice.
    `uuid` is the message id recipients de-duplicate on, since delivery is at-least-once.
    """

    __tablename__ = "outbox_items"
    __table_args__ = (
        UniqueConstraint("case_id", "event", "target", "stage_attempt"),
        # The drain query: pending items whose next attempt is due, oldest first.
        Index("ix_outbox_items_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    # The tags that matched this target for the event, e.g. "mission-ro"; decides the consent
    # that applies when the level is decided again at send time.
    audience: Mapped[str] = mapped_column(String(120))
    # A stable label of the target (its tags and a digest of its configuration entry), never
    # its URL: URLs can hold credentials.
    target: Mapped[str] = mapped_column(String(120))
    stage_attempt: Mapped[str] = mapped_column(String(64))
    # "detailed" if a detailed body was sealed at queue time; the level sent may be lower.
    level: Mapped[str] = mapped_column(String(10))
    # The consents a detailed body was sealed on, as "recipient/purpose" joined by "+" (e.g.
    # "mission/reception"): withdrawing one of them strips the body (store/consent.py). NULL
    # for a minimal item, and for one queued before consent per purpose (any withdrawal for
    # its audience strips it then).
    consent_for: Mapped[str | None] = mapped_column(String(200))
    level_sent: Mapped[str | None] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(200))
    # The minimal body is free of personal data and kept in clear; the detailed body is sealed
    # under the case's key (purpose "outbox:<uuid>"), so erasing the case erases it too.
    body: Mapped[str] = mapped_column(Text)
    sealed_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(12))
    tries: Mapped[int] = mapped_column(Integer)
    requeued: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[dt.datetime]
    # The lease: who is sending the item now, and until when the claim holds.
    claimed_by: Mapped[str | None] = mapped_column(String(36))
    claimed_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]


class CaseAction(Base):
    """A stage's side effect, done once per (case, action, attempt): the stages' idempotency ledger.

    A task records its action in the same transaction as the stage change, the event and the
    queued notifications; if the row exists already (a resume, a retry, a new flow run of the same
    case), the task does nothing again. A rebooking after a missed flight is a new attempt.
    """

    __tablename__ = "case_actions"
    __table_args__ = (UniqueConstraint("case_id", "action", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(48))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime]
    # PII-free facts about the action, for reports and the flow's replay.
    detail: Mapped[dict[str, Any]]


class CheckpointAnswer(Base):
    """An accepted answer to a checkpoint form; the answer itself is sealed in `sealed_records`.

    The flow asks this table, not Prefect, whether a checkpoint was answered: Prefect's copy of
    the answer is deleted once it is stored here.
    """

    __tablename__ = "checkpoint_answers"
    __table_args__ = (UniqueConstraint("case_id", "checkpoint", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    checkpoint: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[dt.datetime]
    # The coordinator's name or initials: staff, not the person returning; the audit needs it.
    entered_by: Mapped[str] = mapped_column(String(200))
    # The PII-free facts the flow branches on (approved, boarded, a grant above the standard).
    summary: Mapped[dict[str, Any]]


class FollowUp(Base):
    """A reintegration follow-up due after arrival; the store, not Prefect, holds the truth."""

    __tablename__ = "followups"
    __table_args__ = (
        UniqueConstraint("case_id", "number"),
        # The reconcile's query: what is due or overdue, by state and date.
        Index("ix_followups_state_due", "state", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[dt.date] = mapped_column(Date)
    window_days: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12))
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    reported_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    # Kept per row so that a corrected arrival re-plans by the plan the case started with, even
    # if the programme's plan setting changed since. The arrival date is in clear because the
    # due dates, which scheduling needs in clear (and Prefect shows), reveal it anyway.
    offset_months: Mapped[int] = mapped_column(Integer)
    arrived_on: Mapped[dt.date | None] = mapped_column(Date)
    # When the follow-up's Prefect run is scheduled, and the generation of its idempotency key:
    # moving a run makes a new generation, so a stale run's key is never reused.
    scheduled_for: Mapped[dt.datetime | None]
    run_generation: Mapped[int] = mapped_column(Integer, default=0)


class ErasureNote(Base):
    """The free-text note given with an erasure (`erase --note`), kept apart from the event log.

    The hash-chained log is permanent, so it holds only the erasure's reason code. The note may
    say more (a request's ticket number, a court order's reference); it is sealed under its own
    data key, wrapped by the master key like a case's, and the row is deleted once
    `delete_after` passes (the daily retention run), so nothing typed here is kept for good.
    """

    __tablename__ = "erasure_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    written_at: Mapped[dt.datetime]
    delete_after: Mapped[dt.datetime] = mapped_column(index=True)
    data_key: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class Account(Base):
    """A person who signs in to the gateway: a coordinator, a mission officer or an auditor.

    The password is kept as its argon2id hash; the TOTP secret is sealed under the account's
    own data key, wrapped by the master key like a case's (so key rotation re-wraps it, and a
    copy of the database without the key ring holds no usable second factor).
    """

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("role IN ('coordinator', 'mission', 'auditor')", name="role"),
        # A mission officer sees their own country's cases, so the country is required; any
        # other role with a country would be a mistake waiting to be read as a scope.
        CheckConstraint("(role = 'mission') = (mission IS NOT NULL)", name="mission_only"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(12))
    mission: Mapped[str | None] = mapped_column(String(2))
    password_hash: Mapped[str] = mapped_column(String(200))
    # The account's data key, wrapped by the master key (bound to "account:<name>").
    data_key: Mapped[bytes] = mapped_column(LargeBinary)
    totp_secret: Mapped[bytes] = mapped_column(LargeBinary)
    disabled: Mapped[bool] = mapped_column(Boolean)
    # Failed sign-ins since the last success or lock; at five the account locks for a while.
    failed_attempts: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None]
    # The TOTP time step of the last accepted code: a code of that step or an earlier one is
    # refused, so a code seen over someone's shoulder or in a proxy's log cannot be replayed.
    last_totp_step: Mapped[int | None] = mapped_column(Integer)
    signed_in_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    # When an operator last changed the account (added, disabled, reset); sign-ins do not count.
    updated_at: Mapped[dt.datetime]


class MissionToken(Base):
    """An API token for a receiving mission's own system; the token itself is never stored.

    Names are never reused, even once revoked: a token's name is who the audit trail says
    entered what it submitted.
    """

    __tablename__ = "mission_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    mission: Mapped[str] = mapped_column(String(2))
    # SHA-256 of the token, in hex (why not argon2: credentials.token_digest).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class GatewaySession(Base):
    """A signed-in person's session at the gateway, kept on the server so it can be ended.

    The browser holds a random session id; only its SHA-256 is stored, so a copy of the table
    signs no one in. Signing out, idling for 30 minutes or disabling the account sets
    `ended_at`, and an ended session is never live again.
    """

    __tablename__ = "gateway_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    # Per session, sent back in every state-changing form; useless without the session cookie.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
