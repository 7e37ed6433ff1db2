"""Open the case store: engine, migrations, the master key, and transactions.

The session's lifecycle lives here, outside the data functions that use a session.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from safepassage.models.clock import utcnow
from safepassage.models.crypto import MasterKey
from safepassage.models.errors import ChainBroken, ConfigurationError, StoreUnreachable
from safepassage.models.private_files import create_private_database, ensure_private_home
from safepassage.models.settings import Settings, get_settings
from safepassage.models.store import state_seal
from safepassage.models.store.anchor import Anchor
from safepassage.models.store.events import (
    APPENDED_INFO,
    MASTER_KEY_INFO,
    key_the_chain,
    keyed_from,
    start_chain,
)
from safepassage.models.store.keys import bind_master_key, load_master_key, recorded_key_ids
from safepassage.models.store.orm import Case

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
logger = logging.getLogger("safepassage.store")


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
    anchor: Anchor

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
    # The home holds the key file, the SQLite store and the logs: the owner's alone, or refused.
    embedded = url.startswith("sqlite") and not settings.database_url
    ensure_private_home(settings.home, create=embedded)
    create_private_database(url)
    engine = make_engine(url)
    try:
        migrate(engine)
    except OperationalError as exc:
        engine.dispose()
        raise StoreUnreachable(
            f"cannot open the case store at {make_url(url).render_as_string(hide_password=True)}: "
            f"{type(exc.orig).__name__}; check SAFEPASSAGE_DATABASE_URL and that the database runs"
        ) from None
    try:
        # The key ring is looked at after the schema: a store that already holds data must
        # never get a new key made for it.
        master_key = load_master_key(settings, engine, notice=notice or _stderr_notice)
        anchor = Anchor(settings.effective_audit_anchor)
        store = Store(engine, session_factory(engine, master_key, anchor), master_key, anchor)
        _prepare(store)
    except BaseException:
        engine.dispose()
        raise
    return store


def _stderr_notice(message: str) -> None:
    print(message, file=sys.stderr)


def session_factory(engine: Engine, master_key: MasterKey, anchor: Anchor) -> sessionmaker[Session]:
    """Return the store's session factory: each session signs the log and seals case state."""
    sessions = sessionmaker(engine, expire_on_commit=False, info={MASTER_KEY_INFO: master_key})

    def seal_cases(session: Session, _context: Any, _instances: Any) -> None:
        state_seal.reseal(session, master_key)

    def anchor_head(session: Session) -> None:
        appended = session.info.pop(APPENDED_INFO, None)
        if appended is None:
            return
        try:
            anchor.record(*appended)
        except OSError as exc:
            # Committed already: failing now would report a stored case as not stored. The
            # anchor is one head behind until the next transaction; verification still holds.
            logger.error("audit anchor not written in %s: %s", anchor.folder, exc.strerror)

    def forget_head(session: Session, previous: Any) -> None:
        if not previous.nested:  # a savepoint's rollback leaves the outer appends standing
            session.info.pop(APPENDED_INFO, None)

    event.listen(sessions, "before_flush", seal_cases)
    event.listen(sessions, "after_commit", anchor_head)
    event.listen(sessions, "after_soft_rollback", forget_head)
    return sessions


def _prepare(store: Store) -> None:
    """Refuse a key ring that is not the store's; start, or move to, the keyed audit chain."""
    for attempt in range(3):
        try:
            _prepare_once(store)
            return
        except IntegrityError:  # another process opening the store recorded the same facts
            if attempt == 2:
                raise


def _prepare_once(store: Store) -> None:
    # Looked at first: keying an old store's chain anchors its epoch entry on commit.
    fresh_anchor = store.anchor.is_new()
    with store.transaction() as session:
        new_store = not recorded_key_ids(session)
        bind_master_key(session, store.master_key)
        if new_store:
            start_chain(session)
        epoch = keyed_from(session)
        if epoch is None:  # a store from before the keyed chain: key it now, once
            if not fresh_anchor:
                # The anchor knows this store's chain as keyed: the epoch's row was deleted to
                # have forged rows sealed afresh as if this were an old store. Refuse.
                raise ChainBroken(
                    "the case store has lost the record of when its audit chain was keyed, but "
                    f"its anchor ({store.anchor.folder}) has it: the database was tampered with. "
                    "Nothing was written; run `safepassage audit verify`"
                )
            epoch, moved = key_the_chain(session, now=utcnow())
            if moved:
                _seal_existing_cases(session, store.master_key)
    if store.anchor.epoch() is None and fresh_anchor:
        store.anchor.set_epoch(epoch)


def _seal_existing_cases(session: Session, master_key: MasterKey) -> None:
    """Seal the state of every case stored before the seal existed (in the epoch's step)."""
    columns = [getattr(Case, name) for name in state_seal.COVERED]
    unsealed = select(Case.id, *columns).where(Case.state_mac.is_(None))
    for row in session.execute(unsealed).all():
        values = dict(zip(state_seal.COVERED, row[1:], strict=True))
        session.execute(
            update(Case)
            .where(Case.id == row[0])
            .values(state_mac=state_seal.state_mac(master_key, values))
            .execution_options(synchronize_session=False)
        )


@contextlib.contextmanager
def opened_store(settings: Settings | None = None) -> Iterator[Store]:
    """Open the configured case store for one use; close its connections afterwards."""
    store = open_store(settings or get_settings())
    try:
        yield store
    finally:
        store.dispose()


@contextlib.contextmanager
def store_or_opened(store: Store | None) -> Iterator[Store]:
    """Yield `store` (a caller's, open for its lifetime: the gateway's), else the configured
    store opened for this use only."""
    if store is not None:
        yield store
        return
    with opened_store() as opened:
        yield opened


@functools.cache
def process_store() -> Store:
    """Return this process's case store, opened once (a flow-run process lives for one run)."""
    return open_store()
