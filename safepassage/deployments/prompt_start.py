"""Start a run as soon as the server schedules it, not at the runner's next poll.

Prefect's runner (and worker) finds the runs it should start by polling the API, here once a
second (`PREFECT_RUNNER_POLL_FREQUENCY`, `PREFECT_WORKER_QUERY_SECONDS`, with 30% jitter): an
answered checkpoint waits half a poll on average before its run starts again, and the
newcomer's demo waits that long at every stage. The server also publishes every state change
on its events websocket (`/api/events/out`), the stream Prefect's runner already listens on for
cancellations. `PollWaker` listens there for flow runs turning Scheduled (a new run), Resuming
(an answered checkpoint) or AwaitingRetry, and runs the poll at once.

The poll itself is Prefect's and unchanged, so nothing starts that a poll would not start, and
Prefect's own checks against a second start of the same run still hold (the runner's set of runs
being submitted; the Scheduled -> Pending proposal, which only one proposer wins). The regular
poll keeps its interval: when the stream is down or an event is lost, a run starts at the next
poll, as it did before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventFilter, EventNameFilter
from prefect.runner import Runner

logger = logging.getLogger("safepassage.prompt_start")

#: The states a run is started from, as the server names their events.
SCHEDULED_EVENTS = [
    "prefect.flow-run.Scheduled",
    "prefect.flow-run.Resuming",
    "prefect.flow-run.AwaitingRetry",
]
#: The pauses between the polls an event brings after the first: the server publishes a state's
#: event inside the transaction that records the state, so a poll at once can read the database
#: before the run is visible in it (on SQLite, often).
REPOLL_PAUSES_S = (0.1, 0.2, 0.4)
#: How long to wait before connecting again after the stream broke, at most.
RECONNECT_MAX_S = 30.0
#: How long one connection is kept: Prefect's subscriber asks, as it connects, for the events
#: of the year to come, so a `serve` that runs for longer connects afresh now and then.
CONNECTION_S = 24 * 3600.0


class PollWaker:
    """Run `poll` whenever the server's events say a flow run was scheduled.

    An event brings a poll at once and a few more within a second (REPOLL_PAUSES_S); events
    that arrive meanwhile fold into those: a burst of fifty intakes costs a few polls a second,
    not fifty.
    """

    def __init__(self, poll: Callable[[], Awaitable[Any]]) -> None:
        self._poll = poll
        self._wanted = anyio.Event()

    async def run(self) -> None:
        """Listen and poll until cancelled; never raises (the regular poll is the fallback)."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._listen)
            group.start_soon(self._poll_when_woken)

    async def _listen(self) -> None:
        wait = 1.0
        names = EventFilter(event=EventNameFilter(name=SCHEDULED_EVENTS))
        while True:
            try:
                with anyio.move_on_after(CONNECTION_S):
                    async with get_events_subscriber(filter=names, reconnection_attempts=0) as sub:
                        wait = 1.0
                        async for _event in sub:
                            self._wanted.set()
            except Exception as broken:  # any failure falls back to the regular poll
                logger.debug("events stream unavailable (%s); polling only", type(broken).__name__)
            await anyio.sleep(wait)
            wait = min(wait * 2, RECONNECT_MAX_S)

    async def _poll_when_woken(self) -> None:
        while True:
            await self._wanted.wait()
            for pause in (0.0, *REPOLL_PAUSES_S):
                await anyio.sleep(pause)
                self._wanted = anyio.Event()  # an event from here on brings polls of its own
                await self._poll_once()

    async def _poll_once(self) -> None:
        try:
            await self._poll()
        except Exception as failed:  # the regular poll tries again
            logger.warning("a poll woken by an event failed: %s", type(failed).__name__)


async def woken_by_events(
    serving: Awaitable[None], ready_poll: Callable[[], Callable[[], Awaitable[Any]] | None]
) -> None:
    """Await `serving` (a runner's or worker's `start`), waking its poll by events meanwhile.

    `ready_poll` returns the poll once the runner or worker can take it, else None. The waker is
    a task of its own rather than a task group's: the runner's own exceptions (a stop signal
    among them) reach `serve` as they are, not wrapped in an exception group.
    """

    async def wake() -> None:
        while (poll := ready_poll()) is None:
            await anyio.sleep(0.05)
        await PollWaker(poll).run()

    waker = asyncio.ensure_future(wake())
    try:
        await serving
    finally:
        waker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waker


class PromptRunner(Runner):
    """Prefect's runner, its poll also woken by the server's events (module docstring)."""

    async def start(self, run_once: bool = False, webserver: bool | None = None) -> None:
        serving = super().start(run_once=run_once, webserver=webserver)
        if run_once:
            await serving
        else:
            await woken_by_events(serving, self._ready_poll)

    def _ready_poll(self) -> Callable[[], Awaitable[Any]] | None:
        # The poller exists once the runner has entered its context (inside `start`).
        return self._scheduled_run_poller._get_and_submit_flow_runs if self.started else None
