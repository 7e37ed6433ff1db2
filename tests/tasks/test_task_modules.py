"""tasks/ holds the stage tasks and nothing else, each named after its function."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from prefect import Task

import safepassage.tasks

MODULES = [info.name for info in pkgutil.iter_modules(safepassage.tasks.__path__)]


def _tasks_of(module_name: str) -> list[Task[..., object]]:
    module = importlib.import_module(f"safepassage.tasks.{module_name}")
    defined_here = (v for v in vars(module).values() if isinstance(v, Task))
    return [t for t in defined_here if t.fn.__module__ == module.__name__]


@pytest.mark.parametrize("module_name", MODULES)
def test_every_module_in_tasks_defines_a_task(module_name: str) -> None:
    assert _tasks_of(module_name), f"tasks/{module_name}.py defines no task: it belongs elsewhere"


@pytest.mark.parametrize("module_name", MODULES)
def test_every_task_is_named_after_its_function(module_name: str) -> None:
    for task in _tasks_of(module_name):
        assert task.name == task.fn.__name__
