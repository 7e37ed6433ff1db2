"""Deliver due notifications from a daemon thread inside a long-running serving process.

Retries fall due minutes after the stage that queued them has finished; starting a Prefect flow
run (a fresh process, seconds of imports) per tick to send them would cost far more than the
sending. A thread that wakes every few seconds in the process that serves the flows is enough,
and the lease on each item keeps it from racing the tasks that deliver their own items.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from types import TracebackType

from safepassage.models.errors import SafePassageError
from safepassage.models.settings import Settings, get_settings
from safepassage.models.store.db import Store
from safepassage.notifications.deliver import DeliveryReport, deliver_due
from safepassage.notifications.targets import Targets, load_targets

logger = logging.getLogger("safepassage.notifications")


class OutboxDrainer:
    """Run `deliver_due` every `interval` seconds in a daemon thread until stopped.

    `interval` defaults to SAFEPASSAGE_NOTIFY_DRAIN_INTERVAL_SECONDS; `clock` fixes the time
    each run sees (tests), otherwise the real time is read as each run goes.
    """

    def __init__(
        self,
        store: Store,
        *,
        interval: float | None = None,
        limit: int = 1000,
        settings: Settings | None = None,
        targets: Targets | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.store = store
        self.interval = (
            interval if interval is not None else self.settings.notify_drain_interval_seconds
        )
        self.limit = limit
        # Loaded (and checked) now, so a broken configuration stops the serving process at
        # start-up instead of failing in the thread, tick after tick.
        self.targets = targets if targets is not None else load_targets(self.settings)
        self.clock = clock
        self.last_report: DeliveryReport | None = None
        self.runs = 0
        self.errors = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Return whether the drainer's thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (a second call while running does nothing)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="safepassage-outbox-drainer", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the thread to finish its current batch and stop; wait up to `timeout` seconds."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def wake(self) -> None:
        """Drain now instead of at the next tick (after a stage queued something, say)."""
        self._wake.set()

    def drain_once(self) -> DeliveryReport:
        """Deliver what is due now, in the calling thread."""
        report = deliver_due(
            self.store,
            now=self.clock() if self.clock is not None else None,
            limit=self.limit,
            settings=self.settings,
            targets=self.targets,
        )
        self.last_report = report
        self.runs += 1
        if report.claimed:
            logger.info("outbox: %s", report.as_dict())
        return report

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain_once()
            except SafePassageError as exc:  # our messages name the problem and hold no data
                self.errors += 1
                logger.error("outbox drain failed: %s", exc)
            except Exception as exc:
                # Keep draining: a database that is briefly away must not end delivery for
                # the process's lifetime. Only the type is logged, as driver errors can quote
                # the statement's parameters.
                self.errors += 1
                logger.error("outbox drain failed: %s", type(exc).__name__)
            self._wake.wait(self.interval)
            self._wake.clear()

    def __enter__(self) -> OutboxDrainer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
