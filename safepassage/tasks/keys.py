"""The retention run's key step: a new master-key version each day, old ones destroyed.

Rotating daily bounds how long an erased case's data key survives in backups: by the backup
window (SAFEPASSAGE_KEY_BACKUP_DAYS) plus one day. See models/keyring.py.
"""

from __future__ import annotations

import logging

from prefect import task
from pydantic import BaseModel

from safepassage.models.clock import utcnow
from safepassage.models.settings import get_settings
from safepassage.models.store.db import process_store
from safepassage.models.store.keys import retire, rotate
from safepassage.orchestration.task_options import LEDGER_TASK

logger = logging.getLogger("safepassage.keys")


class KeyUpkeep(BaseModel):
    """What the day's key step did: numbers only."""

    rotated_to: int | None
    retired: list[int]
    skipped: str | None = None


@task(**LEDGER_TASK)
def rotate_and_retire_keys() -> KeyUpkeep:
    """Rotate the master key and retire the versions older than the backup window."""
    store = process_store()
    if not store.master_key.source.rotatable:
        logger.warning("the master key is one fixed key: it was not rotated (use a key ring)")
        return KeyUpkeep(rotated_to=None, retired=[], skipped="one fixed master key")
    now = utcnow()
    rotation = rotate(store.sessions, store.master_key, actor="retention", now=now)
    retired = retire(
        store.sessions, store.master_key, backup_days=get_settings().key_backup_days,
        actor="retention", now=now,
    )  # fmt: skip
    return KeyUpkeep(rotated_to=rotation.version, retired=retired)
