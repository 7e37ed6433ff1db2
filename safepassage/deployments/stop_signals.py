"""Stop signals: SIGTERM and SIGHUP stop a long-running command exactly as Ctrl-C (SIGINT) does.

systemd, a container runtime or `kill` send SIGTERM; a closed terminal sends SIGHUP. Python's
default for both is to die on the spot, without a `finally`: a `serve` terminated that way
while it started left its Prefect server running. Here both are handed to whatever handles
SIGINT at that moment: Python's (KeyboardInterrupt) while `serve` starts, asyncio's while
Prefect's runner serves (it cancels the runner, which stops its flow-run processes). Prefect's
runner installs its own SIGTERM handler while it runs, which stops it the same way.

While a command stops, a repeated signal is ignored rather than cut the stop short; a `serve`
that hangs anyway is killed with SIGKILL, and its children die with it (orchestration/tether.py).

Nothing here imports Prefect: the command line installs the handlers before the seconds it
takes to import it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

#: Each of these stops `serve` and `maintain`.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_FORWARDED = (signal.SIGTERM, signal.SIGHUP)


def _as_interrupt(signum: int, frame: FrameType | None) -> Any:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler) and handler is not _as_interrupt:
        return handler(signal.SIGINT, frame)
    raise KeyboardInterrupt  # SIGINT ignored or at its C default: interrupt all the same


def _already_stopping(signum: int, frame: FrameType | None) -> None:
    return None


@contextmanager
def stop_signals() -> Iterator[None]:
    """Within: SIGTERM and SIGHUP do what SIGINT does (KeyboardInterrupt by default).

    Outside the main thread (where Python cannot set handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in _FORWARDED}
    for number in _FORWARDED:
        # A signal ignored by whoever started us stays ignored: `nohup` asks for SIGHUP not to
        # stop the command. (Python leaves SIGINT ignored too, as a script's `&` starts it.)
        if previous[number] is not signal.SIG_IGN:
            signal.signal(number, _as_interrupt)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def stopping() -> Iterator[None]:
    """Within: every stop signal is ignored, so that the stop already under way completes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    for number in STOP_SIGNALS:
        signal.signal(number, _already_stopping)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
