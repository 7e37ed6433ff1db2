"""Stop a child process and everything it started, the way Ctrl-C would, then by force."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_group(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """Send SIGINT to the child's process group, wait; SIGKILL the group if it hangs.

    The children SafePassage starts (a Prefect server, a `serve`) lead a session of their own,
    so a Ctrl-C in the terminal reaches the parent first and the parent decides the order of
    stopping; this is that order's last step.
    """
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
