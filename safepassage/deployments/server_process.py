"""Run the embedded Prefect server as a child process, and stop it cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from safepassage.deployments.process_group import stop_group
from safepassage.models.errors import ConfigurationError
from safepassage.orchestration.connection import ServerAddress, healthy

#: A fresh server creates its database first: about 10 s here, 5 s on an existing one.
START_TIMEOUT_SECONDS = 120.0


#: What the network-facing server may inherit: Prefect's own settings and what any Python
#: process needs to run. Never SafePassage's settings: the master key, the store's URL.
_INHERITED_PREFIXES = ("PREFECT_", "PYTHON", "LC_")
_INHERITED_NAMES = frozenset(
    {"PATH", "HOME", "LANG", "TZ", "TMPDIR", "VIRTUAL_ENV", "USER", "LOGNAME", "SSL_CERT_FILE",
     "SSL_CERT_DIR"}
)  # fmt: skip


def server_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the part of `environ` the Prefect server is started with."""
    return {
        name: value
        for name, value in environ.items()
        if name in _INHERITED_NAMES or name.startswith(_INHERITED_PREFIXES)
    }


@dataclass
class ServerProcess:
    """A `prefect server start` child whose output goes to a log file."""

    process: subprocess.Popen[bytes]
    address: ServerAddress
    log_path: Path

    @property
    def pid(self) -> int:
        """Return the server's pid (also its process group: it runs in its own session)."""
        return self.process.pid

    @classmethod
    def start(cls, *, host: str, port: int, log_path: Path) -> ServerProcess:
        """Start the server on host:port and wait until its API answers."""
        api_url = f"http://{host}:{port}/api"
        if healthy(api_url, timeout=1):
            raise ConfigurationError(
                f"something already answers at {api_url}: stop it, or choose another --port"
            )
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # The server tells the UI where its API is from PREFECT_API_URL: without it, :4200.
        env = {**server_environment(os.environ), "PREFECT_API_URL": api_url,
               "PREFECT_UI_API_URL": api_url}  # fmt: skip
        with log_path.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "server",
                    "start",
                    "--host",
                    host,
                    "--port",
                    str(port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        server = cls(
            process, ServerAddress(api_url=api_url, ui_url=f"http://{host}:{port}"), log_path
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        try:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise ConfigurationError(
                        f"the Prefect server exited at start (code {process.returncode}); "
                        f"see {log_path}. Is port {port} free?"
                    )
                if healthy(api_url, timeout=1):
                    return server
                time.sleep(0.25)
        except BaseException:  # Ctrl-C while waiting: the server has a session of its own
            server.stop()
            raise
        server.stop()
        raise ConfigurationError(
            f"the Prefect server did not answer within a while; see {log_path}"
        )

    def stop(self, *, timeout: float = 20.0) -> None:
        """Stop the server with SIGINT (as Ctrl-C would), then SIGKILL if it hangs."""
        stop_group(self.process, timeout=timeout)


@dataclass
class AdoptedServer:
    """A server an earlier `serve` of this SAFEPASSAGE_HOME started and did not stop (it died).

    A killed `serve` leaves its server running (the server has its own session, so that Ctrl-C
    reaches `serve` first and the server is stopped after the runner); the next `serve` takes
    it over rather than fail on a busy port, and stops it on its own way out.
    """

    address: ServerAddress
    pid: int | None

    def stop(self, *, timeout: float = 20.0) -> None:
        """Stop the adopted server as `ServerProcess.stop` would."""
        if self.pid is None or not _alive(self.pid):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(self.pid):
            time.sleep(0.2)
        if _alive(self.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists": reap it if it is one.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True
