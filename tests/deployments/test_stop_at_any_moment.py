"""A stop at any moment leaves nothing running (issue 19).

Real `safepassage serve` processes on fresh homes, stopped with SIGTERM, SIGINT or SIGHUP while
the Prefect server starts, right after it answers (the gateway, the deployments' registration),
and once serving; one killed outright with SIGKILL. Each time, within 10 seconds, no process of
that home is left (read from /proc) and both ports are free. And a `serve` started while an
orphaned server of its home holds the port refuses to start, naming it, and leaves it alone.
About 3 minutes: each start takes 5 to 25 s on 2 shared cores.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from safepassage.demo.background import deployment_ready, free_port, port_is_free
from safepassage.orchestration.connection import healthy

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")

#: What the issue asks: within this, nothing of the home runs and the ports are free.
LEFT_NOTHING_WITHIN = 10.0
START_TIMEOUT = 180.0


def _environment(home: Path) -> dict[str, str]:
    # The operator's situation: no PREFECT_API_URL, so `serve` starts its own server.
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SAFEPASSAGE_", "PREFECT_"))
    }
    return {
        **inherited,
        "SAFEPASSAGE_HOME": str(home),
        "SAFEPASSAGE_MASTER_KEY": base64.urlsafe_b64encode(b"s" * 32).decode(),
    }


def processes_of(home: Path, port: int) -> list[str]:
    """Return the processes (pid and command) whose environment names `home` or whose
    command line names the Prefect `port`: `serve`, its server, its flow-run processes."""
    needle, port_arg = f"={home}".encode(), f"\0{port}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == "Z":  # a zombie holds nothing; its parent (a test's Popen) reaps it
            continue
        if needle in environ or port_arg in cmdline + b"\0":
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name}: {command}")
    return found


@dataclass
class Serving:
    """One `safepassage serve` on a fresh home, as an operator starts it."""

    home: Path
    process: subprocess.Popen[bytes]
    port: int
    gateway_port: int
    started: dt.datetime

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def log(self) -> str:
        return (self.home.parent / "serve.log").read_text(errors="replace")

    def wait_for(self, moment: str) -> None:
        """Wait until `serve` reaches `moment` of its start-up (see MOMENTS)."""
        reached = MOMENTS[moment]
        deadline = time.monotonic() + START_TIMEOUT
        while not reached(self):
            assert self.process.poll() is None, f"`serve` exited before {moment}:\n{self.log}"
            assert time.monotonic() < deadline, f"`serve` never reached {moment}:\n{self.log}"
            time.sleep(0.1)

    def left_behind(self) -> list[str]:
        """Return what is left of this `serve` once its stop had 10 s: processes, ports."""
        deadline = time.monotonic() + LEFT_NOTHING_WITHIN
        while True:
            self.process.poll()  # reap it: a zombie is gone for the system, not for /proc
            left = processes_of(self.home, self.port)
            left += [
                f"port {p} taken" for p in (self.port, self.gateway_port) if not port_is_free(p)
            ]
            if not left or time.monotonic() > deadline:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(1)  # a zombie (not listed) has exited, not been reaped
                return left
            time.sleep(0.1)


def _server_starting(serving: Serving) -> bool:
    """The Prefect server process runs, and does not answer yet."""
    servers = [p for p in processes_of(serving.home, serving.port) if "server start" in p]
    return bool(servers) and not healthy(serving.api_url, timeout=0.5)


MOMENTS: dict[str, Callable[[Serving], bool]] = {
    "while its server starts": _server_starting,
    # Then it starts the gateway, imports the flows and registers the deployments.
    "once its server answers": lambda serving: healthy(serving.api_url, timeout=0.5),
    "once serving": lambda serving: deployment_ready(serving.api_url, serving.started),
}


@pytest.fixture
def start_serve(tmp_path: Path) -> Iterator[Callable[..., Serving]]:
    """Start `safepassage serve` on a fresh home; kill whatever of it a failed test left."""
    started: list[Serving] = []

    def start(*, port: int | None = None) -> Serving:
        home, port, gateway_port = tmp_path / "home", port or free_port(), free_port()
        command = [sys.executable, "-m", "safepassage.cli.app", "serve", "--port", str(port)]
        command += ["--gateway-port", str(gateway_port), "--limit", "2"]
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)  # clocks of one machine
        with (tmp_path / "serve.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_environment(home),
                start_new_session=True,  # a signal reaches `serve` alone, as `kill` sends it
                # As from a terminal: a test run started in the background (`nohup`, `&`)
                # would pass on SIGHUP and SIGINT ignored, which `serve` rightly respects.
                preexec_fn=_stop_signals_as_from_a_terminal,  # noqa: PLW1509 - it sets dispositions only
            )
        started.append(Serving(home, process, port, gateway_port, since))
        return started[-1]

    yield start
    for serving in started:
        for line in processes_of(serving.home, serving.port):
            _kill(int(line.split(":", 1)[0]))
        _kill(serving.process.pid)
        serving.process.wait(10)


def _stop_signals_as_from_a_terminal() -> None:
    for number in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


@pytest.mark.parametrize(
    ("moment", "stop"),
    [
        ("while its server starts", signal.SIGINT),
        ("while its server starts", signal.SIGHUP),
        # The case: SIGTERM right after the server answered orphaned it.
        ("once its server answers", signal.SIGTERM),
        ("once its server answers", signal.SIGHUP),
        # Once serving each signal takes another path: Prefect's runner handles SIGTERM
        # itself, asyncio SIGINT, and SIGHUP is handed to asyncio's SIGINT handler.
        ("once serving", signal.SIGTERM),
        ("once serving", signal.SIGINT),
        ("once serving", signal.SIGHUP),
    ],
    ids=lambda value: value.name if isinstance(value, signal.Signals) else value,
)
def test_a_stop_signal_at_any_moment_leaves_nothing_running(
    start_serve: Callable[..., Serving], moment: str, stop: signal.Signals
) -> None:
    serving = start_serve()
    serving.wait_for(moment)

    serving.process.send_signal(stop)

    assert serving.left_behind() == [], serving.log
    assert serving.process.returncode == 0, serving.log
    assert "stopped; nothing is lost" in serving.log


def test_serve_killed_outright_takes_its_server_with_it(
    start_serve: Callable[..., Serving],
) -> None:
    serving = start_serve()
    serving.wait_for("once serving")

    serving.process.kill()  # as the out-of-memory killer would: no handler runs

    assert serving.left_behind() == [], serving.log
    # The next `serve` of this home starts at once on the same port: nothing holds it.
    again = start_serve(port=serving.port)
    again.wait_for("once its server answers")


def _orphan_server(home: Path, port: int, log: Path) -> int:
    """Start a Prefect server of `home` as a killed `serve` of an earlier version left it:
    in a session of its own, its parent gone (re-parented to init), holding `port`."""
    launcher = (
        "import subprocess, sys\n"
        "server = subprocess.Popen(sys.argv[1:], start_new_session=True,\n"
        f"    stdout=open({str(log)!r}, 'ab'), stderr=subprocess.STDOUT)\n"
        "print(server.pid)\n"
    )
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    env = {
        **_environment(home),
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
    }
    env.pop("SAFEPASSAGE_MASTER_KEY")
    for folder in (home, home / "prefect"):  # `serve` made them, then was killed
        folder.mkdir(mode=0o700)
    done = subprocess.run(
        [sys.executable, "-c", launcher, *command, "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(done.stdout.strip())


def test_serve_refuses_an_orphaned_server_of_its_home_and_leaves_it_alone(
    tmp_path: Path,
) -> None:
    home, port = tmp_path / "home", free_port()
    orphan = _orphan_server(home, port, tmp_path / "orphan.log")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not healthy(f"http://127.0.0.1:{port}/api", timeout=0.5):
            log = tmp_path / "orphan.log"
            assert Path(f"/proc/{orphan}").exists(), log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)

        command = [sys.executable, "-m", "safepassage.cli.app", "serve", "--port", str(port)]
        refused = subprocess.run(
            [*command, "--gateway-port", str(free_port())],
            env=_environment(home),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

        assert refused.returncode == 2, refused.stderr
        assert f"(pid {orphan})" in refused.stderr
        assert f"kill {orphan}" in refused.stderr
        # Neither adopted (stopped on the way out) nor doubled: the orphan alone runs.
        assert [int(p.split(":")[0]) for p in processes_of(home, port)] == [orphan]
    finally:
        _kill(orphan)
