"""The scale-out office for the fault tests: started once per module, with real receivers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import pointed_at
from tests.receivers import HttpReceiver
from tests.scaleout.office import WARM, Office, office

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
        # SAFEPASSAGE_TEST_WORKER_TYPE=process runs the faults on Prefect's own process workers.
        worker_type = os.environ.get("SAFEPASSAGE_TEST_WORKER_TYPE", WARM)
        with office(
            root, workers=2, limit=4, notify_config=config, worker_type=worker_type
        ) as running:
            yield OfficeWorld(running, http, config)
    finally:
        http.stop()


@pytest.fixture
def at_office(office_world: OfficeWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[OfficeWorld]:
    """Point this test process at the office: its store, targets and Prefect API."""
    env = {
        name: value
        for name, value in office_world.office.env.items()
        if name.startswith(("SAFEPASSAGE_", "PREFECT_"))
    }
    with pointed_at(env, office_world.office.api_url, monkeypatch):
        yield office_world
