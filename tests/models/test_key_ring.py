"""The master-key ring on SQLite and PostgreSQL: rotation, retirement, and the stores it opens."""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, update

from safepassage.models.crypto import wrapped_version
from safepassage.models.errors import ConfigurationError, KeyUnavailable
from safepassage.models.settings import Settings
from safepassage.models.store.cases import get_case, read_intake_for_stage
from safepassage.models.store.db import Store, open_store
from safepassage.models.store.erasure import erase_case
from safepassage.models.store.keys import retire, rotate
from safepassage.models.store.orm import Case, CaseEvent
from safepassage.models.store.verification import verify_store
from safepassage.models.vocabulary import ErasureReason
from tests.conftest import TEST_MASTER_KEY
from tests.stored import stored_case

#: The key file stamps each version with the clock's time when it is made, so the retirement
#: window is counted from now: a fixed date here would pass only until the day after it.
NOW = dt.datetime.now(dt.UTC)


def _opens(store: Store, reference: str) -> bool:
    with store.transaction() as session:
        try:
            read_intake_for_stage(session, store.master_key, get_case(session, reference))
        except KeyUnavailable:
            return False
        return True


def _versions_of(store: Store) -> list[int]:
    with store.transaction() as session:
        return [
            wrapped_version(c.data_key)
            for c in session.query(Case).order_by(Case.id)
            if c.data_key is not None
        ]


def test_a_new_store_keeps_its_keys_beside_its_home_not_in_it(
    ring_store: Store, ring_settings: Settings
) -> None:
    ring = ring_settings.effective_key_ring
    assert ring.parent == ring_settings.home.parent
    assert not ring.is_relative_to(ring_settings.home)
    assert sorted(p.name for p in ring.glob("*.key")) == ["index.key", "v000001.key"]
    assert oct(ring.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in ring.glob("*.key"))
    assert not list(ring_settings.home.glob("*.key"))


def test_rotation_rewraps_every_live_case_and_leaves_erased_ones_erased(ring_store: Store) -> None:
    live = [stored_case(ring_store, p, now=NOW) for p in ("BG", "RO", "HU")]
    gone = stored_case(ring_store, "CZ", now=NOW)
    with ring_store.transaction() as session:
        get_case(session, gone).data_key = None  # as erasure leaves it
    rotation = rotate(ring_store.sessions, ring_store.master_key, actor="dpo", now=NOW)
    assert (rotation.version, rotation.rewrapped, rotation.unreadable) == (2, 3, [])
    assert _versions_of(ring_store) == [2, 2, 2]
    assert all(_opens(ring_store, ref) for ref in live)
    assert not _opens(ring_store, gone)
    with ring_store.transaction() as session:
        assert verify_store(session, ring_store.master_key, ring_store.anchor).intact


def test_retire_waits_for_the_backup_window_unless_told_now(ring_store: Store) -> None:
    ref = stored_case(ring_store, now=NOW)
    rotate(ring_store.sessions, ring_store.master_key, actor="dpo", now=NOW)
    keys = ring_store.master_key
    kept = retire(ring_store.sessions, keys, backup_days=35, actor="dpo", now=NOW)
    assert kept == []  # version 1 was replaced just now: backups of the last 35 days need it
    later = NOW + dt.timedelta(days=36)
    assert retire(ring_store.sessions, keys, backup_days=35, actor="dpo", now=later) == [1]
    assert [v.number for v in keys.versions] == [2]
    assert _opens(ring_store, ref)
    with ring_store.transaction() as session:
        kinds = set(session.scalars(select(CaseEvent.kind)))
    assert "master-key-retired" in kinds
    assert "master-key-rotated" in kinds


def test_a_case_wrapped_by_a_process_that_missed_the_rotation_survives_retirement(
    ring_store: Store, ring_settings: Settings
) -> None:
    stale = open_store(ring_settings, notice=lambda _: None)  # another process, opened earlier
    ring_store.master_key.source.add_version()  # a rotation elsewhere, before `stale` looks
    try:
        stale.master_key._mark = stale.master_key.source.change_mark()
        stale.master_key._versions.pop(2, None)
        ref = stored_case(stale, now=NOW)  # wrapped under version 1
    finally:
        stale.dispose()
    assert _versions_of(ring_store) == [1]
    retired = retire(
        ring_store.sessions, ring_store.master_key, backup_days=35, actor="t", now=NOW,
        at_once=True,
    )  # fmt: skip
    assert retired == [1]
    assert _opens(ring_store, ref)  # re-wrapped before version 1 was destroyed


def test_a_running_process_sees_a_rotation_without_a_restart(
    ring_store: Store, ring_settings: Settings
) -> None:
    other = open_store(ring_settings, notice=lambda _: None)  # serve, maintain or a worker
    try:
        rotate(ring_store.sessions, ring_store.master_key, actor="t", now=NOW)
        retire(ring_store.sessions, ring_store.master_key, backup_days=35, actor="t", now=NOW,
               at_once=True)  # fmt: skip
        ref = stored_case(other, now=NOW)  # wrapped under the new version, not a destroyed one
        assert _versions_of(other) == [2]
        assert _opens(other, ref)
    finally:
        other.dispose()


