"""Attacks on the audit trail by someone who can write to the database but holds no key.

Each test performs the attack a hostile review reproduced against the old, unkeyed chain (which
`audit verify` then called intact) and shows that verification now catches it. Both databases.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import shutil
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import make_url

from safepassage.models.errors import ChainBroken
from safepassage.models.settings import Settings
from safepassage.models.store.cases import get_case, reveal_intake
from safepassage.models.store.db import Store, open_store
from safepassage.models.store.erasure import erase_case
from safepassage.models.store.events import GENESIS_HASH, KEYED_FROM, _canonical
from safepassage.models.store.orm import CaseEvent, ChainHead, StoreMeta
from safepassage.models.store.verification import StoreCheck, verify_store
from safepassage.models.store.workflow import set_stage
from safepassage.models.vocabulary import ErasureReason, Stage
from tests.stored import stored_case

NOW = dt.datetime(2026, 12, 4, 9, tzinfo=dt.UTC)


def check(store: Store) -> StoreCheck:
    with store.transaction() as session:
        return verify_store(session, store.master_key, store.anchor)


def _revealed_case(store: Store) -> str:
    ref = stored_case(store, now=NOW)
    stored_case(store, "RO", now=NOW)
    with store.transaction() as session:
        reveal_intake(
            session, store.master_key, get_case(session, ref), actor="officer X",
            purpose="curiosity", now=NOW,
        )  # fmt: skip
    stored_case(store, "HU", now=NOW)
    return ref


def _rewrite_chain(store: Store, digest: object) -> None:
    """Recompute every entry's hash and the head, as the attacker would, with `digest`."""
    with store.transaction() as session:
        previous = GENESIS_HASH
        for entry in session.scalars(select(CaseEvent).order_by(CaseEvent.seq)):
            entry.prev_hash = previous
            entry.hash = digest(_canonical(entry))  # type: ignore[operator]
            previous = entry.hash
        head = session.get(ChainHead, 1)
        assert head is not None
        last = session.scalar(select(CaseEvent.seq).order_by(CaseEvent.seq.desc()).limit(1))
        head.seq, head.hash = last or 0, previous


def _delete_the_reveal_and_renumber(store: Store) -> None:
    with store.transaction() as session:
        reveal = session.scalar(select(CaseEvent).where(CaseEvent.kind == "personal-data-revealed"))
        assert reveal is not None
        gone = reveal.seq
        session.delete(reveal)
        session.flush()
        later = list(session.scalars(select(CaseEvent).where(CaseEvent.seq > gone)))
        for entry in sorted(later, key=lambda e: e.seq):
            session.execute(
                update(CaseEvent).where(CaseEvent.seq == entry.seq).values(seq=entry.seq - 1)
            )


@pytest.mark.parametrize(
    "digest",
    [
        lambda data: hashlib.sha256(data).hexdigest(),  # the old chain's own recipe
        lambda data: hmac.new(b"guessed", data, hashlib.sha256).hexdigest(),
    ],
    ids=["sha256", "hmac-with-a-guessed-key"],
)
def test_deleting_a_reveal_and_recomputing_the_chain_is_caught(
    store: Store, digest: object
) -> None:
    _revealed_case(store)
    assert check(store).intact
    _delete_the_reveal_and_renumber(store)
    _rewrite_chain(store, digest)
    found = check(store)
    assert not found.intact
    assert found.broken is not None
    assert "without the chain key" in found.broken.problem


def test_cutting_events_off_the_end_and_moving_the_head_back_is_caught(store: Store) -> None:
    _revealed_case(store)
    with store.transaction() as session:
        head = session.get(ChainHead, 1)
        assert head is not None
        keep = head.seq - 3
        kept_hash = session.scalar(select(CaseEvent.hash).where(CaseEvent.seq == keep))
        session.execute(delete(CaseEvent).where(CaseEvent.seq > keep))
        head.seq, head.hash = keep, kept_hash or GENESIS_HASH
    found = check(store)
    assert found.broken is not None
    assert "anchor recorded the log up to event" in found.broken.problem


def test_an_edited_event_is_caught(store: Store) -> None:
    _revealed_case(store)
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE case_events SET actor = 'x' WHERE kind = 'personal-data-revealed'")
        )
    found = check(store)
    assert found.broken is not None
    assert "changed after it was written" in found.broken.problem


def test_moving_the_keyed_epoch_forward_to_pass_off_plain_hashes_is_caught(store: Store) -> None:
    _revealed_case(store)
    _delete_the_reveal_and_renumber(store)
    _rewrite_chain(store, lambda data: hashlib.sha256(data).hexdigest())
    with store.transaction() as session:
        meta = session.get(StoreMeta, KEYED_FROM)
        assert meta is not None
        meta.value = "1000000"  # "every entry is from before the keyed chain"
    found = check(store)
    assert not found.intact
    assert any("keyed at event" in p for p in found.anchor_problems)


def test_an_older_copy_of_the_database_put_back_is_caught(
    sqlite_store: Store, home: Path, tmp_path: Path
) -> None:
    stored_case(sqlite_store, now=NOW)
    database = home / "safepassage.db"
    sqlite_store.dispose()
    copy = tmp_path / "older.db"
    shutil.copy(database, copy)  # the store is closed: the file is whole
    reopened = open_store(Settings(), notice=lambda _: None)
    ref = stored_case(reopened, "RO", now=NOW)
    with reopened.transaction() as session:
        reveal_intake(
            session, reopened.master_key, get_case(session, ref), actor="officer Y",
            purpose="x", now=NOW,
        )  # fmt: skip
    reopened.dispose()
    for stale in home.glob("safepassage.db*"):
        stale.unlink()
    shutil.copy(copy, database)  # the reveal, and the case, are gone from the database
    restored = open_store(Settings(), notice=lambda _: None)
    try:
        found = check(restored)
        assert found.broken is not None
        assert "rolled back to an older copy" in found.broken.problem
    finally:
        restored.dispose()


