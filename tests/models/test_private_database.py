"""Opening the SQLite store again in a process that has it open loses no other process's write.

`serve` keeps the store open for its gateway and opens it again for each answer a mission
sends; each open makes sure the files are private. Opening and closing the database's files
there once dropped SQLite's locks in that process: another process then took itself for the
last user and deleted the WAL, and what later processes wrote was lost.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from safepassage.models.private_files import PRIVATE_FILE_MODE, create_private_database


def _connect(database: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


def _insert_elsewhere(database: Path, *values: str) -> None:
    """Insert `values` from another process, which then closes its connection."""
    inserts = "; ".join(f"c.execute(\"insert into t values ('{v}')\")" for v in values)
    code = (
        f"import sqlite3; c = sqlite3.connect({str(database)!r}, isolation_level=None); "
        f"c.execute('PRAGMA journal_mode=WAL'); {inserts}; c.close()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_making_the_store_private_again_keeps_this_processs_locks(tmp_path: Path) -> None:
    database = tmp_path / "safepassage.db"
    create_private_database(f"sqlite:///{database}")
    held = _connect(database)  # the gateway's store, open for serve's lifetime
    held.execute("create table t(v text)")
    held.execute("insert into t values ('held')")

    create_private_database(f"sqlite:///{database}")  # opened again, for one answer
    _insert_elsewhere(database, "first")  # a flow-run process that ends
    assert Path(f"{database}-wal").exists()  # it knew it was not the last user
    _insert_elsewhere(database, "second")
    held.execute("insert into t values ('held again')")
    held.close()

    fresh = _connect(database)
    rows = sorted(row[0] for row in fresh.execute("select v from t"))
    fresh.close()
    assert rows == ["first", "held", "held again", "second"]


def test_an_existing_store_and_its_companions_are_tightened_to_the_owner(tmp_path: Path) -> None:
    database = tmp_path / "safepassage.db"
    for path in (database, tmp_path / "safepassage.db-wal", tmp_path / "safepassage.db-shm"):
        path.touch(mode=0o644)
        path.chmod(0o644)
    create_private_database(f"sqlite:///{database}")
    for path in tmp_path.iterdir():
        assert path.stat().st_mode & 0o777 == PRIVATE_FILE_MODE, path.name
