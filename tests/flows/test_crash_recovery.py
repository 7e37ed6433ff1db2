"""`serve` killed outright mid-stage takes its server and flow-run process with it; after a
restart (a fresh server on the same Prefect database) nothing is lost and nothing happens twice.

This test runs its own `safepassage serve` (it kills it), on the embedded default's targets.
"""

from __future__ import annotations

import base64
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client

from safepassage.demo.background import BackgroundServe, free_port
from safepassage.demo.coordinator import play
from safepassage.models.checkpoints import Checkpoint
from tests.conftest import pointed_at
from tests.flows.helpers import actions, event_kinds, resumed_and_held_mid_stage, take
from tests.flows.test_return_case import MISSION_PATH
from tests.waiting import eventually


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
        # The restart happens while this test points at the server (PREFECT_API_URL set): a
        # `serve` started with it would take the server for an external one. And results go
        # under this test's PREFECT_HOME, not where an earlier `connect()` in this process left
        # PREFECT_RESULTS_LOCAL_STORAGE_PATH.
        with pytest.MonkeyPatch.context() as patch:
            for name in ("PREFECT_API_URL", "PREFECT_RESULTS_LOCAL_STORAGE_PATH"):
                patch.delenv(name, raising=False)
            return BackgroundServe.start(
                port=self.port, log_path=self.home / f"serve-{generation}.log", env=self.env
            )

    def kill_serve(self) -> list[int]:
        """SIGKILL `serve` alone, as the out-of-memory killer would; return what it had started.

        Its children (the Prefect server, the flow-run processes) are tethered to it: the kernel
        kills them too, and the port and the databases are free within seconds.
        """
        children = _descendants(self.serving.process.pid)
        os.kill(self.serving.process.pid, signal.SIGKILL)
        self.serving.process.wait(10)
        eventually(
            lambda: not [pid for pid in children if _alive(pid)],
            timeout=10,
            what="the killed `serve`'s server and flow-run processes to die with it",
        )
        return children

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
    try:
        with pointed_at(env, world.serving.api_url, monkeypatch):
            yield world
    finally:
        world.serving.stop()  # stops its server too
        _kill_leftovers(env["PREFECT_HOME"])


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _kill_leftovers(prefect_home: str) -> None:
    """Kill any process of this test's Prefect home still alive (a server that outlived stop).

    Only this test's own processes can match: every other `serve` of the session is started
    with its own PREFECT_HOME, which its server and flow-run processes inherit.
    """
    needle = f"\0PREFECT_HOME={prefect_home}\0".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in b"\0" + (entry / "environ").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


def test_a_case_killed_between_checkpoints_completes_after_a_restart_with_nothing_twice(
    crashable: Crashable,
) -> None:
    case = take("BG")
    play([case], stop_at={Checkpoint.TRAVEL_DOCUMENT}, timeout=180)
    server_pid = json.loads((crashable.home / "server.json").read_text())["pid"]
    # The kill must find the resumed run mid-stage, waiting for the store in its transaction.
    with resumed_and_held_mid_stage(crashable.home, case.reference) as flow_run_id:
        killed = crashable.kill_serve()
    assert server_pid in killed
    assert len(killed) >= 2  # the server and the flow-run process, at least

    crashable.restart()  # on the same port: the server died with `serve`, nothing holds it
    # Nobody noticed the run's process died (a zombie Running run) but the reaper, which
    # restarts it once it has been silent for SAFEPASSAGE_ORPHAN_AFTER_SECONDS (checked below).
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
    # consent (to share with the embassy), document, pre-departure, reception, ticket,
    # departure, arrival, the reintegration plan
    assert kinds.count("checkpoint-answered") == 8
    sent = [
        json.loads(line)["title"].split(": ")[1]
        for line in (crashable.home / "notifications" / "mission-bg.jsonl").read_text().splitlines()
        if case.reference in line
    ]
    assert sent == MISSION_PATH
    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(UUID(flow_run_id))
    assert any("restarted by the reaper" in (s.message or "") for s in states)
