"""The person's consent per recipient and purpose, on the case row: read, record, show.

`consents_to` is the one way anything reads consent: every send, at queue time and again at
send time, and every disclosure to a mission officer. The record lives on the case row in clear
(a send needs it without a key), under the case's state seal (store/state_seal.py); the two old
flags are set from it on every change (consent_record.FLAG_PURPOSES), never on their own.

A change applies to the next send at once. Pending detailed notifications whose body was
sealed on a consent now withdrawn lose that body here, in the same transaction: they can only
ever go out minimal now (reference, stage, next action), and the event log lists them by
message id. Each changed entry is one `consent-changed` event naming the recipient, the
purpose, the answer and the answer before; nothing personal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.consent_record import (
    CASE_FILE_PURPOSES,
    RECORDED_BY_MAX,
    ConsentEntry,
    ConsentRecord,
    ConsentSource,
    Purpose,
    Recipient,
    language_code,
)
from safepassage.models.errors import CaseErased, FieldProblem, IntakeInvalid
from safepassage.models.store.events import append_event
from safepassage.models.store.orm import Case, OutboxItem

#: Outbox states that may still be sent (a failed item can be requeued by a coordinator).
UNSENT = ("pending", "failed")


@dataclass(frozen=True)
class ConsentChange:
    """The consent now in force, what changed, and the queued detailed notifications it
    turned minimal.

    `share_with_mission` and `share_with_embassy` are the two flags as they now stand (the
    mission's reception, the embassy's travel documents); `changes` has one entry per changed
    pair: recipient, purpose, agreed, and `before` (None if never asked).
    """

    reference: str
    share_with_mission: bool
    share_with_embassy: bool
    changed: bool
    sent_minimal_instead: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    record: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the change as JSON-ready values."""
        return asdict(self)


class CaseRow(Protocol):
    """A case row, or its columns copied out of a session (delivery's claimed items)."""

    @property
    def consent(self) -> Mapping[str, Any]: ...


def consents_to(case: Case | CaseRow, recipient: Recipient, purpose: Purpose) -> bool:
    """Return whether the person agreed to share with `recipient` for `purpose`.

    Reads the case row only; whether the row is as SafePassage wrote it is the caller's check
    where a forgery could disclose something (delivery and the mission's view check the seal).
    """
    return ConsentRecord.from_stored(case.consent).agrees(recipient, purpose)


def consent_record(case: Case) -> list[dict[str, Any]]:
    """Return the case's consent record for display: one JSON-ready row per entry.

    Each row: recipient, purpose, agreed, recorded_on, language, interpreter_used, recorded_by
    and source. A pair not listed was never agreed to.
    """
    return ConsentRecord.from_stored(case.consent).rows()


def set_record(case: Case, record: ConsentRecord) -> None:
    """Write `record` on the case row, and the two flags from it (for a new or changed case)."""
    case.consent = record.stored()
    flags = record.flags()
    case.share_with_mission = flags["share_with_mission"]
    case.share_with_embassy = flags["share_with_embassy"]


def record_consent(
    session: Session,
    case: Case,
    *,
    recipient: Recipient,
    purpose: Purpose,
    agreed: bool,
    recorded_on: dt.date,
    language: str | None,
    interpreter_used: bool,
    actor: str,
    now: dt.datetime,
    source: ConsentSource = ConsentSource.CHECKPOINT,
    restated: bool = False,
) -> ConsentChange:
    """Record the person's answer for one recipient and purpose; unchanged, it writes nothing.

    An entry is unchanged when it gives the answer already in force (the date, language or
    recorder of the same answer again is not a change), unless `restated`: the person was
    asked in person (the consent checkpoint), so when, in which language and with which
    interpreter they answered is recorded even if the case file said the same. A "no" for a
    pair never asked is recorded: the person was asked and declined. `language` is an ISO
    639-1 code (or None if not known); `actor` is who records it, kept as the entry's
    `recorded_by` and the event's actor. Raises CaseErased for an erased case, IntakeInvalid
    for a language that is not a code (named, never repeated).
    """
    entry = ConsentEntry(
        agreed=agreed,
        recorded_on=recorded_on,
        language=_language(language),
        interpreter_used=interpreter_used,
        recorded_by=actor[:RECORDED_BY_MAX],
        source=ConsentSource(source),
    )
    wanted = [(Recipient(recipient), Purpose(purpose), entry)]
    return _record(session, case, wanted, actor, now, restated=restated)


