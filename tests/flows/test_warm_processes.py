"""Warm flow-run processes (deployments/warm) as the served system runs them.

The session's `serve` starts its runs as forks of a preloaded parent (the default). What is
new there and must hold: a cancel reaches a run in a forked child, and the parent's death
costs no more than the runs it held: the next runs start from a new parent.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from uuid import UUID

from prefect import get_client
from prefect.states import Cancelling

from safepassage.demo.coordinator import play
from safepassage.models.checkpoints import Checkpoint
from safepassage.orchestration.runs import run_status
from safepassage.services.checkpoints import case_status
from tests.flows.conftest import World
from tests.flows.helpers import resumed_and_held_mid_stage, take, wait_at
from tests.waiting import eventually


def _warm_parents(serve_pid: int) -> list[int]:
    """Return the pids of `serve`'s warm parents (the forkserver it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == serve_pid and b"multiprocessing.forkserver" in command:
            found.append(int(entry.name))
    return found


def test_a_run_in_a_forked_child_cancelled_as_the_ui_does_ends_cancelled_and_no_other_run_stops(
    served: World,
) -> None:
    case, other = take("BG"), take("RO", travel_document__holds_valid_passport=True)
    play([case, other], stop_at={Checkpoint.TRAVEL_DOCUMENT, Checkpoint.RECEPTION}, timeout=240)
    wait_at(case.reference, "travel-document")
    wait_at(other.reference, "reception")
    # The resumed run waits mid-stage, in its forked child, when the cancel comes.
    with resumed_and_held_mid_stage(served.home, case.reference) as flow_run_id:
        with get_client(sync_client=True) as client:  # the UI's Cancel: a Cancelling state
            client.set_flow_run_state(UUID(flow_run_id), Cancelling())
        eventually(
            lambda: run_status(flow_run_id).state_name,
            until=lambda name: name == "Cancelled",
            timeout=120,
            what="the runner to stop the forked child and mark the run cancelled",
        )

    # The other case's run, in a sibling child, goes on as if nothing happened.
    play([other], stop_at={Checkpoint.TICKET}, timeout=180)
    assert wait_at(other.reference, "ticket")["waiting_for"] == "ticket"
    assert run_status(flow_run_id).state_name == "Cancelled"


def test_runs_start_from_a_new_warm_parent_when_the_parent_dies(served: World) -> None:
    serve_pid = served.serving.process.pid
    (parent,) = _warm_parents(serve_pid)
    os.kill(parent, signal.SIGKILL)

    case = take("CZ")
    play([case], stop_at={Checkpoint.TRAVEL_DOCUMENT, Checkpoint.RECEPTION}, timeout=240)

    assert case_status(case.reference)["waiting_for"] in {"travel-document", "reception"}
    assert [pid for pid in _warm_parents(serve_pid) if pid != parent]
