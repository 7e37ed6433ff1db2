"""Stage tasks run as plain functions (`task.fn`) against a real store and real local logs.

No Prefect server is needed: a stage's work is its store transaction and its notifications.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from safepassage.models.store.db import Store
from safepassage.notifications import clear_targets_cache
from safepassage.tasks.runtime import case_store


@pytest.fixture
def stage_store(store: Store) -> Iterator[Store]:
    """The test's store, also as the tasks' process-wide store (on SQLite and PostgreSQL)."""
    case_store.cache_clear()
    clear_targets_cache()
    yield store
    case_store.cache_clear()
    clear_targets_cache()
