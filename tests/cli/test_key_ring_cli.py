"""`safepassage keys`: erasure that reaches a backup once its key version is retired.

The attack a hostile review reproduced: copy the database, erase a case, open the copy with
every key the office still holds. Before the key ring the erased person's name came back.
Embedded default (SQLite, the key ring beside the home), typed as a person would.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from safepassage.models.settings import get_settings
from safepassage.models.store.db import open_store
from tests.cli.helpers import run_cli
from tests.factories import PERSONAL_VALUES
from tests.stored import stored_case

NOW = dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)


def _backup(database: Path, copy: Path) -> None:
    """Take a consistent copy as an office's backup job would (SQLite's online backup)."""
    with sqlite3.connect(database) as source, sqlite3.connect(copy) as target:
        source.backup(target)


def test_an_erased_case_does_not_open_from_an_old_backup_once_its_key_is_retired(
    home: Path, tmp_path: Path
) -> None:
    store = open_store(get_settings(), notice=lambda _: None)
    erased = stored_case(store, ended=NOW)
    live = stored_case(store, "RO")
    store.dispose()
    copy = tmp_path / "backup-before-erasure.db"
    _backup(home / "safepassage.db", copy)
    from_backup = {"SAFEPASSAGE_DATABASE_URL": f"sqlite:///{copy}"}

    assert run_cli("erase", erased, "--yes", "--reason", "person-request").code == 0
    # The attack works while the erased case's key version is still held (inside the window):
    before = run_cli("case", erased, "--reveal", "--json", env=from_backup)
    assert before.code == 0, before.stderr
    assert PERSONAL_VALUES["given_name"] in before.stdout

    rotated = run_cli("keys", "rotate", "--json")
    assert rotated.code == 0, rotated.stderr
    assert rotated.json()["version"] == 2
    retired = run_cli("keys", "retire", "--now", "--json")
    assert retired.code == 0, retired.stderr
    assert retired.json() == {"retired": [1]}

    after = run_cli("case", erased, "--reveal", env=from_backup)
    assert after.code == 2
    assert "master-key version 1" in after.stderr
    assert "Traceback" not in after.stderr
    for value in PERSONAL_VALUES.values():
        assert value not in after.stdout + after.stderr

    shown = run_cli("case", live, "--reveal", "--json")  # the live store still opens
    assert shown.code == 0, shown.stderr
    assert PERSONAL_VALUES["given_name"] in shown.stdout


def test_keys_list_shows_versions_and_never_a_key(home: Path) -> None:
    open_store(get_settings(), notice=lambda _: None).dispose()
    assert run_cli("keys", "rotate").code == 0
    listed = run_cli("keys", "list", "--json")
    assert listed.code == 0, listed.stderr
    versions = listed.json()["versions"]
    assert [(v["version"], v["current"]) for v in versions] == [(1, False), (2, True)]
    assert versions[0]["retire_after"] is not None
    ring = get_settings().effective_key_ring
    for path in ring.glob("v*.key"):
        assert path.read_text().split('"key": "')[1][:20] not in listed.stdout


def test_rotating_a_fixed_environment_key_is_refused_with_exit_2(home: Path) -> None:
    fixed = {"SAFEPASSAGE_MASTER_KEY": "a" * 43 + "="}
    result = run_cli("keys", "rotate", env=fixed)
    assert result.code == 2
    assert "SAFEPASSAGE_KEY_RING" in result.stderr
    assert "a" * 43 not in result.stderr
