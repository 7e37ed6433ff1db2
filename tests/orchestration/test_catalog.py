"""The one table of deployments is what the flows, `serve`, `maintain` and prefect.yaml follow."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from safepassage.deployments.serve import deployments
from safepassage.orchestration import catalog
from safepassage.orchestration.catalog import DeploymentSpec

PREFECT_YAML = Path(__file__).resolve().parents[2] / "safepassage" / "deployments" / "prefect.yaml"


def _yaml_deployments() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(PREFECT_YAML.read_text())
    return {entry["name"]: entry for entry in document["deployments"]}


def test_prefect_yaml_lists_exactly_the_catalogs_deployments() -> None:
    assert list(_yaml_deployments()) == [spec.name for spec in catalog.DEPLOYMENTS]


@pytest.mark.parametrize("spec", catalog.DEPLOYMENTS, ids=lambda spec: spec.name)
def test_prefect_yaml_says_what_the_catalog_says(spec: DeploymentSpec) -> None:
    entry = _yaml_deployments()[spec.name]
    schedules = [
        {"cron": spec.schedule.cron, "timezone": spec.schedule.timezone}
    ] if spec.schedule else []  # fmt: skip

    assert entry["entrypoint"] == spec.file_entrypoint
    assert entry["description"] == spec.description
    assert entry["tags"] == list(spec.tags)
    assert entry.get("schedules", []) == schedules
    assert entry["work_pool"]["name"] == "safepassage"
    assert Path(PREFECT_YAML.parents[2], spec.file_entrypoint.partition(":")[0]).is_file()


@pytest.mark.parametrize("spec", catalog.DEPLOYMENTS, ids=lambda spec: spec.name)
def test_each_flow_is_named_as_the_catalog_names_it(spec: DeploymentSpec) -> None:
    flow = getattr(importlib.import_module(spec.module), spec.function)
    assert flow.name == spec.flow_name


def test_serve_builds_the_catalogs_deployments_with_their_schedules() -> None:
    served = {deployment.name: deployment for deployment in deployments()}

    assert list(served) == [spec.name for spec in catalog.DEPLOYMENTS]
    for spec in catalog.DEPLOYMENTS:
        deployment = served[spec.name]
        assert deployment.flow_name == spec.flow_name
        assert deployment.description == spec.description
        assert deployment.tags == list(spec.tags)
        crons = [(s.schedule.cron, s.schedule.timezone) for s in deployment.schedules or []]  # type: ignore[union-attr]
        assert crons == ([(spec.schedule.cron, spec.schedule.timezone)] if spec.schedule else [])
