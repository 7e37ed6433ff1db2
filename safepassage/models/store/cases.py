"""Data functions for cases: take in, look up, list, reveal. Each takes the caller's session."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from safepassage.models.consent_record import ConsentRecord
from safepassage.models.crypto import CaseCipher, MasterKey
from safepassage.models.errors import CaseNotFound, DuplicateIntake
from safepassage.models.intake import Intake
from safepassage.models.json_ready import json_ready
from safepassage.models.reference import new_reference
from safepassage.models.rules import Decision
from safepassage.models.store.consent import set_record
from safepassage.models.store.events import append_event, chain_head
from safepassage.models.store.orm import Case, SealedRecord
from safepassage.models.stored_forms import read_stored
from safepassage.models.vocabulary import FINAL_STAGES, Outcome, Stage

INTAKE = "intake"


def status_of(stage: str) -> str:
    """Return `ended` for a final stage, else `active` (the flow refines this to `waiting`)."""
    return "ended" if stage in {s.value for s in FINAL_STAGES} else "active"


def create_case(
    session: Session,
    master_key: MasterKey,
    intake: Intake,
    decision: Decision,
    *,
    actor: str,
    now: dt.datetime,
) -> Case:
    """Store a new case with its intake sealed, log its intake and decision, return it.

    The same intake submitted twice (a double click, a file sent again) is refused with
    DuplicateIntake naming the case it made; the unique fingerprint also settles a race.
    """
    # The chain head first: a key retirement holds it while it destroys a version, so the data
    # key below is never wrapped under a version being destroyed (store/keys.py retire).
    chain_head(session)
    sealed_intake = intake.model_dump_json().encode()
    fingerprint = master_key.fingerprint(INTAKE, sealed_intake)
    _refuse_duplicate(session, fingerprint)
    stage = Stage.INELIGIBLE if decision.outcome is Outcome.INELIGIBLE else Stage.IDENTIFICATION
    # The case file's consent block fills the consent record (for the mission and the embassy).
    consent = ConsentRecord.from_case_file(
        share_with_receiving_mission=intake.consent.share_with_receiving_mission,
        share_with_embassy=intake.consent.share_with_embassy,
        recorded_on=intake.consent.recorded_on,
        recorded_by=actor,
    )
    for _ in range(5):
        reference = new_reference(intake.programme)
        cipher, wrapped = master_key.new_case_key(reference)
        case = Case(
            reference=reference,
            programme=intake.programme.value,
            destination_country=intake.destination_country,
            stage=stage.value,
            status=status_of(stage),
            decision_outcome=decision.outcome.value,
            decision=decision.as_dict(),
            rules_version=decision.rules_version,
            escort_required=decision.escort_required,
            created_at=now,
            updated_at=now,
            ended_at=now if stage in FINAL_STAGES else None,
            data_key=wrapped,
            master_key_id=master_key.key_id,
            erased_at=None,
            intake_fingerprint=fingerprint,
        )
        set_record(case, consent)
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:
            _refuse_duplicate(session, fingerprint)  # the same intake, committed meanwhile
            continue  # 40 random bits collided with an existing reference: draw again
        break
    else:  # pragma: no cover - five collisions in a row mean the generator is broken
        raise RuntimeError("could not draw an unused case reference")
    seal(session, case, cipher, INTAKE, sealed_intake, now=now)
    append_event(
        session,
        reference=reference,
        kind="case-taken-in",
        actor=actor,
        at=now,
        stage=Stage.IDENTIFICATION.value,
        detail={"programme": case.programme, "destination_country": case.destination_country},
    )
    append_event(
        session,
        reference=reference,
        kind="eligibility-decided",
        actor="rules",
        at=now,
        stage=stage.value,
        rules_version=decision.rules_version,
        detail={
            "outcome": decision.outcome.value,
            "rules": [f.rule for f in decision.findings],
            "office_policy_version": decision.office_policy_version,
            "escort_required": decision.escort_required,
        },
    )
    return case


def _refuse_duplicate(session: Session, fingerprint: str) -> None:
    earlier = session.scalar(select(Case).where(Case.intake_fingerprint == fingerprint))
    if earlier is not None:
        raise DuplicateIntake(
            f"this intake was already taken in as case {earlier.reference} on "
            f"{earlier.created_at:%Y-%m-%d %H:%M} UTC; nothing was written. See it with "
            f"`safepassage status {earlier.reference}`; change the file if this is a new referral"
        )


def seal(
    session: Session,
    case: Case,
    cipher: CaseCipher,
    purpose: str,
    plaintext: bytes,
    *,
    now: dt.datetime,
) -> SealedRecord:
    """Encrypt `plaintext` under the case's key and store it for `purpose` (replacing none)."""
    record = SealedRecord(
        case_id=case.id, purpose=purpose, created_at=now, ciphertext=cipher.seal(purpose, plaintext)
    )
    session.add(record)
    session.flush()
    return record


