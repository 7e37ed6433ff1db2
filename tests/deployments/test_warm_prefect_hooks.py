"""Guard: the private Prefect and standard-library hooks the warm starter relies on are where
it expects them (deployments/warm). Prefect is pinned to 3.9.*; a release that moves one of
them fails here, loudly, before any run would start wrong."""

from __future__ import annotations

import inspect
import multiprocessing.forkserver
import sys
from typing import Any
from uuid import uuid4

import anyio
import prefect
import pytest
from prefect import flow_engine
from prefect.client.schemas.objects import FlowRun
from prefect.logging import configuration
from prefect.runner import Runner, _starter_engine
from prefect.runner._process_manager import ProcessHandle
from prefect.runner._scheduled_run_poller import ScheduledRunPoller
from prefect.runner._starter_engine import EngineCommandStarter
from prefect.utilities.processutils import get_sys_executable
from prefect.workers.base import BaseWorker
from prefect.workers.process import ProcessJobConfiguration, ProcessWorker


def test_prefect_is_the_minor_release_the_hooks_were_read_from() -> None:
    assert prefect.__version__.startswith("3.9."), prefect.__version__


def test_the_runner_resolves_a_starter_per_run_through_its_poller() -> None:
    assert "self._scheduled_run_poller = ScheduledRunPoller(" in inspect.getsource(
        Runner.__aenter__
    )
    assert "self._resolve_starter = resolve_starter" in inspect.getsource(
        ScheduledRunPoller.__init__
    )
    assert "self._resolve_starter(flow_run)" in inspect.getsource(ScheduledRunPoller)


def test_the_engine_starter_starts_the_engine_through_its_modules_run_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []

    async def run_process(command: list[str], **kwargs: Any) -> None:
        calls.append({"command": command, **kwargs})

    monkeypatch.setattr(_starter_engine, "run_process", run_process)
    flow_run = FlowRun(id=uuid4(), flow_id=uuid4(), name="guard")
    anyio.run(EngineCommandStarter(heartbeat_seconds=30).start, flow_run)

    (call,) = calls
    assert call["command"] == [get_sys_executable(), "-m", "prefect.engine"]
    assert set(call) == {
        "command",
        "stream_output",
        "task_status",
        "task_status_handler",
        "env",
        "cwd",
    }
    env = call["env"]
    assert env["PREFECT__FLOW_RUN_ID"] == str(flow_run.id)
    assert env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"
    assert all(isinstance(value, str) for value in env.values())


def test_a_process_handle_reads_a_pid_and_a_returncode() -> None:
    class Ended:
        pid = 1234
        returncode = 255

    handle = ProcessHandle(Ended())  # type: ignore[arg-type]
    assert (handle.pid, handle.returncode) == (1234, 255)


def test_the_forkserver_has_the_preload_and_stop_the_warm_parent_uses() -> None:
    server = multiprocessing.forkserver._forkserver
    assert callable(server.set_forkserver_preload)
    assert callable(getattr(server, "_stop", None))
    assert hasattr(server, "_forkserver_pid")
    assert hasattr(server, "_forkserver_alive_fd")  # a child lets go of it (child.py)
    assert sys.platform.startswith("linux")  # fork, PR_SET_PDEATHSIG, /proc/.../smaps_rollup


def test_the_process_worker_starts_a_job_with_a_command_through_the_engine_starter() -> None:
    # The warm worker sets the job's command to the engine's (deployments/warm/worker.py), so
    # that the process worker starts it with EngineCommandStarter, whose `run_process` forks.
    run = inspect.getsource(ProcessWorker.run)
    assert "if configuration._command_configured:" in run
    assert "starter = EngineCommandStarter(\n" in run
    assert "command=configuration.command," in run
    assert "_command_configured" in ProcessJobConfiguration.__private_attributes__


def test_the_polls_an_event_wakes_are_where_prompt_start_calls_them() -> None:
    # deployments/prompt_start.py calls the runner's and the worker's own poll once they are
    # ready: a runner once `started` (its poller is made in __aenter__), a worker once its runs'
    # task group exists and it has synced with its work pool.
    aenter = inspect.getsource(Runner.__aenter__)
    assert aenter.index("self._scheduled_run_poller = ScheduledRunPoller(") < aenter.index(
        "self.started = True"
    )
    assert inspect.iscoroutinefunction(ScheduledRunPoller._get_and_submit_flow_runs)
    assert "if self.stopping:" in inspect.getsource(ScheduledRunPoller._get_and_submit_flow_runs)
    worker = inspect.getsource(BaseWorker)
    assert "self._runs_task_group: Optional[anyio.abc.TaskGroup] = None" in worker
    assert "self._has_successfully_synced = False" in worker
    assert inspect.iscoroutinefunction(BaseWorker.get_and_submit_flow_runs)
    start = inspect.signature(BaseWorker.start).parameters
    assert list(start) == ["self", "run_once", "with_healthcheck", "printer"]


def test_the_engines_heartbeat_context_can_be_left_unjoined() -> None:
    # child.py has the sync engine leave its heartbeat thread unjoined, as Prefect's async
    # engine does: the engine looks `_send_heartbeats` up in its module at each run.
    parameters = inspect.signature(flow_engine._send_heartbeats).parameters
    assert list(parameters) == ["engine", "join_on_exit"]
    assert "with _send_heartbeats(self):" in inspect.getsource(flow_engine.FlowRunEngine)


def test_setup_logging_reads_its_configuration_through_the_module_attribute() -> None:
    # logging_memo.install() replaces `load_logging_config` in Prefect's module.
    assert "config = load_logging_config(" in inspect.getsource(configuration.setup_logging)
