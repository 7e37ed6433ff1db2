"""Tie a child process's life to its parent's: nothing `serve` started outlives a killed `serve`.

An orderly stop (SIGTERM, SIGINT, SIGHUP) lets `serve` stop its children itself; a SIGKILL or an
out-of-memory kill does not, and a Prefect server left behind holds the port and the database,
a flow-run process goes on writing. On Linux the kernel sends a child a signal of its choice
when its parent dies (`PR_SET_PDEATHSIG`); elsewhere a daemon thread watches the parent's pid.

The setting is cleared by fork, so it is set in the child, then the parent is checked to be
still alive (it could have died before): the child cannot miss its parent's death. It survives
exec, so a small launcher (`python -m safepassage.orchestration.tether PID -- COMMAND...`) sets
it and becomes the command, which is how `serve` starts the Prefect server. Prefect's runner
starts the flow-run processes itself, so they set it when their flow's package is imported,
from the pid `serve` leaves in TETHER_VARIABLE (see `safepassage/flows/__init__.py`).

"Parent" is the *thread* that started the child (the kernel's view): start tethered children
from a thread that lives as long as the process, the main thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

#: The environment variable that names the pid a flow-run process must not outlive.
TETHER_VARIABLE = "SAFEPASSAGE_TETHER_PID"
#: SIGKILL: a child of a killed parent has nobody to report to, and must free the port and
#: the databases within seconds; the runs it held are recovered by the reaper on restart.
DEATH_SIGNAL = signal.SIGKILL
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_WATCH_INTERVAL = 0.5


def die_with_parent(parent_pid: int) -> None:
    """Have this process killed when `parent_pid`, its parent, dies; die now if it already has."""
    if sys.platform.startswith("linux"):
        prctl = _prctl()
        if prctl(_PR_SET_PDEATHSIG, DEATH_SIGNAL, 0, 0, 0) != 0:
            _watch(parent_pid)  # not expected; the watchdog does the same, later
    else:
        _watch(parent_pid)
    if os.getppid() != parent_pid:  # it died before the setting took effect
        os.kill(os.getpid(), DEATH_SIGNAL)


def tether_from_environment() -> None:
    """Die with the process TETHER_VARIABLE names, if set; the variable is not passed on.

    Removed from the environment so that a process this one starts (nothing of ours does, but
    a tool a task runs might) is not killed for having another parent.
    """
    value = os.environ.pop(TETHER_VARIABLE, None)
    if value and value.isdigit():
        die_with_parent(int(value))


def tethered(command: Sequence[str], *, parent_pid: int | None = None) -> list[str]:
    """Return `command` run by the launcher that ties it to `parent_pid` (default: this one).

    Elsewhere than Linux the command is returned as it is: a watchdog thread would not survive
    exec. An orphan left there is found and named by the next `serve` (server_process.py).
    """
    if not sys.platform.startswith("linux"):
        return list(command)
    parent = os.getpid() if parent_pid is None else parent_pid
    return [sys.executable, "-m", __name__, str(parent), "--", *command]


def _prctl() -> Callable[..., int]:
    libc = ctypes.CDLL(None, use_errno=True)
    function: Callable[..., int] = libc.prctl
    return function


def _watch(parent_pid: int) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_WATCH_INTERVAL)
        os.kill(os.getpid(), DEATH_SIGNAL)

    threading.Thread(target=watch, name="safepassage-tether", daemon=True).start()


def main(argv: Sequence[str]) -> None:
    """Launcher: `PID -- COMMAND...`: tie this process to PID, then become COMMAND."""
    if len(argv) < 3 or argv[1] != "--" or not argv[0].isdigit():
        sys.exit("usage: python -m safepassage.orchestration.tether PID -- COMMAND [ARG...]")
    die_with_parent(int(argv[0]))
    os.execv(argv[2], list(argv[2:]))  # noqa: S606 - our own interpreter, from `tethered`


if __name__ == "__main__":
    main(sys.argv[1:])
