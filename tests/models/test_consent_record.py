"""The consent record per recipient and purpose: filled from the case file, changed one answer at
a time, sealed with the case's state, and filled by migration 0010 for the cases before it.

On SQLite and PostgreSQL, through the store's own functions (no Prefect, no CLI).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import JSON, Engine, bindparam, text

from safepassage.models.consent_record import (
    CASE_FILE_PURPOSES,
    ConsentRecord,
    ConsentSource,
    Purpose,
    Recipient,
)
from safepassage.models.crypto import MasterKey
from safepassage.models.errors import CaseErased, ChainBroken, IntakeInvalid
from safepassage.models.store import state_seal
from safepassage.models.store.cases import get_case
from safepassage.models.store.consent import (
    consent_record,
    consents_to,
    record_consent,
)
from safepassage.models.store.db import MIGRATIONS, Store, make_engine, migrate
from safepassage.models.store.events import case_events
from safepassage.models.store.verification import verify_store
from safepassage.models.store.workflow import set_stage
from safepassage.models.vocabulary import Stage
from tests.stored import stored_case

NOW = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
ALL_PAIRS = [(r, p) for r in Recipient for p in Purpose]


def record(
    store: Store,
    ref: str,
    recipient: Recipient,
    purpose: Purpose,
    agreed: bool,
    **given: Any,
) -> Any:
    with store.transaction() as session:
        return record_consent(
            session,
            get_case(session, ref),
            recipient=recipient,
            purpose=purpose,
            agreed=agreed,
            recorded_on=given.get("recorded_on", NOW.date()),
            language=given.get("language", "ro"),
            interpreter_used=given.get("interpreter_used", True),
            actor=given.get("actor", "officer E"),
            now=NOW,
        )


def consents(store: Store, ref: str) -> set[tuple[Recipient, Purpose]]:
    with store.transaction() as session:
        case = get_case(session, ref)
        return {(r, p) for r, p in ALL_PAIRS if consents_to(case, r, p)}


def forged(store: Store) -> list[str]:
    with store.transaction() as session:
        return verify_store(session, store.master_key, store.anchor).forged_cases


def test_the_case_files_consent_block_fills_the_record_for_the_mission_and_the_embassy(
    store: Store,
) -> None:
    ref = stored_case(
        store,
        "RO",
        actor="coordinator F",
        consent__share_with_receiving_mission=True,
        consent__share_with_embassy=True,
        consent__recorded_on="2026-11-03",
    )
    with store.transaction() as session:
        rows = consent_record(get_case(session, ref))
    assert [(r["recipient"], r["purpose"]) for r in rows] == [
        ("mission", "reception"),
        ("mission", "reintegration"),
        ("mission", "followup-contact"),
        ("embassy", "travel-documents"),
    ]
    for row in rows:
        assert row["agreed"] is True
        assert row["recorded_on"] == "2026-11-03"
        # The beneficiary's preferred language is not known to be the language of consent.
        assert row["language"] is None
        assert row["interpreter_used"] is False
        assert row["recorded_by"] == "coordinator F"
        assert row["source"] == "case-file"
    assert consents(store, ref) == {
        (Recipient.MISSION, Purpose.RECEPTION),
        (Recipient.MISSION, Purpose.REINTEGRATION),
        (Recipient.MISSION, Purpose.FOLLOWUP_CONTACT),
        (Recipient.EMBASSY, Purpose.TRAVEL_DOCUMENTS),
    }  # the service providers: never asked, so no consent


def test_a_case_file_declining_both_records_each_no_and_shares_nothing(store: Store) -> None:
    ref = stored_case(
        store, consent__share_with_receiving_mission=False, consent__share_with_embassy=False
    )
    with store.transaction() as session:
        case = get_case(session, ref)
        assert [r["agreed"] for r in consent_record(case)] == [False] * 4
        assert (case.share_with_mission, case.share_with_embassy) == (False, False)
    assert consents(store, ref) == set()


def test_one_answer_changes_one_entry_writes_one_event_and_keeps_the_seal(store: Store) -> None:
    ref = stored_case(store)
    change = record(store, ref, Recipient.MISSION, Purpose.FOLLOWUP_CONTACT, False, language=" BG ")
    assert change.changed is True
    assert change.changes == [
        {"recipient": "mission", "purpose": "followup-contact", "agreed": False, "before": True}
    ]
    # Reception is still agreed: the old mission flag (the mission's reception) stays yes.
    assert (change.share_with_mission, change.share_with_embassy) == (True, False)
    assert (Recipient.MISSION, Purpose.FOLLOWUP_CONTACT) not in consents(store, ref)
    assert (Recipient.MISSION, Purpose.REINTEGRATION) in consents(store, ref)
    entry = next(r for r in change.record if r["purpose"] == "followup-contact")
    assert entry == {
        "recipient": "mission",
        "purpose": "followup-contact",
        "agreed": False,
        "recorded_on": NOW.date().isoformat(),
        "language": "bg",
        "interpreter_used": True,
        "recorded_by": "officer E",
        "source": "checkpoint",
    }
    with store.transaction() as session:
        (event,) = [e for e in case_events(session, ref) if e.kind == "consent-changed"]
    assert event.actor == "officer E"
    assert event.detail == {
        "recipient": "mission",
        "purpose": "followup-contact",
        "agreed": False,
        "before": True,
        "source": "checkpoint",
        "share_with_mission": True,
        "share_with_embassy": False,
        "queued_detailed_sent_minimal": [],
    }
    assert forged(store) == []  # the change was sealed with the case's state


def test_the_same_answer_again_writes_nothing_and_a_first_no_is_recorded(store: Store) -> None:
    ref = stored_case(store)
    again = record(store, ref, Recipient.MISSION, Purpose.RECEPTION, True, language="bg")
    assert again.changed is False
    declined = record(store, ref, Recipient.PROVIDERS, Purpose.REINTEGRATION, False)
    assert declined.changes == [
        {"recipient": "providers", "purpose": "reintegration", "agreed": False, "before": None}
    ]
    agreed = record(store, ref, Recipient.PROVIDERS, Purpose.REINTEGRATION, True)
    assert agreed.changes[0]["before"] is False
    assert (Recipient.PROVIDERS, Purpose.REINTEGRATION) in consents(store, ref)
    with store.transaction() as session:
        kinds = [e.kind for e in case_events(session, ref)]
    assert kinds.count("consent-changed") == 2


def test_a_language_that_is_not_a_code_is_refused_without_repeating_it(store: Store) -> None:
    ref = stored_case(store)
    with pytest.raises(IntakeInvalid) as refused:
        record(store, ref, Recipient.MISSION, Purpose.RECEPTION, False, language="Zenobia")
    assert "language" in str(refused.value)
    assert "Zenobia" not in str(refused.value)
    assert consents(store, ref) >= {(Recipient.MISSION, Purpose.RECEPTION)}


def test_an_erased_case_takes_no_consent(store: Store) -> None:
    ref = stored_case(store)
    with store.transaction() as session:
        case = get_case(session, ref)
        case.data_key, case.erased_at = None, NOW
    with pytest.raises(CaseErased):
        record(store, ref, Recipient.MISSION, Purpose.RECEPTION, True)


def test_a_consent_entry_flipped_by_sql_is_named_and_never_laundered(store: Store) -> None:
    ref = stored_case(store, consent__share_with_receiving_mission=False)
    flip_by_sql(store.engine, ref, "mission/followup-contact", agreed=True)
    assert forged(store) == [ref]
    # The next change through the store must not seal the forged entry as if it were ours.
    with pytest.raises(ChainBroken, match="changed outside SafePassage"):
        record(store, ref, Recipient.EMBASSY, Purpose.TRAVEL_DOCUMENTS, True)
    assert forged(store) == [ref]


def flip_by_sql(engine: Engine, ref: str, key: str, *, agreed: bool) -> None:
    """Set one consent entry's answer in the database, as an attacker with SQL access would."""
    with engine.begin() as connection:
        stored = connection.execute(
            text("SELECT consent FROM cases WHERE reference = :ref"), {"ref": ref}
        ).scalar_one()
        stored = json.loads(stored) if isinstance(stored, str) else dict(stored)
        stored[key] = {**stored[key], "agreed": agreed}
        connection.execute(
            text("UPDATE cases SET consent = :consent WHERE reference = :ref").bindparams(
                bindparam("consent", type_=JSON)
            ),
            {"consent": stored, "ref": ref},
        )


