"""The serving process and its flow-run process die together; after a restart nothing is lost.

This test runs its own `safepassage serve` (it kills it), on the embedded default's targets.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from safepassage.demo.background import BackgroundServe, free_port
from safepassage.demo.coordinator import play
from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.settings import get_settings
from safepassage.notifications import clear_targets_cache
from safepassage.orchestration.runs import run_status
from safepassage.services.checkpoints import answer_checkpoint, case_status
from tests.flows.helpers import actions, event_kinds, take
from tests.flows.test_return_case import MISSION_PATH


def _descendants(pid: int) -> list[int]:
    """Return the pids of a process's children, grandchildren, ... (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


class Crashable:
    def __init__(self, home: Path, env: dict[str, str], port: int) -> None:
        self.home, self.env, self.port = home, env, port
        self.serving = self._start(1)

    def _start(self, generation: int) -> BackgroundServe:
        return BackgroundServe.start(
            port=self.port, log_path=self.home / f"serve-{generation}.log", env=self.env
        )

    def kill_serve_and_its_runs(self, server_pid: int) -> list[int]:
        """SIGKILL `serve` and every process under it but the Prefect server (it lives on)."""
        victims = [self.serving.process.pid]
        victims += [p for p in _descendants(self.serving.process.pid) if p != server_pid]
        victims = [p for p in victims if p not in _descendants(server_pid)]
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        self.serving.process.wait(10)
        return victims

    def restart(self) -> None:
        self.serving = self._start(2)


@pytest.fixture
def crashable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Crashable]:
    home = tmp_path / "home"
    env = {
        "SAFEPASSAGE_HOME": str(home),
        "SAFEPASSAGE_MASTER_KEY": base64.urlsafe_b64encode(b"c" * 32).decode(),
        "SAFEPASSAGE_ORPHAN_AFTER_SECONDS": "40",
        "SAFEPASSAGE_REAPER_INTERVAL_SECONDS": "3",
        "SAFEPASSAGE_TASK_RETRY_DELAY_SECONDS": "0.2",
        "PREFECT_HOME": str(home / "prefect"),
    }
    world = Crashable(home, env, free_port())
    for name in list(os.environ):
        if name.startswith("SAFEPASSAGE_") and not name.startswith("SAFEPASSAGE_TEST_"):
            monkeypatch.delenv(name)
    for name, value in {**env, "PREFECT_API_URL": world.serving.api_url}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    clear_targets_cache()
    try:
        with temporary_settings(updates={PREFECT_API_URL: world.serving.api_url}):
            yield world
    finally:
        world.serving.stop()  # stops the adopted server too
        get_settings.cache_clear()
        clear_targets_cache()


def test_a_case_killed_between_checkpoints_completes_after_a_restart_with_nothing_twice(
    crashable: Crashable,
) -> None:
    case = take("BG")
    play([case], stop_at={Checkpoint.TRAVEL_DOCUMENT}, timeout=180)
    flow_run_id = case_status(case.reference)["flow_run_id"]
    server_pid = json.loads((crashable.home / "server.json").read_text())["pid"]

    document = sample_answer(
        Checkpoint.TRAVEL_DOCUMENT, attempt=1, scenario=Scenario(), today=dt.date.today()
    )
    answer_checkpoint(case.reference, document)
    # Hold the case store's write lock: the resumed run blocks at its first write, mid-stage.
    lock = sqlite3.connect(crashable.home / "safepassage.db", isolation_level=None, timeout=30)
    lock.execute("BEGIN IMMEDIATE")
    try:
        _wait_for(lambda: run_status(flow_run_id).state_name == "Running", "the run to start")
        time.sleep(3)
        killed = crashable.kill_serve_and_its_runs(server_pid)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert len(killed) >= 2  # serve and the flow-run process
    assert run_status(flow_run_id).state_name == "Running"  # nobody noticed: a zombie

    crashable.restart()
    play([case], timeout=300)

    assert case.stage == "reintegration"
    ledger = actions(case.reference)
    assert len(ledger) == len(set(ledger))
    kinds = event_kinds(case.reference)
    for kind in (
        "identification-checked",
        "travel-document-issued",
        "booking-requested",
        "departed",
    ):
        assert kinds.count(kind) == 1, kind
    assert kinds.count("checkpoint-answered") == 4
    sent = [
        json.loads(line)["title"].split(": ")[1]
        for line in (crashable.home / "notifications" / "mission-bg.jsonl").read_text().splitlines()
        if case.reference in line
    ]
    assert sent == MISSION_PATH
    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(UUID(flow_run_id))
    assert any("restarted by the reaper" in (s.message or "") for s in states)


def _wait_for(check: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")
