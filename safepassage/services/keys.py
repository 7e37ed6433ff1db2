"""The master-key ring: rotate, retire, list (`safepassage keys ...` and the retention run)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from safepassage.models.clock import utcnow
from safepassage.models.settings import get_settings
from safepassage.models.store.db import Store, opened_store
from safepassage.models.store.keys import Rotation, due_for_retirement, retire, rotate


@dataclass(frozen=True)
class VersionView:
    """One master-key version as an operator may see it: never its secret."""

    version: int
    key_id: str
    created: dt.datetime
    current: bool
    retire_after: dt.datetime | None


def rotate_keys(*, actor: str) -> Rotation:
    """Make a new master-key version and re-wrap every live case's data key under it."""
    with opened_store() as store:
        return rotate(store.sessions, store.master_key, actor=actor, now=utcnow())


def retire_keys(*, actor: str, at_once: bool = False) -> list[int]:
    """Destroy the versions replaced longer than SAFEPASSAGE_KEY_BACKUP_DAYS ago (`at_once`:
    every version but the current one); return their numbers."""
    with opened_store() as store:
        return retire_due(store, actor=actor, at_once=at_once)


def retire_due(store: Store, *, actor: str, at_once: bool = False) -> list[int]:
    """`retire_keys` on an open store (the retention run's own)."""
    days = get_settings().key_backup_days
    return retire(
        store.sessions, store.master_key, backup_days=days, actor=actor, now=utcnow(),
        at_once=at_once,
    )  # fmt: skip


def key_versions() -> list[VersionView]:
    """Return the versions the ring holds, oldest first, with when each is due to retire."""
    days = get_settings().key_backup_days
    with opened_store() as store:
        versions = store.master_key.versions
        due = set(
            due_for_retirement(store.master_key, backup_days=days, now=utcnow(), at_once=False)
        )
    views = []
    for older, newer in zip(versions, [*versions[1:], None], strict=True):
        retire_after = None if newer is None else newer.created + dt.timedelta(days=days)
        views.append(
            VersionView(
                version=older.number,
                key_id=older.key_id,
                created=older.created,
                current=newer is None,
                retire_after=utcnow() if older.number in due else retire_after,
            )
        )
    return views
