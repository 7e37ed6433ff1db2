"""What an erasure leaves on disk, and what it keeps: issue 14, items 7 and 8.

SQLite's write-ahead log kept the wrapped key and the ciphertexts after an erasure until enough
later writes checkpointed it; PostgreSQL kept the erased rows as dead tuples until a vacuum.
The erasure's note is kept apart from the permanent event log, sealed, and deleted in time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from safepassage.models.settings import Settings
from safepassage.models.store.cases import cipher_for, get_case, seal
from safepassage.models.store.db import Store
from safepassage.models.store.erasure import NOTE_KEPT, NOTE_PURPOSE, delete_expired_notes
from safepassage.models.store.events import case_events
from safepassage.models.store.orm import ErasureNote, SealedRecord
from safepassage.services.erasure import erase
from tests.stored import stored_case

NOW = dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)
NOTE = "DPO request 2026-0117, answered by letter"


def closed_case_with_two_sealed_records(store: Store) -> tuple[str, list[bytes]]:
    """Store a closed case with its intake and a sealed reason; return it and its secrets."""
    reference = stored_case(store, ended=NOW)
    with store.transaction() as session:
        case = get_case(session, reference)
        cipher = cipher_for(store.master_key, case)
        seal(session, case, cipher, "withdrawal-requested:1", b"a reason", now=NOW)
    with store.transaction() as session:
        case = get_case(session, reference)
        query = select(SealedRecord.ciphertext).where(SealedRecord.case_id == case.id)
        ciphertexts = list(session.scalars(query))
        assert case.data_key is not None
        assert len(ciphertexts) == 2
        return reference, [case.data_key, *ciphertexts]


def sqlite_files(settings: Settings) -> dict[str, bytes]:
    """Return the raw bytes of the database file and its -wal (and -shm) files, by name."""
    path = Path(make_url(settings.effective_database_url).database or "")
    return {p.name: p.read_bytes() for p in path.parent.glob(path.name + "*")}


def test_after_erasure_the_key_and_ciphertexts_are_in_neither_the_database_file_nor_its_wal(
    sqlite_store: Store, home: Path
) -> None:
    from safepassage.models.settings import get_settings

    settings = get_settings()
    reference, secrets = closed_case_with_two_sealed_records(sqlite_store)
    before = b"".join(sqlite_files(settings).values())
    assert all(secret in before for secret in secrets)  # the attack has something to find
    # The test's own store stays open, as a server's would: SQLite checkpoints on its own when
    # the last connection closes, which would hide the leftover.
    erase(reference, actor="dpo", force=False, reason="person-request")
    for name, data in sqlite_files(settings).items():
        for number, secret in enumerate(secrets):
            assert secret not in data, f"secret {number} is still in {name}"


def last_vacuums(store: Store) -> dict[str, dt.datetime | None]:
    """Return when each table was last vacuumed by a VACUUM command (not autovacuum)."""
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT relname, last_vacuum FROM pg_stat_user_tables"))
        return {str(name): value for name, value in rows}


@pytest.mark.parametrize("store_settings", ["postgresql"], indirect=True)  # SQLite: above
def test_after_erasure_postgresql_vacuums_the_tables_it_touched(store: Store) -> None:
    reference, _ = closed_case_with_two_sealed_records(store)
    before = last_vacuums(store)
    erase(reference, actor="dpo", force=False, reason="person-request")
    after = last_vacuums(store)
    for table in ("sealed_records", "cases", "outbox_items", "erasure_notes"):
        assert after[table] is not None, table
        assert after[table] != before.get(table), table


def test_the_note_is_sealed_outside_the_log_and_deleted_after_its_time(store: Store) -> None:
    reference, _ = closed_case_with_two_sealed_records(store)
    result = erase(reference, actor="dpo", force=False, reason="person-request", note=NOTE)
    assert (result["reason"], result["note_kept"]) == ("person-request", True)
    with store.transaction() as session:
        case = get_case(session, reference)
        assert all(NOTE not in str(event.detail) for event in case_events(session, reference))
        note = session.scalar(select(ErasureNote).where(ErasureNote.case_id == case.id))
        assert note is not None
        assert NOTE.encode() not in note.ciphertext
        cipher = store.master_key.case_cipher(f"{reference}/{NOTE_PURPOSE}", note.data_key)
        assert cipher.open(NOTE_PURPOSE, note.ciphertext).decode() == NOTE
        kept_until = note.delete_after
        assert kept_until - note.written_at == NOTE_KEPT
    with store.transaction() as session:
        assert delete_expired_notes(session, now=kept_until - dt.timedelta(minutes=1)) == 0
    with store.transaction() as session:
        assert delete_expired_notes(session, now=kept_until + dt.timedelta(minutes=1)) == 1
        assert session.scalar(select(ErasureNote)) is None
