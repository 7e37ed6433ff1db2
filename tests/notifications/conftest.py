"""A small world for notification tests: a store, real local receivers, a configuration, a clock.

Targets (see CONFIG): mission-bg has two, a cleared (`secure`) JSON endpoint and an uncleared
mailbox; the other missions, two embassies and the coordinators are JSON endpoints or mailboxes
on the same receivers; mission-hu points at a port nothing listens on (a receiver that never
recovers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from safepassage.models.settings import Settings, get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.events import case_events
from safepassage.notifications import (
    DeliveryReport,
    Targets,
    clear_targets_cache,
    deliver_due,
    load_targets,
    queue_notifications,
)
from tests.receivers import HttpReceiver, SmtpReceiver, free_port
from tests.stored import stored_case

START = dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.UTC)
RETRY_BASE_SECONDS = 10.0
MAX_ATTEMPTS = 3

CONFIG = """\
# Test targets. mission-bg is reachable two ways: one cleared for details, one not.
version: 1
urls:
  - {http}/mission-bg:
      tag: mission-bg, secure
  - "{smtp_mission_bg}":
      tag: mission-bg
  - {http}/mission-cz:
      tag: mission-cz
  - "{smtp_mission_ro}":
      tag: mission-ro
  - {dead}/mission-hu:
      tag: mission-hu
  - {http}/embassy-bg:
      tag: embassy-bg, secure
  - {http}/embassy-ro:
      tag: embassy-ro
  - {http}/coordinators:
      tag: coordinators, secure
"""


@dataclass
class Clock:
    """A clock the test moves by hand, so retries are due without sleeping."""

    now: dt.datetime = START

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class World:
    store: Store
    http: HttpReceiver
    smtp: SmtpReceiver
    config: Path
    clock: Clock = field(default_factory=Clock)

    @property
    def settings(self) -> Settings:
        return get_settings()

    @property
    def targets(self) -> Targets:
        return load_targets(self.settings)

    def take_in(self, programme: str = "BG", **changes: Any) -> str:
        return stored_case(self.store, programme, now=self.clock(), actor="test", **changes)

    def queue(
        self,
        reference: str,
        event: str,
        *,
        attempt: str = "1",
        facts: Mapping[str, str] | None = None,
        details: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Queue in a transaction of its own, as a stage would; return the message ids."""
        with self.store.transaction() as session:
            case = get_case(session, reference)
            items = queue_notifications(
                session,
                self.store.master_key,
                case,
                event,
                attempt=attempt,
                facts=facts,
                details=details,
                now=self.clock(),
            )
            return [item.message_id for item in items]

    def deliver(self, **kwargs: Any) -> DeliveryReport:
        return deliver_due(self.store, now=self.clock(), **kwargs)

    def events(self, reference: str) -> list[Any]:
        with self.store.transaction() as session:
            return case_events(session, reference)


def write_config(folder: Path, http: HttpReceiver, smtp: SmtpReceiver) -> Path:
    path = folder / "notify-test.yaml"
    path.write_text(
        CONFIG.format(
            http=f"json://127.0.0.1:{http.port}",
            dead=f"json://127.0.0.1:{free_port()}",
            smtp_mission_bg=smtp.mailto_url("mission-bg@example.org"),
            smtp_mission_ro=smtp.mailto_url("mission-ro@example.org"),
        )
    )
    return path


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as receiver:
        yield receiver


def use_config(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Point the settings at `path`, with retries quick enough for tests."""
    monkeypatch.setenv("SAFEPASSAGE_NOTIFY_CONFIG", str(path))
    monkeypatch.setenv("SAFEPASSAGE_NOTIFY_RETRY_BASE_SECONDS", str(RETRY_BASE_SECONDS))
    monkeypatch.setenv("SAFEPASSAGE_NOTIFY_MAX_ATTEMPTS", str(MAX_ATTEMPTS))
    monkeypatch.setenv("SAFEPASSAGE_NOTIFY_MIN_INTERVAL_SECONDS", "0")
    monkeypatch.setenv("SAFEPASSAGE_NOTIFY_TIMEOUT_SECONDS", "2")
    get_settings.cache_clear()
    clear_targets_cache()


@pytest.fixture
def world(
    store: Store,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    """A store on each database, with the test configuration and receivers."""
    use_config(monkeypatch, write_config(tmp_path, http, smtp))
    yield World(store=store, http=http, smtp=smtp, config=Path(str(get_settings().notify_config)))
    clear_targets_cache()
