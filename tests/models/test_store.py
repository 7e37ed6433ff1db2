"""The case store on SQLite and PostgreSQL: encryption at rest, the event chain, erasure by key."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import make_url

from safepassage.models.crypto import generate_key_text
from safepassage.models.errors import KeyUnavailable
from safepassage.models.rules import decide
from safepassage.models.settings import Settings
from safepassage.models.store.cases import (
    create_case,
    get_case,
    list_cases,
    read_intake_for_stage,
    reveal_intake,
    reveal_records,
)
from safepassage.models.store.db import Store, open_store
from safepassage.models.store.events import append_event, case_events
from safepassage.models.store.orm import Base, Case
from safepassage.models.store.verification import verify_store
from tests.factories import PERSONAL_VALUES, TODAY, intake
from tests.stored import stored_case

NOW = dt.datetime(2026, 11, 29, 9, 30, tzinfo=dt.UTC)


def database_bytes(store: Store, settings: Settings) -> bytes:
    """Return what an attacker holding the database would read: file bytes or a pg_dump."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        # The main file and its write-ahead log together hold every page written.
        path = Path(url.database or "")
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed for this test (Debian package postgresql-client)"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run([pg_dump, "--data-only", dsn], check=True, capture_output=True).stdout


def test_a_stored_case_reads_back_and_its_personal_data_is_nowhere_in_the_database(
    store: Store, store_settings: Settings
) -> None:
    reference = stored_case(store, now=NOW)
    with store.transaction() as session:
        case = get_case(session, reference)
        assert (
            read_intake_for_stage(session, store.master_key, case).beneficiary.given_name
            == "Zenobia"
        )
        assert case.stage == "identification"
        assert case.status == "active"
    dump = database_bytes(store, store_settings)
    assert reference.encode() in dump  # the check itself can see what is stored in clear
    for value in PERSONAL_VALUES.values():
        assert value.encode() not in dump, value


def test_an_ineligible_case_is_stored_as_ended(store: Store) -> None:
    case_file = intake("RO", identification__evidence_provided=False)
    with store.transaction() as session:
        case = create_case(
            session, store.master_key, case_file, decide(case_file, today=TODAY), actor="t", now=NOW
        )
        reference = case.reference
    with store.transaction() as session:
        case = get_case(session, reference)
        assert (case.stage, case.status, case.decision_outcome) == (
            "ineligible",
            "ended",
            "ineligible",
        )
        assert [e.kind for e in case_events(session, reference)] == [
            "case-taken-in",
            "eligibility-decided",
        ]


def test_references_are_random_and_carry_the_programme(store: Store) -> None:
    references = {stored_case(store, "HU", now=NOW) for _ in range(20)}
    assert len(references) == 20
    assert all(r.startswith("HU-") and len(r) == 12 for r in references)
    with store.transaction() as session:
        assert {c.reference for c in list_cases(session)} == references


def test_revealing_personal_data_is_logged_with_who_and_why(store: Store) -> None:
    reference = stored_case(store, now=NOW)
    with store.transaction() as session:
        case = get_case(session, reference)
        reveal_intake(
            session, store.master_key, case, actor="A. Coordinator", purpose="check", now=NOW
        )
    with store.transaction() as session:
        last = case_events(session, reference)[-1]
        assert (last.kind, last.actor, last.detail["purpose"]) == (
            "personal-data-revealed",
            "A. Coordinator",
            "check",
        )


def test_destroying_the_data_key_makes_the_personal_data_unreadable(store: Store) -> None:
    reference = stored_case(store, now=NOW)
    with store.transaction() as session:
        session.execute(update(Case).where(Case.reference == reference).values(data_key=None))
    with store.transaction() as session, pytest.raises(KeyUnavailable, match="erased"):
        read_intake_for_stage(session, store.master_key, get_case(session, reference))


