"""A scaled-out office on one machine: Prefect's server on PostgreSQL, a process work pool,
`prefect worker start` workers, `safepassage maintain`, and the case store on PostgreSQL.

Everything is started the way docs/operations.md tells an office to start it (the same commands and
settings), each in its own process group so that a test can kill a worker like a crash would.
Used by the scale-out fault tests and by benchmarks/workers_scaleout.py.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from safepassage.demo.background import free_port
from safepassage.deployments.process_group import stop_group
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
ADMIN_URL = os.environ.get(
    "SAFEPASSAGE_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
POOL = "safepassage"
#: The workers' type: SafePassage's warm worker (deployments/warm/worker.py), or Prefect's own
#: `process` worker that it falls back to.
WARM, PROCESS = "safepassage-warm", "process"


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_until_serving(server: subprocess.Popen[bytes], api_url: str, log: Path) -> None:
    """Wait up to 3 minutes for the server to answer; RuntimeError if it exits or never does."""
    failed = f"the Prefect server did not start; see {log}"

    def up() -> bool:
        if _healthy(api_url):
            return True
        if server.poll() is not None:
            raise RuntimeError(failed)
        return False

    try:
        eventually(up, timeout=180, interval=0.5, what="the Prefect server to answer")
    except AssertionError as slow:
        raise RuntimeError(failed) from slow


@contextmanager
def databases(*names: str) -> Iterator[dict[str, str]]:
    """Create throw-away PostgreSQL databases; yield their psycopg URLs by name; drop them."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    made = {name: f"{name}_{uuid.uuid4().hex[:8]}" for name in names}
    with admin.connect() as connection:
        for real in made.values():
            connection.execute(text(f'CREATE DATABASE "{real}"'))
    base = make_url(ADMIN_URL)
    try:
        yield {
            name: base.set(database=real).render_as_string(hide_password=False)
            for name, real in made.items()
        }
    finally:
        admin.dispose()  # its connections may predate a PostgreSQL restart (a fault test)
        with admin.connect() as connection:
            for real in made.values():
                connection.execute(text(f'DROP DATABASE IF EXISTS "{real}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Office:
    """The running office; `env` is what every office process (and a coordinator's CLI) uses."""

    root: Path
    env: dict[str, str]
    api_url: str
    server: subprocess.Popen[bytes]
    worker_type: str = WARM
    maintainer: subprocess.Popen[bytes] | None = None
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        """Start `command` in a process group of its own, logging to `name`.log.

        Its PostgreSQL connections (and those of the flow runs a worker starts) carry `name` as
        their application_name (libpq's PGAPPNAME), so pg_stat_activity tells whose they are.
        """
        log = (self.root / f"{name}.log").open("ab")
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**self.env, "PGAPPNAME": name},
            cwd=ROOT,
            start_new_session=True,
        )

    def run(self, *args: str) -> str:
        """Run a command with the office's settings; return its output or raise with it."""
        done = subprocess.run(
            list(args), env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=300,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{args} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start_worker(self, name: str, *, limit: int) -> None:
        """`prefect worker start` one worker of the pool."""
        command = [PYTHON, "-m", "prefect", "worker", "start", "--pool", POOL]
        self.workers[name] = self._spawn(
            name, [*command, "--name", name, "--limit", str(limit), "--type", self.worker_type]
        )

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker and everything it started, as a machine failure would."""
        process = self.workers.pop(name)
        with_children = _descendants(process.pid)
        for pid in [process.pid, *with_children]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        process.wait(timeout=30)

    def start_maintainer(self) -> None:
        self.maintainer = self._spawn("maintain", [PYTHON, "-m", "safepassage.cli.app", "maintain"])

    def stop(self) -> None:
        for process in [*self.workers.values(), self.maintainer, self.server]:
            if process is not None:
                with suppress(subprocess.TimeoutExpired):
                    stop_group(process, timeout=20)
        self.workers.clear()


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def office_environment(root: Path, urls: dict[str, str], port: int) -> dict[str, str]:
    """Return the settings of every office process, as docs/operations.md lists them."""
    prefect_db = make_url(urls["prefect"]).set(drivername="postgresql+asyncpg")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SAFEPASSAGE_", "PREFECT_"))},
        "SAFEPASSAGE_HOME": str(root / "home"),
        "SAFEPASSAGE_DATABASE_URL": urls["store"],
        "SAFEPASSAGE_MASTER_KEY": base64.urlsafe_b64encode(b"o" * 32).decode(),
        "SAFEPASSAGE_CHECKOUT": str(ROOT),
        "SAFEPASSAGE_ORPHAN_AFTER_SECONDS": "40",
        "SAFEPASSAGE_REAPER_INTERVAL_SECONDS": "5",
        "SAFEPASSAGE_NOTIFY_MIN_INTERVAL_SECONDS": "0",
        "SAFEPASSAGE_NOTIFY_RETRY_BASE_SECONDS": "1",
        "SAFEPASSAGE_NOTIFY_RETRY_MAX_SECONDS": "3",
        "SAFEPASSAGE_NOTIFY_MAX_ATTEMPTS": "100",
        "SAFEPASSAGE_NOTIFY_DRAIN_INTERVAL_SECONDS": "2",
        "SAFEPASSAGE_TASK_RETRY_DELAY_SECONDS": "3",
        "SAFEPASSAGE_TASK_RETRIES": "4",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_HOME": str(root / "prefect"),
        "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db.render_as_string(hide_password=False),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        # One folder every worker reads and writes: a resumed run may land on another worker.
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(root / "shared-results"),
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
    }


@contextmanager
def office(
    root: Path,
    *,
    workers: int = 2,
    limit: int = 4,
    notify_config: Path | None = None,
    worker_type: str = WARM,
) -> Iterator[Office]:
    """Start an office on fresh PostgreSQL databases; stop it and drop them afterwards.

    The work pool and its workers are of `worker_type`.
    """
    root.mkdir(parents=True, exist_ok=True)
    with databases("prefect", "store") as urls:
        port = free_port()
        env = office_environment(root, urls, port)
        if notify_config is not None:
            env["SAFEPASSAGE_NOTIFY_CONFIG"] = str(notify_config)
        log = (root / "server.log").open("ab")
        command = [PYTHON, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        server = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )  # fmt: skip
        running = Office(root, env, env["PREFECT_API_URL"], server, worker_type)
        try:
            _wait_until_serving(server, running.api_url, root / "server.log")
            running.run(
                PYTHON, "-m", "prefect", "work-pool", "create", POOL, "--type", worker_type
            )  # fmt: skip
            running.run(
                PYTHON, "-m", "prefect", "--no-prompt", "deploy",
                "--prefect-file", "safepassage/deployments/prefect.yaml", "--all",
            )  # fmt: skip
            for number in range(1, workers + 1):
                running.start_worker(f"worker-{number}", limit=limit)
            running.start_maintainer()
            yield running
        finally:
            running.stop()
