"""Open the case store: engine, migrations, the master key, and transactions.

The session's lifecycle lives here, outside the data functions that use a session.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from safepassage.models.crypto import MasterKey, load_master_key
from safepassage.models.errors import ConfigurationError, KeyUnavailable
from safepassage.models.settings import Settings, get_settings
from safepassage.models.store.orm import ChainHead, StoreMeta

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
GENESIS_HASH = "0" * 64


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while a writer commits; secure_delete overwrites freed pages so an
    # erased data key does not linger in the file; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # A deferred SQLite transaction that reads, then writes, fails with "database is locked" when
    # another writer went first; taking the write lock at BEGIN makes writers queue instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """Create the engine for `url`, with SQLite tuned for several processes writing."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            "SAFEPASSAGE_DATABASE_URL is not a database URL: use "
            "postgresql+psycopg://USER@HOST:5432/DB or sqlite:///PATH"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"isolation_level": None, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


_REVISION = re.compile(r"^revision: str = ['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision: str \| None = ['\"]([^'\"]+)['\"]", re.MULTILINE)


@functools.cache
def script_heads() -> frozenset[str]:
    """Return the newest revisions among the migration files, read without importing alembic.

    Every flow-run process opens the store; importing alembic there only to learn that the
    schema is current would cost each resume a noticeable share of its start-up.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text()
        if match := _REVISION.search(text):
            revisions.add(match[1])
        if match := _DOWN.search(text):
            parents.add(match[1])
    return frozenset(revisions - parents)


def _current_heads(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return set()
        return set(connection.scalars(text("SELECT version_num FROM alembic_version")))


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is there already)."""
    if _current_heads(engine) == script_heads():
        return
    # Alembic is imported only when a migration is due: every flow-run process opens the store,
    # and on an up-to-date schema (every time but the first) it would import it for nothing.
    from alembic import command  # noqa: PLC0415 - see above
    from alembic.config import Config  # noqa: PLC0415 - see above
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - see above
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - see above

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with engine.connect() as connection:
        if set(MigrationContext.configure(connection).get_current_heads()) == heads:
            return
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@dataclass
class Store:
    """An open case store: where the data is, and the key that opens it."""

    engine: Engine
    sessions: sessionmaker[Session]
    master_key: MasterKey

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a session whose work commits together at the end, or not at all."""
        with self.sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        """Close the store's connections."""
        self.engine.dispose()


def open_store(
    settings: Settings | None = None,
    *,
    notice: Callable[[str], None] | None = None,
) -> Store:
    """Open (creating on first use) the case store that `settings` describe."""
    settings = settings or get_settings()
    url = settings.effective_database_url
    if url.startswith("sqlite") and not settings.database_url:
        settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    master_key = (
        load_master_key(settings) if notice is None else load_master_key(settings, notice=notice)
    )
    engine = make_engine(url)
    try:
        migrate(engine)
    except OperationalError as exc:
        engine.dispose()
        raise ConfigurationError(
            f"cannot open the case store at {make_url(url).render_as_string(hide_password=True)}: "
            f"{type(exc.orig).__name__}; check SAFEPASSAGE_DATABASE_URL and that the database runs"
        ) from None
    store = Store(engine, sessionmaker(engine, expire_on_commit=False), master_key)
    _bind_master_key(store)
    return store


@contextlib.contextmanager
def opened_store(settings: Settings | None = None) -> Iterator[Store]:
    """Open the configured case store for one use; close its connections afterwards."""
    store = open_store(settings or get_settings())
    try:
        yield store
    finally:
        store.dispose()


@functools.cache
def process_store() -> Store:
    """Return this process's case store, opened once (a flow-run process lives for one run)."""
    return open_store()


def _bind_master_key(store: Store) -> None:
    """Record the master key's id on first use and refuse a different key later.

    A store opened with the wrong key would accept new cases under a key that cannot read the
    old ones; better to stop at once and say which setting is wrong.
    """
    with store.transaction() as session:
        row = session.get(StoreMeta, "master_key_id")
        if row is None:
            session.add(StoreMeta(key="master_key_id", value=store.master_key.key_id))
            if session.get(ChainHead, 1) is None:
                session.add(ChainHead(id=1, seq=0, hash=GENESIS_HASH))
        elif row.value != store.master_key.key_id:
            raise KeyUnavailable(
                "the master key does not match the one this case store was created with: "
                "set SAFEPASSAGE_MASTER_KEY (or restore the key file) to the store's key"
            )


def chain_head(session: Session) -> ChainHead:
    """Return the chain head row, locked for update where the database supports it."""
    query = select(ChainHead).where(ChainHead.id == 1).with_for_update()
    return session.execute(query).scalar_one()