# -- migration 0010 ------------------------------------------------------------------------------


def alembic(connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_0010_fills_the_record_of_an_old_row_from_its_two_flags(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        command.upgrade(alembic(connection), "0009")
        for number, (mission, embassy) in enumerate([(1, 0), (0, 1)], 1):
            connection.execute(
                text(
                    "INSERT INTO cases (id, reference, programme, destination_country, stage,"
                    " status, decision_outcome, decision, rules_version, share_with_mission,"
                    " share_with_embassy, escort_required, created_at, updated_at,"
                    " master_key_id) VALUES (:id, :ref, 'RO', 'RO', 'reception', 'active',"
                    " 'eligible', '{}', 'r1', :m, :e, 0, '2026-12-01', '2026-12-01', 'k')"
                ),
                {"id": number, "ref": f"RO-AAAA-000{number}", "m": mission, "e": embassy},
            )

    migrate(engine)

    with engine.connect() as connection:
        stored = [
            json.loads(value)
            for value in connection.scalars(text("SELECT consent FROM cases ORDER BY id"))
        ]
    engine.dispose()
    first, second = (ConsentRecord.from_stored(s) for s in stored)
    assert (
        stored[0]
        == ConsentRecord.from_flags(share_with_mission=True, share_with_embassy=False).stored()
    )
    assert {pair for pair in ALL_PAIRS if first.agrees(*pair)} == {
        (Recipient.MISSION, purpose) for purpose in CASE_FILE_PURPOSES[Recipient.MISSION]
    }
    assert {pair for pair in ALL_PAIRS if second.agrees(*pair)} == {
        (Recipient.EMBASSY, Purpose.TRAVEL_DOCUMENTS)
    }
    for entry in first.entries.values():
        assert entry.source is ConsentSource.MIGRATION
        assert entry.recorded_on is None  # in the sealed case file, which a migration cannot open


def seal_as_before_0010(master_key: MasterKey, row: dict[str, Any]) -> str:
    """Return the state MAC as SafePassage wrote it before the consent record (0007 to 0009)."""
    names = [
        "reference", "programme", "destination_country", "share_with_mission",
        "share_with_embassy", "escort_required", "stage",
    ]  # fmt: skip
    body = json.dumps({n: row[n] for n in names}, sort_keys=True, separators=(",", ":"))
    return master_key.chain_mac(b"case-state:" + body.encode())


def test_a_case_sealed_before_0010_still_verifies_after_it_and_a_forgery_is_named(
    store: Store,
) -> None:
    ref = stored_case(store, "RO", consent__share_with_embassy=True)
    other = stored_case(store, "BG", consent__share_with_receiving_mission=False)
    # Make it a store of 0009, sealed as 0009 sealed, with its consent in the two flags only.
    with store.engine.begin() as connection:
        command.downgrade(alembic(connection), "0009")
        columns = "reference, programme, destination_country, share_with_mission, "
        columns += "share_with_embassy, escort_required, stage"
        for row in connection.execute(text(f"SELECT {columns} FROM cases")).mappings():
            values = {**row, "share_with_mission": bool(row["share_with_mission"])}
            values |= {
                "share_with_embassy": bool(row["share_with_embassy"]),
                "escort_required": bool(row["escort_required"]),
            }
            connection.execute(
                text("UPDATE cases SET state_mac = :mac WHERE reference = :ref"),
                {"mac": seal_as_before_0010(store.master_key, values), "ref": row["reference"]},
            )
        command.upgrade(alembic(connection), "head")

    assert forged(store) == []
    assert consents(store, ref) == {
        (Recipient.MISSION, Purpose.RECEPTION),
        (Recipient.MISSION, Purpose.REINTEGRATION),
        (Recipient.MISSION, Purpose.FOLLOWUP_CONTACT),
        (Recipient.EMBASSY, Purpose.TRAVEL_DOCUMENTS),
    }
    with store.transaction() as session:
        assert state_seal.holds(store.master_key, get_case(session, ref))
        # A change through the store seals the record with the case's state from now on.
        set_stage(session, get_case(session, ref), Stage.TICKETING, actor="flow", now=NOW)
    record(store, ref, Recipient.MISSION, Purpose.FOLLOWUP_CONTACT, False)
    assert forged(store) == []
    # The old seal vouches for the migrated record only: any other record is a forgery.
    flip_by_sql(store.engine, other, "mission/reception", agreed=True)
    assert forged(store) == [other]
