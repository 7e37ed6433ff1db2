"""`safepassage serve`: the Prefect server (embedded default), the deployments, the drainer.

One long-running process serves every deployment, bounded to `limit` flow-run processes at a
time (unbounded, a burst of 50 runs started 45 engine processes and 3 GB here), and runs the
outbox drainer in a thread so that retries of notifications cost no flow-run process.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable

from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from safepassage.deployments.recovery import OrphanReaper, reschedule_orphans
from safepassage.deployments.server_process import ServerProcess, servers_of_home
from safepassage.deployments.stop_signals import stopping
from safepassage.deployments.warm.parent import WarmParent, start_warm_parent
from safepassage.deployments.warm.runner import serve_runs
from safepassage.gateway.app import create_app
from safepassage.gateway.prefect_proxy import PrefectUpstream
from safepassage.gateway.prefect_ui import BASE as UI_BASE
from safepassage.gateway.server import GatewayBind, GatewayServer
from safepassage.models.errors import ConfigurationError
from safepassage.models.rules import policy_in_force
from safepassage.models.settings import Settings
from safepassage.models.sla import limits
from safepassage.models.store.db import Store, open_store
from safepassage.notifications import OutboxDrainer, load_targets
from safepassage.orchestration import catalog
from safepassage.orchestration.connection import (
    LOOPBACK,
    ServerAddress,
    apply_prefect_environment,
    forget_server,
    healthy,
    prefect_home,
    record_server,
    ui_url_for,
    use_api,
)
from safepassage.orchestration.tether import TETHER_VARIABLE

logger = logging.getLogger("safepassage.serve")


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


def deployments() -> list[RunnerDeployment]:
    """Return the deployments this process serves: the catalog's, each from its flow."""
    return [_deployment(spec) for spec in catalog.DEPLOYMENTS]


def _deployment(spec: catalog.DeploymentSpec) -> RunnerDeployment:
    flow = getattr(importlib.import_module(spec.module), spec.function)
    schedule = spec.schedule
    return flow.to_deployment(  # type: ignore[no-any-return]
        name=spec.name,
        # Module-path entrypoints load the installed package whatever the working directory.
        entrypoint_type=EntrypointType.MODULE_PATH,
        tags=list(spec.tags),
        description=spec.description,
        schedule=Cron(schedule.cron, timezone=schedule.timezone) if schedule else None,
    )


def _reaper(settings: Settings, api_url: str) -> OrphanReaper:
    """Return the reaper of the served deployments' runs that lost their process."""
    names = [spec.full_name for spec in catalog.DEPLOYMENTS]
    return OrphanReaper(
        lambda: reschedule_orphans(api_url, names, after=settings.orphan_after_seconds),
        interval=settings.reaper_interval_seconds,
    )


def _external_address() -> ServerAddress:
    external = os.environ["PREFECT_API_URL"]
    if not healthy(external):
        raise ConfigurationError(f"PREFECT_API_URL={external} does not answer")
    return ServerAddress(api_url=external, ui_url=ui_url_for(external))


def _embedded_server(settings: Settings, *, host: str, port: int) -> ServerProcess | None:
    """Start the embedded server, unless PREFECT_API_URL names one (then return None).

    A server of this home already running (another `serve`'s, or one a killed `serve` left)
    is refused, never adopted: it holds the database, and nobody would stop it.
    """
    if os.environ.get("PREFECT_API_URL"):
        return None
    if running := servers_of_home(prefect_home(settings)):
        raise ConfigurationError(running[0].refusal())
    log_path = prefect_home(settings) / "server.log"
    return ServerProcess.start(host=host, port=port, log_path=log_path)


def front_origin(settings: Settings, gateway: GatewayBind) -> str:
    """Return the gateway's address as people reach it: SAFEPASSAGE_GATEWAY_URL, else its bind."""
    return (settings.gateway_url or gateway.origin).rstrip("/")


def _start_gateway(
    settings: Settings, store: Store, address: ServerAddress, gateway: GatewayBind
) -> GatewayServer:
    upstream = PrefectUpstream(address.api_url, os.environ.get("PREFECT_API_AUTH_STRING"))
    app = create_app(
        store,
        origin=front_origin(settings, gateway),
        prefect=upstream,
        ui_folder=prefect_home(settings) / "gateway-ui",
    )
    return GatewayServer.start(app, gateway)


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    gateway: GatewayBind | None = None,
    limit: int | None = None,
    on_ready: Callable[[ServerAddress], None] | None = None,
) -> None:
    """Serve until interrupted; start and stop the embedded server unless PREFECT_API_URL is set.

    With `gateway`, people's one address starts in front of the server (embedded or external):
    `address.ui_url` passed to `on_ready` is then the gateway's Prefect UI. Stopped (a stop
    signal is a KeyboardInterrupt here, see stop_signals.py) at any moment, it stops whatever
    it had started.
    """
    check_host(host)
    if gateway is not None:
        gateway.check()  # a refused bind or a bad certificate stops us before anything starts
    load_targets(settings)  # a broken notification configuration stops us here, not mid-case
    limits(settings)  # and so does a broken SAFEPASSAGE_SLA_DAYS (forms show the limits)
    policy_in_force(settings)  # and a broken SAFEPASSAGE_OFFICE_POLICY (embassy liaison reads it)
    store = open_store(settings)
    apply_prefect_environment(settings)
    server: ServerProcess | None = None
    address: ServerAddress | None = None
    drainer: OutboxDrainer | None = None
    reaper: OrphanReaper | None = None
    warm: WarmParent | None = None
    front: GatewayServer | None = None
    # From here a stop signal (KeyboardInterrupt, see stop_signals.py) at any point ends in the
    # `finally`, which stops whatever started; what it cannot stop (a `serve` killed outright)
    # dies with this process: the server and the flow-run processes are tethered to it.
    try:
        server = _embedded_server(settings, host=host, port=port)
        address = server.address if server is not None else _external_address()
        use_api(address.api_url)
        if gateway is not None:
            front = _start_gateway(settings, store, address, gateway)
            address = ServerAddress(
                api_url=address.api_url, ui_url=f"{front_origin(settings, gateway)}{UI_BASE}"
            )
        drainer = OutboxDrainer(store, settings=settings)
        record_server(settings, address, pid=server.pid if server is not None else None)
        served = deployments()
        # Started from the main thread, before the flow-run processes' tether is set: the warm
        # parent ends with us through its own pipe, its children with it (deployments/warm).
        warm = start_warm_parent(settings)
        reaper = _reaper(settings, address.api_url)
        drainer.start()
        reaper.start()
        # Inherited by the flow-run processes Prefect's runner starts: they die with us.
        os.environ[TETHER_VARIABLE] = str(os.getpid())
        if on_ready is not None:
            on_ready(address)
        serve_runs(served, limit=limit or default_limit(settings), parent=warm)
    finally:
        # Stop serving before the server it talks to, or it hangs on shutdown; a second stop
        # signal meanwhile must not leave the server running.
        with stopping():
            os.environ.pop(TETHER_VARIABLE, None)
            if reaper is not None:
                reaper.stop()
            if warm is not None:
                warm.stop()
            if drainer is not None:
                drainer.stop()
            if front is not None:
                front.stop()
            if address is not None:
                forget_server(settings, address)
            if server is not None:
                server.stop()
            store.dispose()
