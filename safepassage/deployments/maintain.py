"""`safepassage maintain`: the notification drainer and the orphan reaper, without a runner.

With `safepassage serve` both run inside the serving process. An office whose flows run on
Prefect workers (`prefect worker start`, see prefect.yaml) runs this once, beside the server:
it retries notifications that failed, and moves runs whose worker died (Running with no
heartbeat) back to AwaitingRetry so that another worker picks them up.
"""

from __future__ import annotations

import logging
import os
import threading

from safepassage.deployments.recovery import OrphanReaper, reschedule_orphans
from safepassage.deployments.stop_signals import stopping
from safepassage.models.errors import ConfigurationError
from safepassage.models.settings import Settings
from safepassage.models.store.db import open_store
from safepassage.notifications import OutboxDrainer, load_targets
from safepassage.orchestration import catalog
from safepassage.orchestration.connection import apply_prefect_environment, healthy

logger = logging.getLogger("safepassage.maintain")


def maintain(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Drain the outbox and reap orphaned runs until `stop` is set (or Ctrl-C, SIGTERM, SIGHUP).

    It starts no process: its two threads are daemons, so that nothing outlives it.
    """
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        raise ConfigurationError("PREFECT_API_URL must name the office's Prefect server API")
    if not healthy(api_url):
        raise ConfigurationError(f"PREFECT_API_URL={api_url} does not answer")
    load_targets(settings)
    apply_prefect_environment(settings)
    store = open_store(settings)
    drainer = OutboxDrainer(store, settings=settings)
    reaper = OrphanReaper(
        lambda: reschedule_orphans(
            api_url,
            [spec.full_name for spec in catalog.DEPLOYMENTS],
            after=settings.orphan_after_seconds,
        ),
        interval=settings.reaper_interval_seconds,
    )
    stop = stop or threading.Event()
    drainer.start()
    reaper.start()
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        with stopping():  # a second stop signal must not cut this stop short
            reaper.stop()
            drainer.stop()
            store.dispose()
