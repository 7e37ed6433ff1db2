"""One served SafePassage for the flow tests: a real Prefect server, `safepassage serve`, receivers.

Started once per session (about 20 s); each test takes in its own cases, so tests do not
depend on each other. The test process talks to the same case store (SQLite, shared with the
flow-run processes) and to the server through Prefect's client.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from safepassage.demo.background import BackgroundServe, free_port
from tests.conftest import pointed_at
from tests.receivers import HttpReceiver, SmtpReceiver

#: Who receives what: mission-bg is cleared (secure) and reached by mail; mission-ro is not.
FLOW_TARGETS = """\
version: 1
urls:
  - "{mission_bg}":
      tag: mission-bg, secure
  - {http}/mission-cz:
      tag: mission-cz
  - {http}/mission-ro:
      tag: mission-ro
  - {http}/mission-hu:
      tag: mission-hu, secure
  - {http}/mission-md:
      tag: mission-md
  - {http}/embassy-bg:
      tag: embassy-bg
  - {http}/embassy-cz:
      tag: embassy-cz
  - {http}/embassy-ro:
      tag: embassy-ro, secure
  - {http}/embassy-hu:
      tag: embassy-hu
  - {http}/embassy-md:
      tag: embassy-md
  - {http}/coordinators:
      tag: coordinators
"""
MISSION_BG_MAILBOX = "mission-bg@example.org"
#: The runner's poll: long, so that a run that starts only at a poll shows (test_prompt_start.py).
#: Runs start on the server's events (deployments/prompt_start.py); the poll is their fallback.
POLL_SECONDS = 10


@dataclass(frozen=True)
class World:
    """The served system the flow tests drive."""

    home: Path
    api_url: str
    env: dict[str, str]
    http: HttpReceiver
    smtp: SmtpReceiver
    serving: BackgroundServe


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Start receivers and `safepassage serve` (its own Prefect server) for the session."""
    home = tmp_path_factory.mktemp("served")
    http, smtp = HttpReceiver().start(), SmtpReceiver().start()
    config = home / "targets.yaml"
    config.write_text(
        FLOW_TARGETS.format(
            http=f"json://127.0.0.1:{http.port}", mission_bg=smtp.mailto_url(MISSION_BG_MAILBOX)
        )
    )
    env = {
        "SAFEPASSAGE_HOME": str(home),
        "SAFEPASSAGE_MASTER_KEY": base64.urlsafe_b64encode(b"f" * 32).decode(),
        "SAFEPASSAGE_NOTIFY_CONFIG": str(config),
        "SAFEPASSAGE_NOTIFY_MIN_INTERVAL_SECONDS": "0",
        "SAFEPASSAGE_NOTIFY_RETRY_BASE_SECONDS": "1",
        "SAFEPASSAGE_TASK_RETRIES": "1",
        "SAFEPASSAGE_TASK_RETRY_DELAY_SECONDS": "0.2",
        "SAFEPASSAGE_RUNNER_POLL_SECONDS": str(POLL_SECONDS),
        "PREFECT_HOME": str(home / "prefect"),
    }
    serving = BackgroundServe.start(port=free_port(), log_path=home / "serve.log", env=env, limit=4)
    try:
        yield World(home, serving.api_url, env, http, smtp, serving)
    finally:
        serving.stop()
        http.stop()
        smtp.stop()


@pytest.fixture
def served(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Point this test process at the served world: its store, its targets, its Prefect API."""
    with pointed_at(world.env, world.api_url, monkeypatch):
        yield world
