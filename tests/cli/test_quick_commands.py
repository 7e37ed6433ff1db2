"""The coordinator's everyday waits stay short: what `--help`, `cases`, `case` and `status` import.

Importing prefect takes seconds (docs/engineering.md): these commands must not pay for it.
`status` asks the Prefect server over its REST API instead; here a small local server answers
as Prefect's does, and records what it was asked. Timings are in benchmarks/cli_latency.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from safepassage.cli.app import COMMAND_MODULES, app_for, register, whole_app
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from tests.cli.helpers import COMMAND, Result
from tests.stored import stored_case

#: What none of these commands may import: Prefect (seconds), Apprise, the web stack, charts.
NEVER = {"prefect", "apprise", "httpx", "uvicorn", "starlette", "fastapi", "matplotlib"}


def imported_by(*args: str, env: dict[str, str] | None = None) -> tuple[Result, set[str]]:
    """Run `safepassage ARGS` as installed; return its result and the packages it imported."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", COMMAND, *args],
        input="",
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )
    imported, stderr = set(), []
    for line in completed.stderr.splitlines():
        if line.startswith("import time:"):
            name = line.rsplit("|", 1)[1].strip()
            imported.add(name.split(".")[0])
        else:
            stderr.append(line)
    result = Result(completed.returncode, completed.stdout, "\n".join(stderr))
    return result, imported


def test_help_imports_neither_prefect_nor_the_store(home: Path) -> None:
    result, imported = imported_by("--help")
    assert result.code == 0, result.stderr
    assert "status" in result.stdout
    assert imported.isdisjoint(NEVER | {"sqlalchemy"}), imported & (NEVER | {"sqlalchemy"})


def test_the_case_list_and_a_case_read_the_store_without_prefect(sqlite_store: Store) -> None:
    reference = stored_case(sqlite_store, "BG", now=dt.datetime.now(dt.UTC))
    listed, imported = imported_by("cases", "--json")
    assert listed.code == 0, listed.stderr
    assert [case["reference"] for case in listed.json()] == [reference]
    assert imported.isdisjoint(NEVER), imported & NEVER
    shown, imported = imported_by("case", reference, "--json")
    assert shown.code == 0, shown.stderr
    assert shown.json()["case"]["reference"] == reference
    assert imported.isdisjoint(NEVER), imported & NEVER


@dataclass
class FakePrefect:
    """A Prefect API on 127.0.0.1 that knows one suspended run, and what it was asked."""

    run_id: str
    pause_key: str
    form_stored: bool = True
    busy_answers: int = 0
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    url: str = ""

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if path == "/api/health":
            return 200, True
        if self.busy_answers > 0:
            self.busy_answers -= 1
            return 503, {"detail": "database is locked"}
        if method == "GET" and path == f"/api/flow_runs/{self.run_id}":
            details = {"pause_key": self.pause_key}
            state = {"type": "PAUSED", "name": "Suspended", "state_details": details}
            return 200, {"id": self.run_id, "state": state}
        if method == "POST" and path == f"/api/flow_runs/{self.run_id}/input/filter":
            wanted = f"suspended-{self.pause_key}-schema"
            found = self.form_stored and body.get("prefix") == wanted
            return 200, [{"key": wanted, "value": "{}"}] if found else []
        return 404, {"detail": "Not found"}


@pytest.fixture
def fake_prefect() -> Iterator[FakePrefect]:
    fake = FakePrefect(run_id=str(uuid.uuid4()), pause_key="ticket-2")

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            fake.requests.append((method, self.path, dict(self.headers), body))
            status, payload = fake.answer(method, self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 503:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/api"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


def _case_in_run(store: Store, run_id: str) -> str:
    reference = stored_case(store, "RO", now=dt.datetime.now(dt.UTC))
    with store.transaction() as session:
        get_case(session, reference).flow_run_id = run_id
    return reference


def test_status_asks_prefect_over_http_without_importing_it(
    sqlite_store: Store, fake_prefect: FakePrefect
) -> None:
    reference = _case_in_run(sqlite_store, fake_prefect.run_id)
    env = {"PREFECT_API_URL": fake_prefect.url, "PREFECT_API_AUTH_STRING": "office:s3cret"}
    result, imported = imported_by("status", reference, "--json", env=env)
    assert result.code == 0, result.stderr
    status = result.json()
    assert status["waiting_for"] == "ticket"
    assert status["attempt"] == 2
    assert status["status"] == "waiting"
    assert status["run_state"] == "Suspended"
    assert status["flow_run_id"] == fake_prefect.run_id
    assert status["ui_url"].endswith(f"/runs/flow-run/{fake_prefect.run_id}")
    assert imported.isdisjoint(NEVER), imported & NEVER
    # Prefect's client would have sent the auth string as basic auth, on every API request.
    token = base64.b64encode(b"office:s3cret").decode()
    asked = [(m, p, h) for m, p, h, _ in fake_prefect.requests if p != "/api/health"]
    assert [(m, p) for m, p, _ in asked] == [
        ("GET", f"/api/flow_runs/{fake_prefect.run_id}"),
        ("POST", f"/api/flow_runs/{fake_prefect.run_id}/input/filter"),
    ]
    assert all(h.get("Authorization") == f"Basic {token}" for _, _, h in asked)


def test_status_waits_out_a_busy_server_and_reports_waiting_only_once_the_form_is_stored(
    sqlite_store: Store, fake_prefect: FakePrefect
) -> None:
    reference = _case_in_run(sqlite_store, fake_prefect.run_id)
    fake_prefect.busy_answers, fake_prefect.form_stored = 2, False
    result, _ = imported_by("status", reference, env={"PREFECT_API_URL": fake_prefect.url})
    assert result.code == 0, result.stderr
    assert f"{reference}: stage identification, active; waiting for nothing" in result.stdout
    assert "run: Suspended" in result.stdout


def test_status_without_a_server_exits_2_saying_how_to_start_one(home: Path) -> None:
    result, imported = imported_by("status", "RO-7Q2K-4MXD")
    assert result.code == 2
    assert "start `safepassage serve`" in result.stderr
    assert "prefect" not in imported


@pytest.mark.parametrize(
    "words",
    [[info.name or ""] for info in whole_app().registered_commands]
    + [[group.name or "", "--help"] for group in whole_app().registered_groups],
    ids=lambda words: words[0],
)
def test_a_command_run_by_name_parses_and_helps_as_in_the_whole_app(words: list[str]) -> None:
    runner = CliRunner()
    args = words if len(words) > 1 else [*words, "--help"]
    alone = app_for(args)
    assert len(alone.registered_commands + alone.registered_groups) == 1
    whole = runner.invoke(whole_app(), args, prog_name="safepassage")
    by_name = runner.invoke(alone, args, prog_name="safepassage")
    assert by_name.exit_code == whole.exit_code == 0
    assert by_name.output == whole.output


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_the_table_of_command_modules_names_what_each_module_registers(module: str) -> None:
    scratch = typer.Typer()
    register(scratch, module)
    names = [info.name for info in scratch.registered_commands + scratch.registered_groups]
    assert tuple(names) == COMMAND_MODULES[module]