def test_the_fixed_environment_key_refuses_to_rotate(
    ring_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEPASSAGE_MASTER_KEY", TEST_MASTER_KEY)
    store = open_store(Settings(), notice=lambda _: None)
    try:
        with pytest.raises(ConfigurationError, match="SAFEPASSAGE_KEY_RING"):
            rotate(store.sessions, store.master_key, actor="t", now=NOW)
    finally:
        store.dispose()


def test_a_store_from_before_the_ring_moves_its_key_file_in_as_version_1(
    ring_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEPASSAGE_MASTER_KEY", TEST_MASTER_KEY)
    old = open_store(Settings(), notice=lambda _: None)
    ref = stored_case(old, now=NOW)
    old.dispose()
    monkeypatch.delenv("SAFEPASSAGE_MASTER_KEY")
    legacy = ring_settings.key_file  # where the embedded default kept its one key
    legacy.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    legacy.write_text(TEST_MASTER_KEY + "\n")
    legacy.chmod(0o600)
    told: list[str] = []
    store = open_store(ring_settings, notice=told.append)
    try:
        assert not legacy.exists()  # the key no longer sits beside the data
        assert [v.number for v in store.master_key.versions] == [1]
        assert "version 1" in told[0]
        assert _opens(store, ref)
        rotate(store.sessions, store.master_key, actor="t", now=NOW)
        assert _opens(store, ref)
    finally:
        store.dispose()


def test_a_missing_ring_is_never_replaced_by_a_new_key_for_a_store_with_data(
    ring_store: Store, ring_settings: Settings, tmp_path: Path
) -> None:
    stored_case(ring_store, now=NOW)
    ring = ring_settings.effective_key_ring
    ring.rename(tmp_path / "elsewhere")  # lost, or not mounted
    with pytest.raises(ConfigurationError, match="restore the key ring") as refused:
        open_store(ring_settings, notice=lambda _: None)
    assert TEST_MASTER_KEY not in str(refused.value)
    assert not list(ring.glob("*.key"))  # no new key was made (only the lock it took)
    shutil.rmtree(ring)
    (tmp_path / "elsewhere").rename(ring)
    open_store(ring_settings, notice=lambda _: None).dispose()


def test_a_wrong_key_file_is_refused_and_left_as_it_was(
    ring_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEPASSAGE_MASTER_KEY", TEST_MASTER_KEY)
    old = open_store(Settings(), notice=lambda _: None)
    stored_case(old, now=NOW)
    old.dispose()
    monkeypatch.delenv("SAFEPASSAGE_MASTER_KEY")
    wrong = base64.urlsafe_b64encode(os.urandom(32)).decode()
    ring_settings.key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    ring_settings.key_file.write_text(wrong + "\n")
    ring_settings.key_file.chmod(0o600)
    with pytest.raises(KeyUnavailable, match="not the key this case store was made with"):
        open_store(ring_settings, notice=lambda _: None)
    assert ring_settings.key_file.read_text().strip() == wrong
    assert not ring_settings.effective_key_ring.joinpath("v000001.key").exists()


def test_a_damaged_key_does_not_stop_retirement(ring_store: Store) -> None:
    damaged = stored_case(ring_store, now=NOW)
    fine = stored_case(ring_store, "RO", now=NOW)
    with ring_store.transaction() as session:
        case = get_case(session, damaged)
        case.data_key = b"\x02\x00\x00\x00\x01" + b"junk" * 10  # edited in the database
    rotate(ring_store.sessions, ring_store.master_key, actor="t", now=NOW)
    retired = retire(
        ring_store.sessions, ring_store.master_key, backup_days=35, actor="t", now=NOW,
        at_once=True,
    )  # fmt: skip
    assert retired == [1]  # every backup's copy of version 1 is unreadable now
    assert _opens(ring_store, fine)
    with ring_store.transaction() as session:
        event = session.scalar(select(CaseEvent).where(CaseEvent.kind == "master-key-retired"))
        assert event is not None
        assert event.detail["unreadable"] == [damaged]


def test_a_wrapped_key_copied_back_into_an_erased_case_is_not_carried_forward(
    ring_store: Store,
) -> None:
    ref = stored_case(ring_store, ended=NOW, now=NOW)
    with ring_store.transaction() as session:
        old_key = get_case(session, ref).data_key
        erase_case(
            session, ring_store.master_key, get_case(session, ref), actor="dpo", now=NOW,
            reason=ErasureReason.PERSON_REQUEST,
        )  # fmt: skip
    with ring_store.transaction() as session:  # the attacker restores it from a backup
        session.execute(update(Case).where(Case.reference == ref).values(data_key=old_key))
    rotate(ring_store.sessions, ring_store.master_key, actor="t", now=NOW)
    retire(ring_store.sessions, ring_store.master_key, backup_days=35, actor="t", now=NOW,
           at_once=True)  # fmt: skip
    assert not _opens(ring_store, ref)


def test_a_crash_while_destroying_a_version_leaves_no_damaged_key(
    ring_store: Store, ring_settings: Settings
) -> None:
    ring = ring_settings.effective_key_ring
    rotate(ring_store.sessions, ring_store.master_key, actor="t", now=NOW)
    (ring / "v000001.key").rename(ring / ".destroying-v000001.key")  # renamed, then the crash
    reopened = open_store(ring_settings, notice=lambda _: None)  # opens: nothing damaged
    try:
        assert [v.number for v in reopened.master_key.versions] == [2]
        reopened.master_key.source.destroy(1)  # the next retirement finishes the job
        assert not list(ring.glob(".destroying-*"))
    finally:
        reopened.dispose()
