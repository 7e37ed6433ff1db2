"""Run the embedded Prefect server as a child process, and stop it cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from safepassage.deployments.process_group import stop_group
from safepassage.deployments.stop_signals import stopping
from safepassage.models.errors import ConfigurationError
from safepassage.orchestration.connection import ServerAddress, healthy
from safepassage.orchestration.tether import tethered

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
        """Start the server on host:port and wait until its API answers.

        The server dies with this process, even one killed outright (orchestration/tether.py):
        call this from the main thread, whose end the kernel takes for the parent's.
        """
        api_url = f"http://{host}:{port}/api"
        if healthy(api_url, timeout=1):
            raise ConfigurationError(
                f"something already answers at {api_url}: stop it, or choose another --port"
            )
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # The server tells the UI where its API is from PREFECT_API_URL: without it, :4200.
        env = {**server_environment(os.environ), "PREFECT_API_URL": api_url,
               "PREFECT_UI_API_URL": api_url}  # fmt: skip
        command = [sys.executable, "-m", "prefect", "server", "start"]
        command += ["--host", host, "--port", str(port)]
        with log_path.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                tethered(command),
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
        except BaseException:  # a stop signal while waiting: the server has a session of its own
            with stopping():
                server.stop()
            raise
        server.stop()
        raise ConfigurationError(
            f"the Prefect server did not answer within a while; see {log_path}"
        )

    def stop(self, *, timeout: float = 20.0) -> None:
        """Stop the server with SIGINT (as Ctrl-C would), then SIGKILL if it hangs."""
        stop_group(self.process, timeout=timeout)


@dataclass(frozen=True)
class HomeServer:
    """A running Prefect server whose database is in a given PREFECT_HOME."""

    pid: int
    port: str | None
    #: The `safepassage serve` it belongs to, if its parent is one (else it is an orphan).
    serve_pid: int | None

    def refusal(self) -> str:
        """Say why no second server starts for this home, and what to do."""
        at = f" on port {self.port}" if self.port else ""
        if self.serve_pid is not None:
            return (
                f"`safepassage serve` (pid {self.serve_pid}) already runs for this "
                f"SAFEPASSAGE_HOME, with its Prefect server (pid {self.pid}){at}: stop it first "
                f"(Ctrl-C in its terminal, or `kill {self.serve_pid}`)"
            )
        return (
            f"a Prefect server of this SAFEPASSAGE_HOME (pid {self.pid}){at} outlived the "
            "`safepassage serve` that started it; it holds the port and the Prefect database, "
            f"and nothing stops it: stop it with `kill {self.pid}` (`kill -9 {self.pid}` if it "
            "is still there after 20 s), then start `safepassage serve` again"
        )


def servers_of_home(prefect_home: Path, *, proc: Path = Path("/proc")) -> list[HomeServer]:
    """Return the Prefect servers running with `prefect_home` as their PREFECT_HOME.

    Read from /proc (this user's processes only). A server of the same home, orphaned or
    another `serve`'s, holds the database a new server would open: SQLite takes no second
    server, and adopting one we did not start would leave nobody to stop it.
    """
    wanted = f"PREFECT_HOME={os.path.realpath(prefect_home)}".encode()
    found = []
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # gone meanwhile, or another user's
            continue
        if not _is_server_start(argv) or not _has_home(environ, wanted):
            continue
        port = argv[argv.index(b"--port") + 1].decode() if b"--port" in argv[:-1] else None
        serve_pid = parent if _is_serve(proc / str(parent)) else None
        found.append(HomeServer(int(entry.name), port, serve_pid))
    return found


def _is_server_start(argv: list[bytes]) -> bool:
    return any(
        argv[i].endswith(b"prefect") and argv[i + 1 : i + 3] == [b"server", b"start"]
        for i in range(len(argv) - 2)
    )


def _has_home(environ: list[bytes], wanted: bytes) -> bool:
    for variable in environ:
        if variable.startswith(b"PREFECT_HOME="):
            value = variable.removeprefix(b"PREFECT_HOME=").decode(errors="replace")
            return f"PREFECT_HOME={os.path.realpath(value)}".encode() == wanted
    return False


def _is_serve(process: Path) -> bool:
    try:
        argv = (process / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in argv and any(b"safepassage" in part for part in argv)
