"""The first code a child of the warm parent runs: become what `python -m prefect.engine` is.

Prefect's own starter gives a new interpreter the run's environment and runs the engine's
`__main__` block. A forked child already has an interpreter, with the parent's environment and
the settings Prefect read from it at import, so it replaces the environment with the run's
(built by Prefect's starter, see runner.py), has Prefect read its settings and logging set-up
again, then runs the same `__main__` block, and Python's exit handlers at the end (a forked
child leaves through `os._exit`, which would skip them, and with them the flush of the logs
and events still queued for the server).

A child dies with the warm parent (SIGKILL, as every flow-run process dies with `serve`,
orchestration/tether.py): the runner sees the run's process end, reports it crashed, and the
reaper restarts the run (deployments/recovery.py); every stage is idempotent.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing.forkserver
import os
import runpy
import signal
import sys
from pathlib import Path
from typing import Any

import prefect.context
import prefect.flow_engine
import prefect.logging.configuration

from safepassage.models.settings import get_settings
from safepassage.orchestration.tether import TETHER_VARIABLE, die_with_parent

#: The warm parent's pid, set by preload.py in the parent (so inherited by every child).
PARENT_PID: int | None = None

#: What the parent imports besides the flows (preload.py): Prefect's engine, whose `__main__`
#: block the child runs, and the modules a run imports on its way, found by listing what a
#: child imported during a run.
WARM_MODULES: tuple[str, ...] = (
    "prefect.engine",
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.client.orchestration",
    "prefect.events.clients",
    "prefect.events.worker",
    "prefect.logging.handlers",
    "prefect.results",
    "prefect._internal.metrics",
    "prefect._internal.control_listener",
    "prefect.runner.storage",
    "prefect.input.run_input",
    "prefect.utilities.visualization",
    "anyio._backends._asyncio",
    "rich._emoji_codes",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "sqlalchemy.dialects.sqlite.aiosqlite",
    "sqlalchemy.dialects.postgresql.psycopg",
    "netrc",
    "encodings.unicode_escape",
)

#: The exit code of a probe child that found the parent's preload missing.
NOT_PRELOADED = 3
#: The variable in which Prefect's starter names the run a process runs.
RUN_ID_VARIABLE = "PREFECT__FLOW_RUN_ID"


def probe() -> None:
    """Exit 0 if this child inherited the preloaded modules, else NOT_PRELOADED.

    The forkserver swallows an ImportError in its preload, which would leave every child to
    import Prefect itself: slow, and silently so. `serve` probes once before it serves.
    """
    sys.exit(0 if PARENT_PID is not None else NOT_PRELOADED)


def become_a_run(parent_pid: int) -> None:
    """Die with the warm parent, let go of its "alive" pipe, take the stop signals back.

    The standard library hands each child the write end of the pipe whose closing tells the
    forkserver that `serve` is gone; a child that kept it would keep its parent alive after a
    killed `serve`, and the parent it: neither would ever end.
    """
    die_with_parent(parent_pid)
    server = multiprocessing.forkserver._forkserver
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:
        os.close(alive)
        server._forkserver_alive_fd = None  # type: ignore[attr-defined]
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


def run_engine(environment: dict[str, str], cwd: str | None) -> None:
    """Run the flow run PREFECT__FLOW_RUN_ID names, in `environment`, as Prefect's engine does."""
    if PARENT_PID is None:
        sys.exit(NOT_PRELOADED)
    become_a_run(PARENT_PID)
    os.environ.clear()
    os.environ.update(environment)
    show_the_run_in_proc(environment[RUN_ID_VARIABLE])
    # The engine's process is tied to the warm parent above, not to `serve` directly.
    os.environ.pop(TETHER_VARIABLE, None)
    if cwd is not None:
        os.chdir(cwd)
    _read_settings_again()
    _leave_the_heartbeat_unjoined()
    sys.argv = [sys.executable]
    try:
        runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)
    finally:
        atexit._run_exitfuncs()


def _read_settings_again() -> None:
    """Have Prefect and SafePassage read their settings from the run's environment."""
    prefect.context.refresh_global_settings_context()
    prefect.logging.configuration.setup_logging(incremental=False)
    get_settings.cache_clear()


def _leave_the_heartbeat_unjoined() -> None:
    """Have the engine end its run without waiting for the heartbeat thread's nap to end.

    Prefect's heartbeat thread sleeps in one-second steps and the engine joins it when the run
    ends (`_send_heartbeats`, whose `join_on_exit=False` is Prefect's own choice for its async
    engine): each process would outlive its run by half a second on average, holding one of
    `--limit` places. The thread is a daemon that only emits heartbeats: the process's exit
    ends it, and a last heartbeat after the run's end is ignored (the reaper only reads those
    of runs Running or Pending).
    """
    send_heartbeats = prefect.flow_engine._send_heartbeats

    def unjoined(engine: Any, join_on_exit: bool = True) -> Any:
        return send_heartbeats(engine, join_on_exit=False)

    prefect.flow_engine._send_heartbeats = unjoined


def show_the_run_in_proc(flow_run_id: str) -> None:
    """Have /proc/<pid>/environ name the run, as it does for a process Prefect starts.

    The kernel shows the environment a process was started with (a fork's: its parent's, at the
    parent's start), not the one it has now. The reaper (deployments/recovery.py), the
    operators' tools and the fault tests find a run's process by PREFECT__FLOW_RUN_ID there,
    so the child writes it over that region of its own memory, the way `setproctitle` rewrites
    a command line. Nothing reads the region any more: `os.environ.clear()` has unset every
    variable that pointed into it. A region too small for the name is left as it is.
    """
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    start, end = int(fields[47]), int(fields[48])  # env_start, env_end: stat's 50th and 51st
    shown = f"{RUN_ID_VARIABLE}={flow_run_id}\0".encode()
    size = end - start
    if size >= len(shown):
        ctypes.memmove(start, shown.ljust(size, b"\0"), size)
