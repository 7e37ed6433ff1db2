"""The store's side of the key ring: which ring opens this store, rotation and retirement.

A store records the public id of every master-key version it has used (`store_meta`,
`key:N`), so a ring that is not the store's own is refused at open, and a store that already
holds data never gets a fresh key made for it (that key could not open anything, and would
hide the real problem: the ring is missing and must be restored).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from safepassage.models.crypto import MasterKey, decode_key, wrapped_version
from safepassage.models.errors import ConfigurationError, KeyUnavailable
from safepassage.models.keyring import (
    DirectoryKeySource,
    EnvironmentKeySource,
    KeySource,
    KeyVersion,
    key_id_of,
    legacy_index_keys,
    new_index_keys,
    shred,
)
from safepassage.models.settings import Settings
from safepassage.models.store.accounts import key_binding
from safepassage.models.store.erasure import NOTE_PURPOSE
from safepassage.models.store.events import append_event, chain_head
from safepassage.models.store.orm import Account, Case, ErasureNote, StoreMeta

LEGACY_KEY_ID = "master_key_id"
_BATCH = 500


def _meta_name(number: int) -> str:
    return f"key:{number}"


def recorded_key_ids(session: Session) -> dict[int, str]:
    """Return the public ids of the versions the store has used, by number."""
    rows = session.scalars(select(StoreMeta).where(StoreMeta.key.like("key:%")))
    found = {int(row.key.split(":", 1)[1]): row.value for row in rows}
    legacy = session.get(StoreMeta, LEGACY_KEY_ID)
    if legacy is not None:  # a store made before the ring: its one key is version 1
        found.setdefault(1, legacy.value)
    return found


def load_master_key(settings: Settings, engine: Engine, *, notice: Any = None) -> MasterKey:
    """Return the master key that opens the store at `engine`, making a ring only for a new one.

    SAFEPASSAGE_MASTER_KEY, if set, is the one fixed key. Otherwise the key ring: an existing
    ring is used as it is; a store from before the ring has its key file moved into a new ring
    as version 1 (and the file destroyed, since it sits beside the data); a new store gets a new
    ring. A store that holds data and whose ring is missing is refused, saying what to restore.
    """
    if settings.master_key is not None:
        secret = decode_key(settings.master_key.get_secret_value(), source="SAFEPASSAGE_MASTER_KEY")
        return MasterKey(EnvironmentKeySource(secret))
    source = DirectoryKeySource(settings.effective_key_ring)
    if not source.load()[0]:
        with source.exclusive():
            if not source.load()[0]:  # no other process made it meanwhile
                _make_ring(settings, engine, source, notice)
    master_key = MasterKey(source)
    _finish_moving_the_key_file(settings.key_file, master_key)
    return master_key


def _finish_moving_the_key_file(legacy: Path, master_key: MasterKey) -> None:
    """Destroy the old key file once the ring holds its key (a crash may have left it)."""
    if not legacy.exists():
        return
    secret = decode_key(legacy.read_text(), source=f"the key file {legacy}")
    first = master_key.versions[0]
    if first.number == 1 and first.key_id == key_id_of(secret):
        shred(legacy)


def _make_ring(settings: Settings, engine: Engine, source: KeySource, notice: Any) -> None:
    legacy = settings.key_file
    with sessionmaker(engine)() as session:
        recorded = recorded_key_ids(session)
    if legacy.exists():
        secret = decode_key(legacy.read_text(), source=f"the key file {legacy}")
        if recorded and recorded.get(1) != key_id_of(secret):
            raise KeyUnavailable(
                f"the key file {legacy} is not the key this case store was made with: restore "
                "the store's own key file, or set SAFEPASSAGE_MASTER_KEY to the store's key"
            )
        source.create(legacy_index_keys(secret), first=secret)
        shred(legacy)
        _tell(notice, f"safepassage: moved the master key from {legacy} into {source.description}"
              " as version 1 (keys are kept apart from the data now). Back the ring up apart "
              "from the data.")  # fmt: skip
        return
    if recorded:
        raise ConfigurationError(
            f"the case store at {_shown(settings.effective_database_url)} was made "
            f"with master keys that {source.description} does not hold: restore the key ring "
            "from its backup (or set SAFEPASSAGE_KEY_RING to where it is). No new key was "
            "made: it could not open this store's data"
        )
    source.create(new_index_keys())
    _tell(notice, f"safepassage: created {source.description} (owner-only). Back it up apart from "
          "the data: without it no personal data in this store can be read.")  # fmt: skip


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _tell(notice: Any, message: str) -> None:
    if notice is not None:
        notice(message)


def bind_master_key(session: Session, master_key: MasterKey) -> None:
    """Refuse a ring that is not the store's own; record versions the store sees first."""
    recorded = recorded_key_ids(session)
    for version in master_key.versions:
        known = recorded.get(version.number)
        if known is None:
            session.add(StoreMeta(key=_meta_name(version.number), value=version.key_id))
        elif known != version.key_id:
            raise KeyUnavailable(
                f"master-key version {version.number} of {master_key.source.description} is not "
                "the one this case store was made with: set SAFEPASSAGE_MASTER_KEY (or restore "
                "the key ring, SAFEPASSAGE_KEY_RING) to the store's own"
            )
        elif session.get(StoreMeta, _meta_name(version.number)) is None:
            session.add(StoreMeta(key=_meta_name(version.number), value=known))


