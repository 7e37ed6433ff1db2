"""Embassy liaison follows the rules: Romania's programme names it, the office decides the rest.

No Prefect server: the stage runs as a plain function against the test store (SQLite and
PostgreSQL); the default targets write each message to a local JSON-lines log.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.events import case_events
from safepassage.tasks.embassy import SKIPPED_BY_POLICY, liaise_with_embassy
from tests.stored import stored_case
from tests.tasks.checkpoint_answers import events


@pytest.fixture
def office_policy(
    stage_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """An office policy under which the Hungarian and Bulgarian embassies are not told."""
    path = tmp_path / "office-policy.toml"
    path.write_text('version = "2027-02"\n[embassy_liaison]\nHU = false\nBG = false\n')
    monkeypatch.setenv("SAFEPASSAGE_OFFICE_POLICY", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def stage_and_log(store: Store, reference: str) -> tuple[str, dict[str, dict[str, object]]]:
    with store.transaction() as session:
        stage = get_case(session, reference).stage
        log = {e.kind: e.detail for e in case_events(session, reference)}
    return stage, log


def kinds(store: Store, reference: str) -> list[str]:
    with store.transaction() as session:
        return [e.kind for e in case_events(session, reference)]


def test_by_default_every_embassy_is_told_once_per_booking(stage_store: Store, home: Path) -> None:
    for programme in ("BG", "HU", "RO"):
        reference = stored_case(stage_store, programme)
        for _ in range(2):  # replayed: once
            liaise_with_embassy.fn(reference, 1)
        assert events(home, f"embassy-{programme.lower()}", reference) == ["embassy-liaison"]
        stage, log = stage_and_log(stage_store, reference)
        assert stage == "departure"
        assert log["embassy-informed"]["office_policy_version"] == "default"


def test_an_embassy_the_office_policy_leaves_out_hears_nothing_and_the_log_says_why(
    stage_store: Store, home: Path, office_policy: Path
) -> None:
    reference = stored_case(stage_store, "HU")
    for _ in range(2):
        liaise_with_embassy.fn(reference, 1)
    assert events(home, "embassy-hu", reference) == []
    assert events(home, "mission-hu", reference) == []
    stage, log = stage_and_log(stage_store, reference)
    assert stage == "departure"  # the stage passed all the same
    assert "embassy-informed" not in log
    assert log[SKIPPED_BY_POLICY] == {
        "attempt": 1,
        "skipped_by": "office-policy",
        "office_policy_version": "2027-02",
    }
    assert kinds(stage_store, reference).count(SKIPPED_BY_POLICY) == 1


def test_romanias_embassy_is_told_whatever_the_office_policy(
    stage_store: Store, home: Path, office_policy: Path
) -> None:
    reference = stored_case(stage_store, "RO")
    liaise_with_embassy.fn(reference, 1)
    assert events(home, "embassy-ro", reference) == ["embassy-liaison"]
    _, log = stage_and_log(stage_store, reference)
    assert log["embassy-informed"]["office_policy_version"] == "2027-02"
