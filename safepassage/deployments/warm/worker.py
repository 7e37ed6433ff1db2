"""The warm worker: Prefect's process worker, its flow runs started as forks of the warm parent.

Registered as the worker type `safepassage-warm` through the `prefect.collections` entry point
(pyproject.toml), the way Prefect's own integrations register theirs, so that
`prefect work-pool create safepassage --type safepassage-warm` and
`prefect worker start --pool safepassage --type safepassage-warm` find it (prefect.yaml).

Everything is the process worker's: polling (also woken by the server's events,
deployments/prompt_start.py), limits, the job template and its variables,
cancellation through the control channel, heartbeats, the crash report. Only the start of the
flow-run process differs. Prefect's process worker runs a workspace supervisor, which runs the
deployment's pull steps and then starts `python -m prefect.engine`; the warm worker starts the
engine directly, as the process worker does for a job whose command is set, and the engine runs
the pull steps itself (prefect.flows.load_flow_from_flow_run). That engine start is where the
warm runner's `_run_process` forks a child of the preloaded parent (runner.py) instead.

Fallback: SAFEPASSAGE_WARM_PROCESSES=false on the worker starts its runs as Prefect's process
worker does; a pool of type `process` with `prefect worker start --type process` leaves Prefect's
worker untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio.abc
from prefect.client.schemas.objects import FlowRun
from prefect.utilities.processutils import command_to_string
from prefect.workers.process import (
    ProcessJobConfiguration,
    ProcessWorker,
    ProcessWorkerResult,
)

from safepassage.deployments.prompt_start import woken_by_events
from safepassage.deployments.warm.parent import WarmParent, start_warm_parent
from safepassage.deployments.warm.runner import engine_command, install, starting_with
from safepassage.models.settings import get_settings

#: The worker type, as `prefect worker start --type` and a work pool's type name it.
WORKER_TYPE = "safepassage-warm"


class WarmProcessWorker(ProcessWorker):
    """Prefect's process worker whose flow runs are forks of a preloaded parent."""

    type = WORKER_TYPE
    _description = (
        "Execute flow runs as processes forked from a parent that has already imported "
        "Prefect and SafePassage: each run still has a process of its own."
    )
    _display_name = "SafePassage warm process"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._warm_parent: WarmParent | None = None

    async def start(
        self,
        run_once: bool = False,
        with_healthcheck: bool = False,
        printer: Callable[..., None] = print,
    ) -> None:
        serving = super().start(
            run_once=run_once, with_healthcheck=with_healthcheck, printer=printer
        )
        if run_once:
            await serving
        else:
            await woken_by_events(serving, self._ready_poll)

    def _ready_poll(self) -> Callable[[], Awaitable[Any]] | None:
        # Polls before the first sync with the work pool find nothing (Prefect skips them).
        ready = self._runs_task_group is not None and self._has_successfully_synced
        return self.get_and_submit_flow_runs if ready else None

    async def setup(self) -> None:
        await super().setup()
        self._warm_parent = start_warm_parent(get_settings())
        if self._warm_parent is not None:
            install()

    async def teardown(self, *exc_info: Any) -> None:
        try:
            await super().teardown(*exc_info)
        finally:
            if self._warm_parent is not None:
                self._warm_parent.stop()
                self._warm_parent = None

    async def run(
        self,
        flow_run: FlowRun,
        configuration: ProcessJobConfiguration,
        task_status: anyio.abc.TaskStatus[int] | None = None,
    ) -> ProcessWorkerResult:
        # A job whose command someone set runs that command, as Prefect would: cold.
        if self._warm_parent is None or configuration._command_configured:
            return await super().run(flow_run, configuration, task_status)
        configuration.command = command_to_string(engine_command())
        configuration._command_configured = True
        with starting_with(self._warm_parent):
            return await super().run(flow_run, configuration, task_status)
