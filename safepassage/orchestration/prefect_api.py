"""Read where a case's runs stand over Prefect's REST API, without importing prefect.

`safepassage status` asks the server two or three questions; importing prefect to ask them took
more than a second of the command's two. The requests here are the ones Prefect's own client
sends (`GET /flow_runs/{id}`, `POST /flow_runs/{id}/input/filter`), with its authorization,
and retried as it retries a busy server (without X-PREFECT-API-VERSION, which the server then
takes for its own version); they use the standard library, which `connect` has loaded
for its health check already.

`PrefectApi.from_environment` reads the client's settings from the environment, as `connect`
reads PREFECT_API_URL; code that has prefect loaded (`runs.run_status`) builds one from
Prefect's settings instead, so a test's `temporary_settings` still decides.
"""

from __future__ import annotations

import base64
import email.utils
import json
import os
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import SafePassageError
from safepassage.orchestration.pause_key import PauseKey

#: Answers a busy server gives (the SQLite-backed one answers 503 "database is locked" under
#: bursts), retried as Prefect's client retries them.
TRANSIENT_STATUS = frozenset({408, 429, 502, 503, 504})
#: One try and up to five retries, as Prefect's client (PREFECT_CLIENT_MAX_RETRIES).
TRIES = 6
#: The longest wait between two tries, seconds (Prefect's own doubling goes on to 32 s; a
#: coordinator waits on this).
MAX_BACKOFF_SECONDS = 8.0
_TRUE = {"1", "true", "yes", "on", "t", "y"}


class ServerBusy(SafePassageError):
    """The Prefect server kept answering 'busy'; nothing was changed."""


class RunNotFound(SafePassageError):
    """The Prefect server has no flow run with this id (deleted, or another server's)."""


@dataclass(frozen=True)
class PrefectApi:
    """Where a Prefect API is and how to speak to it: headers, TLS, timeout."""

    url: str
    auth_string: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    skip_tls_verify: bool = False
    ssl_cert_file: str | None = None
    timeout: float = 60.0

    @classmethod
    def from_environment(cls, api_url: str, environ: Mapping[str, str] | None = None) -> PrefectApi:
        """Return the API at `api_url`, with Prefect's client settings from the environment.

        PREFECT_API_AUTH_STRING (basic auth, preferred) or PREFECT_API_KEY (bearer),
        PREFECT_API_TLS_INSECURE_SKIP_VERIFY, PREFECT_API_SSL_CERT_FILE and
        PREFECT_API_REQUEST_TIMEOUT, as Prefect's client reads them.
        """
        env = os.environ if environ is None else environ
        try:
            timeout = float(env.get("PREFECT_API_REQUEST_TIMEOUT") or 60.0)
        except ValueError:
            timeout = 60.0
        return cls(
            url=api_url.rstrip("/"),
            auth_string=env.get("PREFECT_API_AUTH_STRING") or None,
            api_key=env.get("PREFECT_API_KEY") or None,
            skip_tls_verify=env.get("PREFECT_API_TLS_INSECURE_SKIP_VERIFY", "").lower() in _TRUE,
            ssl_cert_file=env.get("PREFECT_API_SSL_CERT_FILE") or None,
            timeout=timeout,
        )

    def headers(self) -> dict[str, str]:
        """Return the headers Prefect's client sends (the auth string wins over a key)."""
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.auth_string:
            token = base64.b64encode(self.auth_string.encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        elif self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _tls(self) -> ssl.SSLContext | None:
        if not self.url.startswith("https:"):
            return None
        if self.skip_tls_verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.ssl_cert_file)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send one request and return its JSON answer, retrying a busy server.

        Raises RunNotFound on 404, ServerBusy when the server stays busy or unreachable, and
        urllib's HTTPError on any other error answer.
        """
        data = None if body is None else json.dumps(body).encode()
        context = self._tls()
        for attempt in range(TRIES):
            request = urllib.request.Request(  # noqa: S310 - the API address `connect` checked
                f"{self.url}{path}", data=data, method=method, headers=self.headers()
            )
            try:
                with urllib.request.urlopen(  # noqa: S310 - as above
                    request, timeout=self.timeout, context=context
                ) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    raise RunNotFound(
                        f"the Prefect server at {self.url} has no {path.lstrip('/')}: deleted?"
                    ) from None
                if exc.code not in TRANSIENT_STATUS:
                    raise
                wait = _retry_after(exc.headers.get("Retry-After"))
            except (urllib.error.URLError, OSError):
                wait = None
            if attempt + 1 < TRIES:
                time.sleep(wait if wait is not None else min(0.5 * 2**attempt, MAX_BACKOFF_SECONDS))
        raise ServerBusy(
            f"the Prefect server at {self.url} stayed busy or unreachable: retry in a moment"
        )


def _retry_after(value: str | None) -> float | None:
    """Return the seconds a Retry-After header asks for (a number or an HTTP date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_BACKOFF_SECONDS)


@dataclass(frozen=True)
class RunStatus:
    """Where a run stands, and the checkpoint it accepts input for (None unless suspended)."""

    state_type: str
    state_name: str
    waiting_for: Checkpoint | None
    attempt: int | None
    pause_key: str | None


def read_run_status(api: PrefectApi, flow_run_id: str) -> RunStatus:
    """Read the run's state; `waiting_for` only once it is suspended and its form is stored."""
    run_id = uuid.UUID(flow_run_id)  # ValueError for anything else, as Prefect's client
    run = api.request("GET", f"/flow_runs/{run_id}")
    state = run.get("state") if isinstance(run, dict) else None
    if not state:
        return RunStatus("PENDING", "Pending", None, None, None)
    state_type = str(state["type"])
    name = state.get("name") or state_type
    key = (state.get("state_details") or {}).get("pause_key")
    parsed = PauseKey.parse(key) if key else None
    waiting = None
    if state_type == "PAUSED" and name == "Suspended" and parsed:
        # The server marks the run suspended a moment before the flow stores its form;
        # a resume in between is refused, so report waiting only once the form is there.
        inputs = api.request(
            "POST",
            f"/flow_runs/{run_id}/input/filter",
            {"prefix": parsed.input_key("schema"), "limit": 1, "exclude_keys": []},
        )
        if inputs:
            waiting = parsed.checkpoint
    return RunStatus(state_type, name, waiting, parsed.attempt if parsed and waiting else None, key)


def waiting_runs(
    api: PrefectApi, case_run_id: str | None, followup_run_ids: Sequence[str]
) -> list[tuple[str, RunStatus]]:
    """Return the runs a case waits in: its suspended follow-ups, newest first, else its own run.

    `status` shows the first and `resume` acts on it, so a case at a follow-up is answered like
    any other. Several follow-ups can wait at once (a late report, a compressed clock): each
    is then named by its number, never guessed.
    """
    waiting = []
    for run_id in followup_run_ids:
        try:
            status = read_run_status(api, run_id)
        except RunNotFound:  # deleted in Prefect; the next reconcile recreates it
            continue
        if status.waiting_for is not None:
            waiting.append((run_id, status))
    if waiting or case_run_id is None:
        return waiting
    return [(case_run_id, read_run_status(api, case_run_id))]
