"""Where Prefect lives for SafePassage, and how every process finds the same server.

`safepassage serve` starts a Prefect server on the embedded default (its database under
SAFEPASSAGE_HOME) unless PREFECT_API_URL names one, and records the address in
SAFEPASSAGE_HOME/server.json; the other commands read it, so they talk to the same server.

Prefect builds its settings from the environment once, when it is first imported. Whatever is
set here is applied to an already-imported prefect too (`apply_to_prefect`), so the order of
imports never decides which server a command talks to. This module does not import prefect
itself: a command that never talks to a server does not pay for importing it.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from safepassage.models.errors import ConfigurationError
from safepassage.models.private_files import open_private
from safepassage.models.settings import Settings

SERVER_FILE = "server.json"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class ServerAddress:
    """A Prefect server's API and UI addresses."""

    api_url: str
    ui_url: str

    def run_url(self, flow_run_id: str) -> str:
        """Return the UI page of a flow run."""
        return f"{self.ui_url}/runs/flow-run/{flow_run_id}"


def prefect_home(settings: Settings) -> Path:
    """Return PREFECT_HOME: the user's if set, else a folder in SAFEPASSAGE_HOME."""
    configured = os.environ.get("PREFECT_HOME")
    return Path(configured) if configured else settings.home / "prefect"


def prefect_environment(settings: Settings) -> dict[str, str]:
    """Return the Prefect settings every SafePassage process runs with (user's values win).

    Results are persisted (a suspended run is re-executed on resume and replays them) into a
    folder under SAFEPASSAGE_HOME; they hold no personal data. The runner polls every second,
    because a coordinator waits on each resume; analytics stay off on a case-management server.
    """
    home = prefect_home(settings)
    defaults = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "results"),
        "PREFECT_RUNNER_POLL_FREQUENCY": str(settings.runner_poll_seconds),
        "PREFECT_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        # Heartbeats let `serve` notice a run whose process died (see recovery.py); 30 s is
        # Prefect's minimum.
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
    }
    return {name: os.environ.get(name, value) for name, value in defaults.items()}


def apply_prefect_environment(settings: Settings) -> None:
    """Put SafePassage's Prefect settings into this process's environment, and into prefect's.

    Prefect creates its home when it reads its settings, but not the folders above it: they
    are made here (private to the user), so that an import of prefect finds them.
    """
    environment = prefect_environment(settings)
    os.environ.update(environment)
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    Path(environment["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    apply_to_prefect()


def hand_prefect_its_environment(settings: Settings) -> None:
    """Give prefect SafePassage's settings before anything imports it; create no folder.

    The command line calls this first thing, so that whichever command imports prefect reads
    PREFECT_HOME under SAFEPASSAGE_HOME, not ~/.prefect. Nothing is written: a dry run must
    leave no trace.
    """
    os.environ.update(prefect_environment(settings))
    apply_to_prefect()


def use_api(api_url: str) -> None:
    """Point this process's Prefect client at `api_url` (prefect loaded yet or not)."""
    os.environ["PREFECT_API_URL"] = api_url
    apply_to_prefect()


def apply_to_prefect() -> None:
    """Make an already-imported prefect read the environment again; else it will on import.

    Prefect's root settings context is built once, at import; `refresh_global_settings_context`
    rebuilds it. A settings context a caller entered itself (a test's `temporary_settings`)
    still wins, as it should. Rebuilt only when a PREFECT_ variable changed since the last
    rebuild: it costs about 0.15 CPU-s, and a loop that asks a case's status (the demo, the
    flow tests) calls this twice per status.
    """
    context = sys.modules.get("prefect.context")
    if context is None:
        return
    environment = {name: value for name, value in os.environ.items() if name.startswith("PREFECT_")}
    if _applied.get(id(context)) == environment:
        return
    context.refresh_global_settings_context()
    _applied.clear()  # one entry: the prefect.context module this environment was applied to
    _applied[id(context)] = environment


#: The PREFECT_ environment last applied, keyed by the prefect.context module it went to (a
#: test that reloads prefect gets a new module and a rebuild).
_applied: dict[int, dict[str, str]] = {}


def server_file(settings: Settings) -> Path:
    """Return where `serve` records the server's address."""
    return settings.home / SERVER_FILE


def record_server(settings: Settings, address: ServerAddress, *, pid: int | None = None) -> None:
    """Record the server's address (and the pid of one `serve` started) for the other commands."""
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = server_file(settings)
    record = {"api_url": address.api_url, "ui_url": address.ui_url, "pid": pid}
    with open_private(path, "w") as handle:  # owner-only, like every file in the home
        handle.write(json.dumps(record))


def forget_server(settings: Settings, address: ServerAddress) -> None:
    """Remove the recorded address if it is still this server's."""
    path = server_file(settings)
    try:
        if json.loads(path.read_text()).get("api_url") == address.api_url:
            path.unlink()
    except (OSError, ValueError):
        return


def healthy(api_url: str, *, timeout: float = 5.0) -> bool:
    """Return whether a Prefect API answers its health check."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as response:  # noqa: S310 - our own server's http URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ui_url_for(api_url: str) -> str:
    """Return the UI address that belongs to an API address (the API is the UI's /api)."""
    return api_url.removesuffix("/").removesuffix("/api")


def connect(settings: Settings) -> ServerAddress:
    """Find the running server (PREFECT_API_URL, else the one `serve` recorded) and use it.

    Raises ConfigurationError saying to start `safepassage serve` when none answers: a
    throwaway in-process server would lose the run the moment the command exits.
    """
    apply_prefect_environment(settings)
    api_url = os.environ.get("PREFECT_API_URL")
    source = "PREFECT_API_URL"
    ui_url = ui_url_for(api_url) if api_url else None
    if not api_url:
        path = server_file(settings)
        source = str(path)
        try:
            record = json.loads(path.read_text())
            api_url, ui_url = record["api_url"], record.get("ui_url")
        except (OSError, ValueError, KeyError):
            raise ConfigurationError(
                "no Prefect server is running for this SAFEPASSAGE_HOME: start "
                "`safepassage serve` (or set PREFECT_API_URL to your server's API)"
            ) from None
    assert api_url is not None
    if not healthy(api_url):
        raise ConfigurationError(
            f"the Prefect server at {api_url} (from {source}) does not answer: start "
            "`safepassage serve`"
        )
    use_api(api_url)
    # People open the Prefect UI through the gateway, which `serve` records as the UI's address.
    if settings.gateway_url:
        ui_url = f"{settings.gateway_url.rstrip('/')}/prefect"
    return ServerAddress(api_url=api_url, ui_url=ui_url or ui_url_for(api_url))
