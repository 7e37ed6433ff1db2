"""Recover runs whose process died: the open-source Prefect server never notices by itself.

If the serving process and a flow-run process are killed together, the run stays `Running`
for ever; a flow-run process that dies outside the flow's code (it could not reach the server
while the database restarted) leaves the run `Crashed`, which nothing restarts either.

Every running flow emits a heartbeat event (PREFECT_FLOWS_HEARTBEAT_FREQUENCY, set to 30 s by
SafePassage). The reaper, a thread in `safepassage serve`, looks at the runs of the
served deployments that are Running or Pending; one with no heartbeat (nor state change) for
`orphan_after_seconds` has lost its process, so the reaper moves it to AwaitingRetry, unless
its process is seen alive on this machine (a busy machine can delay a heartbeat past the limit,
or keep a starting process Pending that long; restarting a live run would run it twice). The
runner starts it again; the flow re-executes from the top, replays completed tasks from their
results, and the case store's ledger keeps every side effect to once. Crashed runs are restarted the
same way, at most MAX_CRASH_RESTARTS times each.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectNotFound
from prefect.states import AwaitingRetry

from safepassage.deployments.warm.child import RUN_ID_VARIABLE

logger = logging.getLogger("safepassage.recovery")

HEARTBEAT = "prefect.flow-run.heartbeat"


def last_heartbeat(api: httpx.Client, flow_run_id: UUID, since: dt.datetime) -> dt.datetime | None:
    """Return when the run last emitted a heartbeat after `since`, if it did."""
    body = {
        "filter": {
            "event": {"name": [HEARTBEAT]},
            "resource": {"id": [f"prefect.flow-run.{flow_run_id}"]},
            "occurred": {"since": since.isoformat()},
        },
        "limit": 1,
    }
    response = api.post("/events/filter", json=body)
    response.raise_for_status()
    events = response.json().get("events", [])
    return dt.datetime.fromisoformat(events[0]["occurred"]) if events else None


#: How the variable naming a process's run starts in /proc/<pid>/environ.
_RUN_ID_ENTRY = f"{RUN_ID_VARIABLE}=".encode()


def flow_runs_alive_here(proc: Path = Path("/proc")) -> set[str]:
    """Return the ids of the flow runs whose process is alive on this machine.

    Prefect's runner and process worker give each flow-run process its run's id in the
    environment (PREFECT__FLOW_RUN_ID); /proc shows it for our own processes (a warm child
    writes it there, deployments/warm/child.py). Elsewhere than Linux, or for runs on another
    machine, the set is empty and heartbeats alone decide.
    """
    alive: set[str] = set()
    if not proc.is_dir():
        return alive
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or another user's
            continue
        start = environ.find(_RUN_ID_ENTRY)
        if start != -1:
            value = environ[start + len(_RUN_ID_ENTRY) :].split(b"\0", 1)[0]
            alive.add(value.decode(errors="replace"))
    return alive


def find_orphans(
    client: Any,
    api: httpx.Client,
    deployment_ids: list[UUID],
    *,
    now: dt.datetime,
    after: float,
) -> list[FlowRun]:
    """Return the runs of the deployments that show no sign of life for `after` seconds."""
    runs = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
            )
        ),
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=deployment_ids)),
        limit=200,
    )
    silent_since = now - dt.timedelta(seconds=after)
    alive_here = flow_runs_alive_here() if runs else set()
    orphans = []
    for run in runs:
        entered = run.state.timestamp if run.state else None
        if entered is None or entered > silent_since or str(run.id) in alive_here:
            continue
        beat = last_heartbeat(api, run.id, since=silent_since)
        if beat is None:
            orphans.append(run)
    return orphans


def reschedule_orphans(
    api_url: str,
    deployment_names: list[str],
    *,
    after: float,
) -> list[str]:
    """Move every silent run of the deployments to AwaitingRetry; return their names."""
    with get_client(sync_client=True) as client, httpx.Client(base_url=api_url, timeout=30) as api:
        ids = []
        for name in deployment_names:
            try:
                ids.append(client.read_deployment_by_name(name).id)
            except ObjectNotFound:  # not registered (yet): none of its runs can be ours
                continue
        if not ids:
            return []
        now = dt.datetime.now(dt.UTC)
        orphans = find_orphans(client, api, ids, now=now, after=after)
        for run in orphans:
            client.set_flow_run_state(
                run.id,
                AwaitingRetry(
                    message=f"no sign of life for {after:.0f} s: restarted by the reaper"
                ),
                force=True,
            )
            logger.warning("rescheduled %s: its process died", run.name)
        return [run.name for run in orphans] + restart_crashed(client, ids)


#: A crashed run is restarted this many times at most: a crash that repeats is a bug to read,
#: not a fault to ride out.
MAX_CRASH_RESTARTS = 3
CRASH_MARKER = "crashed: restarted by the reaper"


def restart_crashed(client: Any, deployment_ids: list[UUID]) -> list[str]:
    """Move the deployments' Crashed runs back to AwaitingRetry, a few times each.

    A run crashes when its process could not start or died outside the flow's code (the
    server answered 500 while its database restarted, the machine ran out of memory). Every
    stage is idempotent, so running it again is safe; its flow re-executes from the top.
    """
    crashed = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED]))
        ),
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=deployment_ids)),
        limit=200,
    )
    restarted = []
    for run in crashed:
        states = client.read_flow_run_states(run.id)
        done = sum(1 for s in states if (s.message or "").startswith(CRASH_MARKER))
        if done >= MAX_CRASH_RESTARTS:
            continue
        message = f"{CRASH_MARKER} ({done + 1} of {MAX_CRASH_RESTARTS})"
        client.set_flow_run_state(run.id, AwaitingRetry(message=message), force=True)
        logger.warning(
            "restarted %s after a crash (%d of %d)", run.name, done + 1, MAX_CRASH_RESTARTS
        )
        restarted.append(run.name)
    return restarted


class OrphanReaper:
    """Reschedule silent runs every `interval` seconds in a daemon thread, until stopped."""

    def __init__(self, reap: Callable[[], list[str]], *, interval: float) -> None:
        self._reap = reap
        self.interval = interval
        self.rescheduled: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="orphan-reaper", daemon=True)

    def start(self) -> None:
        """Start reaping (the first look is immediate: a restart finds the runs it lost)."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.rescheduled += self._reap()
            except Exception as exc:  # a busy or restarting server: look again next time
                logger.warning("orphan check failed: %s", type(exc).__name__)
            self._stop.wait(self.interval)