def test_a_consent_flag_set_by_sql_is_named_and_never_laundered(store: Store) -> None:
    ref = stored_case(store, consent__share_with_receiving_mission=False, now=NOW)
    other = stored_case(store, "RO", now=NOW)
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE cases SET share_with_mission = :yes WHERE reference = :ref"),
            {"yes": True, "ref": ref},
        )
    found = check(store)
    assert found.forged_cases == [ref]
    assert not found.intact
    with pytest.raises(ChainBroken, match=ref), store.transaction() as session:
        # The next stage must not seal the forged flag as if SafePassage had written it.
        set_stage(session, get_case(session, ref), Stage.TICKETING, actor="flow", now=NOW)
    with store.transaction() as session:  # other cases go on
        set_stage(session, get_case(session, other), Stage.TICKETING, actor="flow", now=NOW)
    assert check(store).forged_cases == [ref]


def test_a_changed_destination_is_named(store: Store) -> None:
    ref = stored_case(store, now=NOW)
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE cases SET destination_country = 'RO' WHERE reference = :ref"),
            {"ref": ref},
        )
    assert check(store).forged_cases == [ref]


def test_a_missing_anchor_fails_verification_and_says_what_to_restore(
    store: Store, store_settings: Settings
) -> None:
    stored_case(store, now=NOW)
    shutil.rmtree(store_settings.effective_audit_anchor)
    found = check(store)
    assert not found.intact
    assert any("Restore the anchor folder" in p for p in found.anchor_problems)


def test_a_store_from_before_the_keyed_chain_moves_to_it_and_its_old_entries_still_verify(
    store: Store, store_settings: Settings
) -> None:
    ref = stored_case(store, now=NOW)
    # Make it a store from before the keyed chain: plain hashes, no epoch, no seals, no anchor.
    _rewrite_chain(store, lambda data: hashlib.sha256(data).hexdigest())
    with store.transaction() as session:
        session.execute(delete(StoreMeta).where(StoreMeta.key == KEYED_FROM))
        session.execute(text("UPDATE cases SET state_mac = NULL"))
    store.dispose()
    shutil.rmtree(store_settings.effective_audit_anchor)
    moved = open_store(store_settings, notice=lambda _: None)
    try:
        found = check(moved)
        assert found.intact, found
        with moved.transaction() as session:
            epoch = session.scalar(select(CaseEvent).where(CaseEvent.kind == "audit-chain-keyed"))
            assert epoch is not None
            assert epoch.detail == {"plain_entries": 2}
            set_stage(session, get_case(session, ref), Stage.TICKETING, actor="flow", now=NOW)
        assert check(moved).intact
        with moved.engine.begin() as connection:  # an old, plain entry is still covered
            connection.execute(text("UPDATE case_events SET actor = 'x' WHERE seq = 1"))
        assert check(moved).broken is not None
    finally:
        moved.dispose()


def test_the_database_url_is_not_what_names_the_anchor(store_settings: Settings) -> None:
    # The anchor lives beside the keys, never beside (or in) the data.
    anchor = store_settings.effective_audit_anchor
    assert not anchor.is_relative_to(store_settings.home)
    url = make_url(store_settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        assert not anchor.is_relative_to(Path(url.database or "").parent)


def test_anchors_of_several_machines_are_all_checked(
    store: Store, store_settings: Settings
) -> None:
    stored_case(store, now=NOW)
    anchor = store_settings.effective_audit_anchor
    (own,) = anchor.glob("*.log")
    seq = own.read_text().splitlines()[-1].split(" ")[0]
    (anchor / "other-machine.log").write_text(f"{seq} {'f' * 64}\n")  # another writer disagrees
    found = check(store)
    assert not found.intact
    assert any("disagree" in p for p in found.anchor_problems)


def test_deleting_the_epoch_row_to_have_forgeries_resealed_is_refused(
    store: Store, store_settings: Settings
) -> None:
    ref = stored_case(store, consent__share_with_receiving_mission=False, now=NOW)
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE cases SET share_with_mission = :yes WHERE reference = :ref"),
            {"yes": True, "ref": ref},
        )
        connection.execute(text("DELETE FROM store_meta WHERE key = 'chain_keyed_from'"))
    with pytest.raises(ChainBroken, match="tampered"):
        open_store(store_settings, notice=lambda _: None)
    assert check(store).forged_cases == [ref]  # still named: nothing was sealed afresh


def test_a_forged_case_can_still_be_erased(store: Store) -> None:
    ref = stored_case(store, consent__share_with_receiving_mission=False, ended=NOW, now=NOW)
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE cases SET share_with_mission = :yes WHERE reference = :ref"),
            {"yes": True, "ref": ref},
        )
    with store.transaction() as session:
        erase_case(
            session, store.master_key, get_case(session, ref), actor="dpo", now=NOW,
            reason=ErasureReason.PERSON_REQUEST,
        )  # fmt: skip
    with store.transaction() as session:
        assert get_case(session, ref).data_key is None
