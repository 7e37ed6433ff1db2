"""`safepassage serve`: the Prefect server (embedded default), the deployments, the drainer.

One long-running process serves every deployment, bounded to `limit` flow-run processes at a
time (unbounded, a burst of 50 runs started 45 engine processes and 3 GB here), and runs the
outbox drainer in a thread so that retries of notifications cost no flow-run process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from safepassage.deployments.environment import (
    LOOPBACK,
    ServerAddress,
    apply_prefect_environment,
    forget_server,
    healthy,
    prefect_home,
    record_server,
    ui_url_for,
)
from safepassage.deployments.server_process import ServerProcess
from safepassage.models.errors import ConfigurationError
from safepassage.models.settings import Settings
from safepassage.models.store.db import open_store
from safepassage.notifications import OutboxDrainer, load_targets

logger = logging.getLogger("safepassage.serve")

RETURN_CASE = "return-case/return-case"
DELIVER_NOTIFICATIONS = "deliver-notifications/deliver-notifications"


def default_limit(settings: Settings) -> int:
    """Return how many flow-run processes run at once: the setting, else two per core."""
    return settings.flow_run_limit or max(2, 2 * (os.cpu_count() or 1))


def check_host(host: str) -> None:
    """Refuse to expose the server beyond this machine without an auth string.

    The open-source server has no login, and it holds the whole office's case list.
    """
    if host not in LOOPBACK and not os.environ.get("PREFECT_SERVER_API_AUTH_STRING"):
        raise ConfigurationError(
            f"--host {host}: the Prefect server has no login; listen on 127.0.0.1, or set "
            "PREFECT_SERVER_API_AUTH_STRING first (and PREFECT_API_AUTH_STRING for clients)"
        )


def deployments() -> list[Any]:
    """Return the deployments this process serves (imported here: prefect is slow to import)."""
    from prefect.types.entrypoint import EntrypointType

    from safepassage.flows.deliver_notifications import deliver_notifications
    from safepassage.flows.return_case import return_case

    # Module-path entrypoints load the installed package whatever the working directory.
    module = EntrypointType.MODULE_PATH
    return [
        return_case.to_deployment(
            name="return-case", entrypoint_type=module, tags=["safepassage"],
            description="One case's safe return, from identification to follow-ups.",
        ),
        deliver_notifications.to_deployment(
            name="deliver-notifications", entrypoint_type=module, tags=["safepassage"],
            description="Deliver what is due in the notification outbox (operators).",
        ),
    ]  # fmt: skip


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    limit: int | None = None,
    on_ready: Callable[[ServerAddress], None] | None = None,
) -> None:
    """Serve until interrupted; start and stop the embedded server unless PREFECT_API_URL is set."""
    check_host(host)
    load_targets(settings)  # a broken notification configuration stops us here, not mid-case
    store = open_store(settings)
    apply_prefect_environment(settings)
    server: ServerProcess | None = None
    external = os.environ.get("PREFECT_API_URL")
    if external:
        if not healthy(external):
            raise ConfigurationError(f"PREFECT_API_URL={external} does not answer")
        address = ServerAddress(api_url=external, ui_url=ui_url_for(external))
    else:
        log_path = prefect_home(settings) / "server.log"
        server = ServerProcess.start(host=host, port=port, log_path=log_path)
        address = server.address
        os.environ["PREFECT_API_URL"] = address.api_url
    drainer = OutboxDrainer(store, settings=settings)
    try:
        record_server(settings, address)
        from prefect import serve as prefect_serve

        served = deployments()
        drainer.start()
        if on_ready is not None:
            on_ready(address)
        prefect_serve(*served, limit=limit or default_limit(settings), print_starting_message=False)
    finally:
        # Stop serving before the server it talks to, or it hangs on shutdown.
        drainer.stop()
        forget_server(settings, address)
        if server is not None:
            server.stop()
        store.dispose()