@dataclass
class Rewrapped:
    """What a re-wrap did: cases moved to the current version, and cases it could not open."""

    moved: int = 0
    unreadable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Wrapped:
    """A kind of row that holds a data key wrapped by the master key."""

    table: Any  # the ORM class
    rows: Any  # select(id, case reference or account name, wrapped key)
    bound_to: Callable[[str], str]  # the name the key is bound to, from the reference or name
    extra: dict[str, Callable[[KeyVersion], Any]]


#: Every row that holds a wrapped data key: the cases, the sealed erasure notes (which
#: outlive their case's key for a while, so they must move to new versions too), and the
#: accounts (whose TOTP secrets would otherwise stop opening, and sign-ins fail, once the
#: version they were wrapped under retires).
_WRAPPED = (
    _Wrapped(
        Case,
        # Never an erased case: a wrapped key copied back into its row from a backup would
        # otherwise be carried forward by every rotation, past every retirement.
        select(Case.id, Case.reference, Case.data_key).where(
            Case.data_key.is_not(None), Case.erased_at.is_(None)
        ),
        lambda reference: reference,
        {"master_key_id": lambda version: version.key_id},
    ),
    _Wrapped(
        ErasureNote,
        select(ErasureNote.id, Case.reference, ErasureNote.data_key).join(
            Case, Case.id == ErasureNote.case_id
        ),
        lambda reference: f"{reference}/{NOTE_PURPOSE}",
        {},
    ),
    # Disabled accounts too: `users reset` brings one back, and no account is ever erased.
    _Wrapped(Account, select(Account.id, Account.name, Account.data_key), key_binding, {}),
)


def rewrap(
    sessions: sessionmaker[Session], master_key: MasterKey, *, below: int | None = None
) -> Rewrapped:
    """Re-wrap every wrapped data key under the current version (those under `below` only).

    Erased cases have no data key and are never re-wrapped. Each change is conditional on the
    wrapped key being the one read, so an erasure committed meanwhile is never undone.
    """
    result = Rewrapped()
    for kind in _WRAPPED:
        _rewrap_kind(sessions, master_key, kind, below=below, result=result)
    return result


