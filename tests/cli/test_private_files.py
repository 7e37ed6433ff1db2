"""Every file SafePassage writes is its owner's alone (0600), and a shared home is refused.

The tests run with the usual umask 022 (set here, whatever the machine's), under which a file
created without care is 0644: world-readable.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from safepassage.models.settings import get_settings
from safepassage.models.store.db import Store, open_store
from safepassage.notifications.jsonl_target import append_line
from safepassage.orchestration.connection import ServerAddress, record_server, server_file
from tests.cli.helpers import run_cli
from tests.conftest import TEST_MASTER_KEY
from tests.stored import stored_case


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """Create files as most shells would: 0644 unless the code asks otherwise."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_the_command_line_creates_its_home_store_and_key_owner_only(home: Path) -> None:
    result = run_cli("cases", "--json")
    assert result.code == 0, result.stderr
    assert mode(home) == 0o700
    written = [p for p in home.rglob("*") if p.is_file()]
    assert "safepassage.db" in {p.name for p in written}
    assert {p.name: mode(p) for p in written} == dict.fromkeys((p.name for p in written), 0o600)


def test_the_store_and_its_wal_are_owner_only_even_with_a_lax_umask(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEPASSAGE_MASTER_KEY", TEST_MASTER_KEY)
    get_settings.cache_clear()
    store = open_store(get_settings())
    try:
        stored_case(store)
        with store.transaction() as session:  # hold a connection: the -wal and -shm stay
            session.connection()
            files = [home / f"safepassage.db{suffix}" for suffix in ("", "-wal", "-shm")]
            assert {p.name: mode(p) for p in files} == dict.fromkeys((p.name for p in files), 0o600)
    finally:
        store.dispose()


def test_a_store_left_0644_by_an_older_version_is_tightened(
    home: Path, sqlite_store: Store
) -> None:
    sqlite_store.dispose()
    database = home / "safepassage.db"
    database.chmod(0o644)
    reopened = open_store(get_settings())
    reopened.dispose()
    assert mode(database) == 0o600


@pytest.mark.parametrize("shared", [0o755, 0o750, 0o711, 0o707])
def test_a_home_others_may_enter_is_refused_naming_the_fix(home: Path, shared: int) -> None:
    home.mkdir()
    home.chmod(shared)
    result = run_cli("cases", "--json")
    assert result.code == 2, result.stderr
    assert f"SAFEPASSAGE_HOME {home} may be read or entered by other users" in result.stderr
    assert f"run `chmod 700 {home}`" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (home / "safepassage.db").exists()
    home.chmod(0o700)
    assert run_cli("cases", "--json").code == 0


def test_report_csv_and_chart_are_owner_only_even_over_an_existing_0644_file(
    sqlite_store: Store, tmp_path: Path
) -> None:
    stored_case(sqlite_store)
    csv_path, chart_path = tmp_path / "old.csv", tmp_path / "new" / "chart.png"
    csv_path.write_text("an older report\n")
    csv_path.chmod(0o644)
    result = run_cli("report", "--csv", str(csv_path), "--chart", str(chart_path))
    assert result.code == 0, result.stderr
    assert (mode(csv_path), mode(chart_path)) == (0o600, 0o600)
    assert "an older report" not in csv_path.read_text()


def test_a_notification_log_is_owner_only_even_if_it_was_0644(tmp_path: Path) -> None:
    log = tmp_path / "notifications" / "mission.jsonl"
    append_line(log, {"n": 1})
    assert (mode(log.parent), mode(log)) == (0o700, 0o600)
    log.chmod(0o644)
    append_line(log, {"n": 2})
    assert mode(log) == 0o600
    assert len(log.read_text().splitlines()) == 2


def test_the_recorded_server_address_is_owner_only(home: Path) -> None:
    address = ServerAddress(api_url="http://127.0.0.1:4200/api", ui_url="http://127.0.0.1:4200")
    record_server(get_settings(), address, pid=1)
    assert mode(server_file(get_settings())) == 0o600
