"""The scale-out office for the fault tests: started once per module, with real receivers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from safepassage.models.settings import get_settings
from safepassage.notifications import clear_targets_cache
from tests.receivers import HttpReceiver
from tests.scaleout.office import Office, office

TAGS = [
    *(f"mission-{c}" for c in ("bg", "cz", "ro", "hu")),
    *(f"embassy-{c}" for c in ("bg", "cz", "ro", "hu")),
    "coordinators",
]


@dataclass
class OfficeWorld:
    office: Office
    http: HttpReceiver
    config: Path


def write_targets(path: Path, port: int) -> Path:
    lines = ["version: 1", "urls:"]
    for tag in TAGS:
        lines += [f"  - json://127.0.0.1:{port}/{tag}:", f"      tag: {tag}"]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def office_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfficeWorld]:
    root = tmp_path_factory.mktemp("office")
    http = HttpReceiver().start()
    config = write_targets(root / "targets.yaml", http.port)
    try:
        with office(root, workers=2, limit=4, notify_config=config) as running:
            yield OfficeWorld(running, http, config)
    finally:
        http.stop()


@pytest.fixture
def at_office(office_world: OfficeWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[OfficeWorld]:
    """Point this test process at the office: its store, targets and Prefect API."""
    for name in list(os.environ):
        if name.startswith("SAFEPASSAGE_") and not name.startswith("SAFEPASSAGE_TEST_"):
            monkeypatch.delenv(name)
    for name, value in office_world.office.env.items():
        if name.startswith(("SAFEPASSAGE_", "PREFECT_")):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    clear_targets_cache()
    with temporary_settings(updates={PREFECT_API_URL: office_world.office.api_url}):
        yield office_world
    get_settings.cache_clear()
    clear_targets_cache()
