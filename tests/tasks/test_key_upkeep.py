"""The retention run's key step: a new version each day, old ones destroyed after the window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from safepassage.models.store.db import Store, process_store
from safepassage.tasks.keys import rotate_and_retire_keys
from tests.stored import stored_case


@pytest.fixture
def ring_stage_store(ring_store: Store) -> Iterator[Store]:
    """The ring-keyed store, also as the process-wide store the task uses."""
    process_store.cache_clear()
    yield ring_store
    process_store.cache_clear()


def test_each_run_rotates_and_the_window_decides_what_is_retired(
    ring_stage_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored_case(ring_stage_store)
    first = rotate_and_retire_keys.fn()
    assert (first.rotated_to, first.retired) == (2, [])  # version 1 is kept for the backups
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=36)
    monkeypatch.setattr("safepassage.tasks.keys.utcnow", lambda: later)
    second = rotate_and_retire_keys.fn()
    assert (second.rotated_to, second.retired) == (3, [1, 2])
    assert [v.number for v in process_store().master_key.versions] == [3]


def test_a_fixed_environment_key_is_left_alone_and_said_so(stage_store: Store) -> None:
    upkeep = rotate_and_retire_keys.fn()
    assert (upkeep.rotated_to, upkeep.retired) == (None, [])
    assert upkeep.skipped == "one fixed master key"