def _rewrap_kind(
    sessions: sessionmaker[Session],
    master_key: MasterKey,
    kind: _Wrapped,
    *,
    below: int | None,
    result: Rewrapped,
) -> None:
    last_id = 0
    while True:
        version = master_key.current  # once a batch: it looks at the ring's folder
        with sessions.begin() as session:
            rows = session.execute(
                kind.rows.where(kind.table.id > last_id).order_by(kind.table.id).limit(_BATCH)
            ).all()
            for row_id, reference, wrapped in rows:
                number = wrapped_version(wrapped)
                if number == version.number or (below is not None and number >= below):
                    continue
                bound = kind.bound_to(reference)
                try:
                    data_key = master_key.unwrap(bound, wrapped)
                except KeyUnavailable:
                    result.unreadable.append(bound)
                    continue
                extra = {name: value(version) for name, value in kind.extra.items()}
                moved = session.execute(
                    update(kind.table)
                    .where(kind.table.id == row_id, kind.table.data_key == wrapped)
                    .values(data_key=master_key.wrap(bound, data_key, version=version), **extra)
                )
                result.moved += cast(CursorResult[Any], moved).rowcount
        if not rows:
            return
        last_id = rows[-1][0]


@dataclass(frozen=True)
class Rotation:
    """A rotation's outcome: the new version and how many live cases moved to it."""

    version: int
    rewrapped: int
    unreadable: list[str]


def rotate(
    sessions: sessionmaker[Session], master_key: MasterKey, *, actor: str, now: dt.datetime
) -> Rotation:
    """Make a new master-key version and re-wrap every live case's data key under it."""
    source = master_key.source
    with source.exclusive():
        version = source.add_version()
        master_key.refresh()
        with sessions.begin() as session:
            bind_master_key(session, master_key)
        done = rewrap(sessions, master_key)
        with sessions.begin() as session:
            append_event(
                session, reference=None, kind="master-key-rotated", actor=actor, at=now,
                detail={"version": version.number, "key_id": version.key_id,
                        "rewrapped": done.moved},
            )  # fmt: skip
    return Rotation(version.number, done.moved, done.unreadable)


def due_for_retirement(
    master_key: MasterKey, *, backup_days: int, now: dt.datetime, at_once: bool
) -> list[int]:
    """Return the versions to destroy: superseded longer than the backup window ago (or all
    but the current one, `at_once`)."""
    versions = master_key.versions
    cutoff = now - dt.timedelta(days=backup_days)
    due = []
    for older, newer in itertools.pairwise(versions):
        if at_once or newer.created <= cutoff:
            due.append(older.number)
    return due


def retire(
    sessions: sessionmaker[Session],
    master_key: MasterKey,
    *,
    backup_days: int,
    actor: str,
    now: dt.datetime,
    at_once: bool = False,
) -> list[int]:
    """Destroy the versions due for retirement; return their numbers.

    Live cases still under one of them (wrapped by a process that had not yet seen the newest
    version) are re-wrapped first, while no new data key can be wrapped (`_writers_paused`), so
    retiring never loses a live case. A row whose key does not open at all (damaged, or under a
    version destroyed before) is lost already: it is named in the event, and does not stop the
    retirement, which would keep every backup readable for it.
    """
    source = master_key.source
    with source.exclusive():
        master_key.refresh()
        due = due_for_retirement(master_key, backup_days=backup_days, now=now, at_once=at_once)
        if not due:
            return []
        with _writers_paused(sessions):
            stragglers = rewrap(sessions, master_key, below=max(due) + 1)
            for number in due:
                source.destroy(number)
        master_key.refresh()
        with sessions.begin() as session:
            for number in due:
                append_event(
                    session, reference=None, kind="master-key-retired", actor=actor, at=now,
                    detail={"version": number, "unreadable": stragglers.unreadable},
                )  # fmt: skip
    return due


@contextlib.contextmanager
def _writers_paused(sessions: sessionmaker[Session]) -> Iterator[None]:
    """Hold back every transaction that wraps a new data key, for the body's duration.

    Those transactions lock the chain head before wrapping (cases.create_case, erasure's
    note), so holding it here means each is either committed (and seen by the re-wrap) or
    waits and then wraps under a version that is not being destroyed. SQLite needs nothing:
    its writers already take turns (BEGIN IMMEDIATE), and a second writer here would wait on us.
    """
    if sessions.kw["bind"].dialect.name == "sqlite":
        yield
        return
    with sessions.begin() as guard:
        chain_head(guard)
        yield