def get_case(session: Session, reference: str, *, lock: bool = False) -> Case:
    """Return the case with `reference`, or raise CaseNotFound.

    `lock` holds the case's row until the transaction ends (PostgreSQL; SQLite's write lock is
    already taken at BEGIN), so a stage and a withdrawal of the same case never interleave.
    """
    query = select(Case).where(Case.reference == reference)
    case = session.scalar(query.with_for_update() if lock else query)
    if case is None:
        raise CaseNotFound(reference)
    return case


def list_cases(session: Session, *, limit: int | None = None) -> list[Case]:
    """Return cases, newest first."""
    query = select(Case).order_by(Case.created_at.desc(), Case.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def cipher_for(master_key: MasterKey, case: Case) -> CaseCipher:
    """Return the cipher that opens `case`'s sealed records (KeyUnavailable once erased)."""
    return master_key.case_cipher(case.reference, case.data_key)


def open_sealed(session: Session, master_key: MasterKey, case: Case, purpose: str) -> bytes:
    """Decrypt one of the case's sealed records (KeyUnavailable once the case is erased)."""
    cipher = cipher_for(master_key, case)
    record = session.scalar(
        select(SealedRecord).where(SealedRecord.case_id == case.id, SealedRecord.purpose == purpose)
    )
    if record is None:
        raise KeyError(purpose)
    return cipher.open(purpose, record.ciphertext)


def read_intake_for_stage(session: Session, master_key: MasterKey, case: Case) -> Intake:
    """Decrypt the case's intake for a stage's own work (deciding, rendering a cleared message,
    checking an answer), which no person sees: no disclosure is logged.

    For a person to see, use `reveal_records`.
    """
    # Structure only: a sealed intake is never re-checked against today (see intake.STORED).
    return read_stored(Intake, open_sealed(session, master_key, case, INTAKE), what=INTAKE)


def reveal_records(
    session: Session,
    master_key: MasterKey,
    case: Case,
    records: list[str],
    *,
    actor: str,
    purpose: str,
    now: dt.datetime,
) -> dict[str, bytes]:
    """Decrypt the case's sealed `records` for a person to see, and log that disclosure.

    The one way personal data reaches a person (the CLI, an export, a web page): it writes the
    `personal-data-revealed` event under `actor`'s name in the same transaction, so a reveal
    that is not logged cannot happen (nothing is returned if the log cannot be written).
    """
    opened = {record: open_sealed(session, master_key, case, record) for record in records}
    if opened:
        log_disclosure(session, case, list(opened), actor=actor, purpose=purpose, now=now)
    return opened


def reveal_intake(
    session: Session,
    master_key: MasterKey,
    case: Case,
    *,
    actor: str,
    purpose: str,
    now: dt.datetime,
) -> Intake:
    """Decrypt the intake for a person to see, and log that disclosure (see `reveal_records`)."""
    sealed = reveal_records(
        session, master_key, case, [INTAKE], actor=actor, purpose=purpose, now=now
    )
    return read_stored(Intake, sealed[INTAKE], what=INTAKE)


def log_disclosure(
    session: Session,
    case: Case,
    records: list[str],
    *,
    actor: str,
    purpose: str,
    now: dt.datetime,
) -> None:
    """Record that `actor` was shown the case's sealed `records` for `purpose`.

    Every reveal of personal data to a person goes through here, in the transaction that
    decrypted it: the audit (`safepassage audit REF`) reads these events, one kind for all.
    """
    append_event(
        session,
        reference=case.reference,
        kind="personal-data-revealed",
        actor=actor,
        at=now,
        stage=case.stage,
        detail={"purpose": purpose, "records": records},
    )


@dataclass(frozen=True)
class CaseSummary:
    """What may be shown of a case without revealing anyone: no personal data at all."""

    reference: str
    programme: str
    destination_country: str
    stage: str
    status: str
    decision: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, case: Case) -> CaseSummary:
        return cls(
            reference=case.reference,
            programme=case.programme,
            destination_country=case.destination_country,
            stage=case.stage,
            status=case.status,
            decision=case.decision_outcome,
            created_at=case.created_at,
            updated_at=case.updated_at,
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-ready values."""
        return json_ready(self)
