"""Every command finds the same Prefect server, whatever it imported first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from safepassage.models.errors import ConfigurationError
from safepassage.models.settings import Settings
from safepassage.orchestration.connection import (
    ServerAddress,
    apply_to_prefect,
    connect,
    record_server,
)

#: Imports prefect first, then connects: the client must still talk to the recorded server.
PROBE = """
import prefect.settings
from safepassage.models.settings import get_settings
from safepassage.orchestration.connection import connect

before = str(prefect.settings.get_current_settings().api.url)
address = connect(get_settings())
after = str(prefect.settings.get_current_settings().api.url)
print(before, after, address.api_url)
"""


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def restored_environment() -> Iterator[None]:
    """Undo what `connect` puts into this process's environment (it is meant to stay there)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    apply_to_prefect()


@pytest.fixture
def healthy_api() -> Iterator[str]:
    """A local HTTP server that answers Prefect's health check, as a running server would."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()


def test_a_command_that_imported_prefect_first_still_talks_to_the_recorded_server(
    home: Path, healthy_api: str
) -> None:
    record_server(Settings(), ServerAddress(api_url=healthy_api, ui_url=healthy_api[:-4]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}

    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert probe.returncode == 0, probe.stderr[-2000:]
    before, after, connected = probe.stdout.split()
    assert before != healthy_api  # prefect had read its settings before `connect` ran
    assert after == connected == healthy_api


@pytest.mark.usefixtures("restored_environment")
def test_no_recorded_server_says_to_start_serve(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with pytest.raises(ConfigurationError, match="start `safepassage serve`"):
        connect(Settings())


@pytest.mark.usefixtures("restored_environment")
def test_a_recorded_server_that_does_not_answer_is_named(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    home.mkdir(parents=True)
    (home / "server.json").write_text(json.dumps({"api_url": "http://127.0.0.1:9/api"}))
    with pytest.raises(ConfigurationError, match="does not answer"):
        connect(Settings())
