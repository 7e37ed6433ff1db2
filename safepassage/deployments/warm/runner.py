"""Prefect's runner, its flow runs started as children of the warm parent.

Prefect 3.9's runner picks a *starter* per run (private classes, see the guard test
tests/deployments/test_warm_prefect_hooks.py): for served deployments `EngineCommandStarter`,
which builds the run's environment (settings, the control channel that delivers a cancel,
the heartbeat frequency, the run's id) and then calls its module's `run_process` to start
`python -m prefect.engine`, handing the runner a `ProcessHandle` to kill and to read the exit
code from. The warm runner keeps all of that and replaces only the last step: where Prefect
would start a new interpreter, the warm parent forks a child (parent.py) that runs the same
engine in the same environment (child.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import anyio
import anyio.abc
from prefect.client.schemas.objects import FlowRun
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import TerminationSignal
from prefect.runner import _starter_engine
from prefect.runner._flow_run_executor import ProcessStarter
from prefect.runner._process_manager import ProcessHandle
from prefect.runner._starter_engine import EngineCommandStarter
from prefect.utilities.processutils import get_sys_executable

from safepassage.deployments.prompt_start import PromptRunner
from safepassage.deployments.warm.child import RUN_ID_VARIABLE
from safepassage.deployments.warm.parent import WarmParent

logger = logging.getLogger("safepassage.warm")

#: The warm parent of the run being started in this task, if it starts warm.
_starting_with: ContextVar[WarmParent | None] = ContextVar("safepassage_warm", default=None)
#: Prefect's own `run_process`, which the cold path still uses.
_prefect_run_process = _starter_engine.run_process  # type: ignore[attr-defined]


def engine_command() -> list[str]:
    """Return the command Prefect starts a flow run's engine with, when none is configured."""
    return [get_sys_executable(), "-m", "prefect.engine"]


class _ForkedProcess:
    """A forked child as Prefect's ProcessHandle reads a process: a pid and a return code."""

    def __init__(self, process: Any) -> None:
        self._process = process

    @property
    def pid(self) -> int | None:
        pid: int | None = self._process.pid
        return pid

    @property
    def returncode(self) -> int | None:
        code: int | None = self._process.exitcode
        return code


async def _run_process(
    command: list[str],
    *,
    stream_output: Any = False,
    task_status: anyio.abc.TaskStatus[Any] | None = None,
    task_status_handler: Callable[[Any], Any] | None = None,
    env: dict[str, str] | None = None,
    cwd: Any = None,
    **kwargs: Any,
) -> Any:
    """Start the engine as a fork of the warm parent, else as Prefect would; wait for its end.

    Cold whenever the run was not started by the warm runner, the command is not the engine's,
    Prefect asks for something a fork does not give (a session of its own), or the parent is
    not ready (parent.py: a code change not yet preloaded).
    """
    parent = _starting_with.get()
    if parent is None or command != engine_command() or kwargs or env is None or not parent.ready():
        return await _prefect_run_process(
            command,
            stream_output=stream_output,
            task_status=task_status,
            task_status_handler=task_status_handler,
            env=env,
            cwd=cwd,
            **kwargs,
        )
    # The child writes to the output the parent inherited from `serve`: Prefect's streaming.
    flow_run_id = env[RUN_ID_VARIABLE]
    process = parent.fork(env, None if cwd is None else str(cwd), flow_run_id)
    logger.info("flow run %s started warm, as process %s", flow_run_id, process.pid)
    try:
        forked = _ForkedProcess(process)
        if task_status is not None:
            task_status.started(task_status_handler(forked) if task_status_handler else forked.pid)
        await anyio.wait_readable(process.sentinel)
        process.join()
    finally:
        parent.ended(process)
    return forked


def install() -> None:
    """Have Prefect's engine starter call `_run_process` (its documented override point)."""
    _starter_engine.run_process = _run_process  # type: ignore[attr-defined]


@contextmanager
def starting_with(parent: WarmParent | None) -> Iterator[None]:
    """Within: an engine start in this task (and the tasks it starts) forks from `parent`."""
    token = _starting_with.set(parent)
    try:
        yield
    finally:
        _starting_with.reset(token)


class _WarmStart:
    """Prefect's engine starter, run with the warm parent in reach of `_run_process`."""

    def __init__(self, starter: EngineCommandStarter, parent: WarmParent) -> None:
        self._starter = starter
        self._parent = parent

    async def start(
        self,
        flow_run: FlowRun,
        task_status: anyio.abc.TaskStatus[ProcessHandle] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        with starting_with(self._parent):
            await self._starter.start(flow_run, task_status=task_status)


class WarmRunner(PromptRunner):
    """Prefect's runner whose engine starts are forks of `parent` (other starters unchanged)."""

    def __init__(self, *args: Any, parent: WarmParent, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._warm_parent = parent
        install()

    async def __aenter__(self) -> WarmRunner:
        await super().__aenter__()
        poller = self._scheduled_run_poller
        resolve_cold = poller._resolve_starter
        parent = self._warm_parent

        def resolve(flow_run: FlowRun) -> ProcessStarter:
            starter = resolve_cold(flow_run)
            if type(starter) is EngineCommandStarter:
                return _WarmStart(starter, parent)
            return starter

        poller._resolve_starter = resolve
        return self


def serve_runs(
    deployments: Sequence[RunnerDeployment], *, limit: int, parent: WarmParent | None
) -> None:
    """Serve `deployments` as `prefect.serve` does, forking runs from `parent` if one is given."""
    runner = (
        WarmRunner(pause_on_shutdown=True, limit=limit, parent=parent)
        if parent is not None
        else PromptRunner(pause_on_shutdown=True, limit=limit)
    )
    for deployment in deployments:
        runner.add_deployment(deployment)
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal) as stop:
        logger.info("received %s, shutting down", type(stop).__name__)
