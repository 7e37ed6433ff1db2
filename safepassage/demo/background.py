"""Run `safepassage serve` as a child process: for the demo, the tests and the benchmarks."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from safepassage.deployments.process_group import stop_group
from safepassage.models.errors import ConfigurationError
from safepassage.models.private_files import open_private
from safepassage.orchestration.catalog import RETURN_CASE
from safepassage.orchestration.connection import healthy

READY_TIMEOUT_SECONDS = 180.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Return whether nothing listens on 127.0.0.1:`port`."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def deployment_ready(api_url: str, since: dt.datetime) -> bool:
    """Return whether a runner has polled for the return-case deployment's runs since `since`.

    Registration alone is not enough: a database kept from an earlier `serve` already holds
    the deployment, and a new `serve` whose server answers has not necessarily started its
    runner (nor recorded its server) yet.
    """
    try:
        url = f"{api_url}/deployments/name/{RETURN_CASE.full_name}"
        with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - our own server
            polled = json.loads(r.read()).get("last_polled")
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return polled is not None and dt.datetime.fromisoformat(polled) >= since


@dataclass
class BackgroundServe:
    """A `safepassage serve` child process and the API it serves."""

    process: subprocess.Popen[bytes]
    api_url: str
    log_path: Path
    env: dict[str, str]
    #: Where people sign in: the gateway `serve` starts in front of the server.
    gateway_url: str = ""

    @classmethod
    def start(
        cls,
        *,
        port: int,
        log_path: Path,
        env: dict[str, str] | None = None,
        limit: int = 4,
        gateway_port: int | None = None,
    ) -> BackgroundServe:
        """Start serving (the Prefect server on `port`, the gateway on `gateway_port`, by
        default a free one) and wait until runs can be created."""
        started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)  # clocks of one machine
        gateway_port = gateway_port or free_port()
        command = [sys.executable, "-m", "safepassage.cli.app", "serve", "--port", str(port)]
        command += ["--gateway-port", str(gateway_port)]
        with open_private(log_path, "ab") as log:  # the server's log: owner-only
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [*command, "--limit", str(limit)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        serving = cls(
            process, f"http://127.0.0.1:{port}/api", log_path, {**os.environ, **(env or {})},
            gateway_url=f"http://127.0.0.1:{gateway_port}",
        )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ConfigurationError(f"`safepassage serve` exited at start; see {log_path}")
            if healthy(serving.api_url, timeout=1) and deployment_ready(serving.api_url, started):
                return serving
            time.sleep(0.5)
        serving.stop()
        raise ConfigurationError(f"`safepassage serve` was not ready in time; see {log_path}")

    def stop(self, *, timeout: float = 60.0) -> None:
        """Stop serving as Ctrl-C would (it stops its server too); kill it if it hangs.

        A `serve` killed takes its server and flow-run processes with it (they are tethered
        to it: orchestration/tether.py).
        """
        stop_group(self.process, timeout=timeout)
