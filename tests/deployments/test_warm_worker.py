"""The warm worker (deployments/warm/worker.py): Prefect finds it as it finds an integration's
worker type, it takes the process worker's job template, and it starts the engine through the
warm runner's fork unless it falls back. Its runs, end to end, are in tests/scaleout."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import anyio
import pytest
from prefect.client.schemas.objects import FlowRun
from prefect.utilities.processutils import command_from_string, get_sys_executable
from prefect.workers.base import BaseWorker
from prefect.workers.process import ProcessJobConfiguration, ProcessWorker

from safepassage.deployments.warm import runner
from safepassage.deployments.warm.parent import WarmParent
from safepassage.deployments.warm.worker import WORKER_TYPE, WarmProcessWorker
from safepassage.models.settings import get_settings


def test_prefect_finds_the_warm_worker_type_through_the_collections_entry_point() -> None:
    assert BaseWorker.get_worker_class_from_type(WORKER_TYPE) is WarmProcessWorker


def test_a_warm_pool_takes_the_process_workers_job_template() -> None:
    assert (
        WarmProcessWorker.get_default_base_job_template()
        == ProcessWorker.get_default_base_job_template()
    )


class _Started:
    """What ProcessWorker.run was given: the job's command, and the parent runs would fork from."""

    def __init__(self) -> None:
        self.command: str | None = None
        self.configured: bool | None = None
        self.parent: WarmParent | None = None

    async def __call__(self, flow_run: FlowRun, configuration: Any, *rest: Any) -> str:
        self.command = configuration.command
        self.configured = configuration._command_configured
        self.parent = runner._starting_with.get()
        return "done"


def _run(warm: WarmProcessWorker, command: str | None = None) -> None:
    configuration = ProcessJobConfiguration(command=command)
    configuration._command_configured = command is not None
    flow_run = FlowRun(id=uuid4(), flow_id=uuid4(), name="a-run")
    assert anyio.run(warm.run, flow_run, configuration) == "done"  # type: ignore[comparison-overlap]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> _Started:
    seen = _Started()
    monkeypatch.setattr(ProcessWorker, "run", seen)  # an instance: called without `self`
    return seen


def test_a_run_starts_the_engine_as_a_fork_of_the_workers_parent(started: _Started) -> None:
    warm = WarmProcessWorker(work_pool_name="safepassage")
    parent = WarmParent()
    warm._warm_parent = parent
    _run(warm)
    assert started.command is not None
    assert command_from_string(started.command) == [get_sys_executable(), "-m", "prefect.engine"]
    assert started.configured is True
    assert started.parent is parent
    assert runner._starting_with.get() is None  # only within the run


def test_without_a_parent_the_worker_is_prefects_process_worker(started: _Started) -> None:
    warm = WarmProcessWorker(work_pool_name="safepassage")  # SAFEPASSAGE_WARM_PROCESSES=false
    _run(warm)
    assert (started.command, started.configured, started.parent) == (None, False, None)


def test_a_job_whose_command_is_set_runs_that_command_cold(started: _Started) -> None:
    warm = WarmProcessWorker(work_pool_name="safepassage")
    warm._warm_parent = WarmParent()
    _run(warm, command="python -m my.launcher")
    assert (started.command, started.parent) == ("python -m my.launcher", None)


def test_the_setting_off_leaves_the_worker_cold(monkeypatch: pytest.MonkeyPatch) -> None:
    async def set_up(_: Any) -> None:
        return None

    monkeypatch.setattr(ProcessWorker, "setup", set_up)
    monkeypatch.setenv("SAFEPASSAGE_WARM_PROCESSES", "false")
    get_settings.cache_clear()
    warm = WarmProcessWorker(work_pool_name="safepassage")
    try:
        anyio.run(warm.setup)
    finally:
        get_settings.cache_clear()
    assert warm._warm_parent is None