def test_a_ciphertext_moved_to_another_case_does_not_open(store: Store) -> None:
    first, second = stored_case(store, now=NOW), stored_case(store, now=NOW)
    with store.transaction() as session:
        a, b = get_case(session, first), get_case(session, second)
        b.data_key = a.data_key  # even with the other case's key, the binding to the case fails
    with (
        store.transaction() as session,
        pytest.raises(KeyUnavailable, match=rf"data key of case {second} does not open"),
    ):
        read_intake_for_stage(session, store.master_key, get_case(session, second))


def test_a_different_master_key_is_refused_at_open(store: Store, store_settings: Settings) -> None:
    stored_case(store, now=NOW)
    other = store_settings.model_copy(update={"master_key": None})
    other.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    other.key_file.write_text(generate_key_text() + "\n")
    other.key_file.chmod(0o600)
    with pytest.raises(KeyUnavailable, match="SAFEPASSAGE_MASTER_KEY"):
        open_store(other, notice=lambda _: None)


# -- the hash chain --------------------------------------------------------------------------------


def _three_cases(store: Store) -> None:
    for programme in ("BG", "RO", "HU"):
        stored_case(store, programme, now=NOW)


def test_an_untouched_log_verifies(store: Store) -> None:
    _three_cases(store)
    with store.transaction() as session:
        assert verify_store(session, store.master_key, store.anchor).broken is None


def test_an_edited_event_is_named(store: Store) -> None:
    _three_cases(store)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE case_events SET actor = 'someone else' WHERE seq = 3"))
    with store.transaction() as session:
        broken = verify_store(session, store.master_key, store.anchor).broken
    assert broken is not None
    assert broken.seq == 3
    assert "changed" in broken.problem


def test_a_deleted_event_is_named(store: Store) -> None:
    _three_cases(store)
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM case_events WHERE seq = 4"))
    with store.transaction() as session:
        broken = verify_store(session, store.master_key, store.anchor).broken
    assert broken is not None
    assert broken.seq == 4


def test_deleting_the_newest_events_is_noticed(store: Store) -> None:
    _three_cases(store)
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM case_events WHERE seq >= 5"))
    with store.transaction() as session:
        broken = verify_store(session, store.master_key, store.anchor).broken
    assert broken is not None
    assert broken.seq == 5


def test_reordered_events_are_named(store: Store) -> None:
    _three_cases(store)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE case_events SET seq = 100 WHERE seq = 2"))
        connection.execute(text("UPDATE case_events SET seq = 2 WHERE seq = 3"))
        connection.execute(text("UPDATE case_events SET seq = 3 WHERE seq = 100"))
    with store.transaction() as session:
        broken = verify_store(session, store.master_key, store.anchor).broken
    assert broken is not None
    assert broken.seq == 2


def test_concurrent_writers_keep_one_unbroken_chain(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                with store.transaction() as session:
                    append_event(
                        session,
                        reference=None,
                        kind="probe",
                        actor=f"w{n}",
                        at=NOW,
                        detail={"i": i},
                    )
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with store.transaction() as session:
        assert verify_store(session, store.master_key, store.anchor).broken is None


def test_the_migrations_create_exactly_what_the_models_declare(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diffs == []  # every table, column, index and constraint of every migration


def test_the_migration_heads_read_without_alembic_match_alembics_own() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from safepassage.models.store.db import MIGRATIONS, script_heads

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert script_heads() == frozenset(ScriptDirectory.from_config(config).get_heads())


def test_revealing_records_to_a_person_logs_one_event_naming_them(store: Store) -> None:
    reference = stored_case(store, now=NOW)
    with store.transaction() as session:
        case = get_case(session, reference)
        opened = reveal_records(
            session, store.master_key, case, ["intake"], actor="officer Z", purpose="call",
            now=NOW,
        )  # fmt: skip
        assert PERSONAL_VALUES["given_name"].encode() in opened["intake"]
        (event,) = [
            e for e in case_events(session, reference) if e.kind == "personal-data-revealed"
        ]
    assert (event.actor, event.detail) == ("officer Z", {"purpose": "call", "records": ["intake"]})