def change_consent(
    session: Session,
    case: Case,
    *,
    share_with_mission: bool | None,
    share_with_embassy: bool | None,
    actor: str,
    now: dt.datetime,
    language: str | None = None,
    interpreter_used: bool = False,
    source: ConsentSource = ConsentSource.CLI,
) -> ConsentChange:
    """Record the person's consent to share with the mission or the embassy, as a whole.

    The shorthands of the case file's flags: the mission's answer applies to its reception,
    reintegration and follow-up contact, the embassy's to its travel documents
    (CASE_FILE_PURPOSES); None leaves that recipient as it is. Recorded as of `now`'s date.
    """
    given = {Recipient.MISSION: share_with_mission, Recipient.EMBASSY: share_with_embassy}
    code = _language(language)
    wanted = [
        (
            recipient,
            purpose,
            ConsentEntry(
                agreed=agreed,
                recorded_on=now.astimezone(dt.UTC).date(),
                language=code,
                interpreter_used=interpreter_used,
                recorded_by=actor[:RECORDED_BY_MAX],
                source=ConsentSource(source),
            ),
        )
        for recipient, agreed in given.items()
        if agreed is not None
        for purpose in CASE_FILE_PURPOSES[recipient]
    ]
    return _record(session, case, wanted, actor, now)


def _language(code: str | None) -> str | None:
    if code is None:
        return None
    try:
        return language_code(code)
    except ValueError as exc:
        raise IntakeInvalid([FieldProblem("language", str(exc))], source="the consent") from None


def _record(
    session: Session,
    case: Case,
    wanted: list[tuple[Recipient, Purpose, ConsentEntry]],
    actor: str,
    now: dt.datetime,
    *,
    restated: bool = False,
) -> ConsentChange:
    if case.erased_at is not None:
        raise CaseErased(f"case {case.reference} was erased: there is nothing left to share")
    record = ConsentRecord.from_stored(case.consent)
    changes: list[tuple[Recipient, Purpose, ConsentEntry, ConsentEntry | None]] = []
    for recipient, purpose, entry in wanted:
        before = record.entry(recipient, purpose)
        if before is not None and before.agreed == entry.agreed and not restated:
            continue
        record = record.with_entry(recipient, purpose, entry)
        changes.append((recipient, purpose, entry, before))
    if not changes:
        return _change(case, record, changed=False)
    set_record(case, record)
    case.updated_at = now
    flags = record.flags()
    downgraded: list[str] = []
    described: list[dict[str, Any]] = []
    for recipient, purpose, entry, before in changes:
        withdrawn = before is not None and before.agreed and not entry.agreed
        stripped = _strip_detail(session, case, recipient, purpose, now) if withdrawn else []
        downgraded += stripped
        described.append(
            {
                "recipient": recipient.value,
                "purpose": purpose.value,
                "agreed": entry.agreed,
                "before": None if before is None else before.agreed,
            }
        )
        append_event(
            session,
            reference=case.reference,
            kind="consent-changed",
            actor=actor,
            at=now,
            stage=case.stage,
            # No language, no date: what changed, for whom and why, and its effect on sends.
            detail={
                **described[-1],
                "source": entry.source.value,
                **flags,
                "queued_detailed_sent_minimal": stripped,
            },
        )
    session.flush()
    return _change(case, record, changed=True, downgraded=downgraded, changes=described)


def _change(
    case: Case,
    record: ConsentRecord,
    *,
    changed: bool,
    downgraded: list[str] | None = None,
    changes: list[dict[str, Any]] | None = None,
) -> ConsentChange:
    flags = record.flags()
    return ConsentChange(
        reference=case.reference,
        share_with_mission=flags["share_with_mission"],
        share_with_embassy=flags["share_with_embassy"],
        changed=changed,
        sent_minimal_instead=downgraded or [],
        changes=changes or [],
        record=record.rows(),
    )


def consent_tag(recipient: Recipient, purpose: Purpose) -> str:
    """Return how an outbox item's `consent_for` names a consent ("mission/reception")."""
    return f"{recipient.value}/{purpose.value}"


def _strip_detail(
    session: Session, case: Case, recipient: Recipient, purpose: Purpose, now: dt.datetime
) -> list[str]:
    """Remove the sealed detailed body of the case's unsent items that relied on the consent;
    return their message ids."""
    tag = consent_tag(recipient, purpose)
    unsent = session.scalars(
        select(OutboxItem).where(
            OutboxItem.case_id == case.id,
            OutboxItem.state.in_(UNSENT),
            OutboxItem.sealed_body.is_not(None),
        )
    )
    stripped = []
    for item in unsent:
        if item.consent_for is not None:
            relied = tag in item.consent_for.split("+")
        else:  # queued before consent per purpose: any withdrawal for its audience counts
            relied = recipient.value in {t.split("-", 1)[0] for t in item.audience.split("+")}
        if relied:
            item.sealed_body = None
            item.updated_at = now
            stripped.append(item.uuid)
    return stripped
