"""Shared fixtures: an isolated SafePassage home, and case stores on SQLite and PostgreSQL.

PostgreSQL runs at 127.0.0.1:5432 with trust auth on the development and CI machines; the suite
creates its own database there and drops it at the end. Set SAFEPASSAGE_TEST_POSTGRES_ADMIN_URL to
use another server, or SAFEPASSAGE_TEST_POSTGRES=off on a machine without one (the store tests
then run on SQLite only, and say so).
"""

from __future__ import annotations

import base64
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from safepassage.models.settings import Settings, get_settings
from safepassage.models.store.db import Store, make_engine, migrate, open_store, process_store
from safepassage.models.store.orm import Base
from safepassage.notifications import clear_targets_cache

ADMIN_URL = os.environ.get(
    "SAFEPASSAGE_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_OFF = os.environ.get("SAFEPASSAGE_TEST_POSTGRES", "").lower() == "off"
TEST_MASTER_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


@contextlib.contextmanager
def pointed_at(
    env: dict[str, str], api_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Point this test process at a running system: its SAFEPASSAGE_* settings and Prefect API.

    Prefect reads its settings once, so the API address also goes through temporary_settings.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    for name in list(os.environ):
        if name.startswith("SAFEPASSAGE_") and not name.startswith("SAFEPASSAGE_TEST_"):
            monkeypatch.delenv(name)
    for name, value in {**env, "PREFECT_API_URL": api_url}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    clear_targets_cache()
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        yield
    get_settings.cache_clear()
    clear_targets_cache()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point SAFEPASSAGE_HOME at a fresh folder and clear every SAFEPASSAGE_ setting."""
    for name in list(os.environ):
        if name.startswith("SAFEPASSAGE_") and not name.startswith("SAFEPASSAGE_TEST_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "home"
    monkeypatch.setenv("SAFEPASSAGE_HOME", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Create a throw-away PostgreSQL database for this test session and return its URL."""
    if POSTGRES_OFF:
        pytest.skip("SAFEPASSAGE_TEST_POSTGRES=off: PostgreSQL tests not run on this machine")
    name = f"safepassage_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_postgres_store(url: str) -> None:
    """Empty the shared PostgreSQL test store, whatever keys its last user had.

    Through a bare engine, not `open_store`: the store refuses a key that is not its own, and
    the previous test may have used another (a key ring rather than the test key).
    """
    engine = make_engine(url)
    try:
        migrate(engine)
        with engine.begin() as connection:
            tables = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_settings(
    request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings for a case store on each database (a fresh, empty store per test)."""
    monkeypatch.setenv("SAFEPASSAGE_MASTER_KEY", TEST_MASTER_KEY)
    return _fresh_store_settings(request, monkeypatch)


def _fresh_store_settings(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Point the settings at an empty store on the database `request.param` names."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("SAFEPASSAGE_DATABASE_URL", url)
        empty_postgres_store(url)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Store]:
    """An open, empty case store on each database."""
    opened = open_store(store_settings)
    yield opened
    opened.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ring_settings(
    request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings for a fresh, empty case store on each database, keyed by a fresh key ring
    (the embedded default: `<home>-keys`), not by SAFEPASSAGE_MASTER_KEY."""
    return _fresh_store_settings(request, monkeypatch)


@pytest.fixture
def ring_store(ring_settings: Settings) -> Iterator[Store]:
    """An open, empty case store on each database, its keys in a key ring."""
    opened = open_store(ring_settings, notice=lambda _: None)
    yield opened
    opened.dispose()


@pytest.fixture
def sqlite_store(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """An open, empty case store on the embedded default (SQLite) only."""
    monkeypatch.setenv("SAFEPASSAGE_MASTER_KEY", TEST_MASTER_KEY)
    get_settings.cache_clear()
    opened = open_store(get_settings())
    yield opened
    opened.dispose()


@pytest.fixture
def stage_store(store: Store) -> Iterator[Store]:
    """The test's store, also as the process-wide store that stage tasks use.

    Stage tasks run as plain functions (`task.fn`) against it, on SQLite and PostgreSQL, with
    real local logs: no Prefect server is needed, a stage's work is its store transaction and
    its notifications.
    """
    process_store.cache_clear()
    clear_targets_cache()
    yield store
    process_store.cache_clear()
    clear_targets_cache()
