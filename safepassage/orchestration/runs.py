"""Talk to the Prefect server about a case's runs: start, read where one waits, resume, cancel.

Used by the services (and through them the CLI, the demo and tests) after `connection.connect`,
and by tasks inside a flow run, which knows its server's address already.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.schemas.objects import State, StateType
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import get_current_settings
from prefect.states import Cancelling

from safepassage.models.errors import CaseStateError, ConfigurationError
from safepassage.orchestration.catalog import RETURN_CASE
from safepassage.orchestration.prefect_api import (
    TRANSIENT_STATUS,
    PrefectApi,
    RunStatus,
    ServerBusy,
    read_run_status,
)

#: A flow run in one of these states runs no more code of its own.
FINAL_RUN_STATES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED}
)
RESUME_TRIES = 6


def case_run_tags(programme: str, country: str) -> list[str]:
    """Return the tags a case's run is created with, for finding it in the UI."""
    return [f"programme:{programme}", f"mission:{country.lower()}"]


def start_run(
    deployment_name: str,
    reference: str,
    *,
    name: str,
    tags: list[str],
    key: str,
    parameters: dict[str, Any] | None = None,
) -> str:
    """Create a run of a deployment for one case (once per `key`, whatever is retried);
    `parameters` are the flow's others besides the reference (numbers, never personal data)."""
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(deployment_name)
        run = client.create_flow_run_from_deployment(
            deployment.id,
            parameters={"reference": reference, **(parameters or {})},
            # Named at creation, so the UI never shows a random name for it.
            name=name,
            tags=[*deployment.tags, *tags],
            idempotency_key=key,
        )
    return str(run.id)


def start_case_run(reference: str, programme: str, country: str) -> str:
    """Create the case's return-case run (once per case); return its id."""
    return start_run(
        RETURN_CASE.full_name,
        reference,
        name=f"return-{reference}",
        tags=case_run_tags(programme, country),
        key=f"return-case:{reference}",
    )


def wait_for_end(flow_run_id: str, *, timeout: float) -> str:
    """Wait until a run reaches a final state; return the state's name (or the last seen)."""
    run_id = UUID(flow_run_id)
    deadline = time.monotonic() + timeout
    name = "Unknown"
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(run_id).state
            if state is not None:
                name = state.name or state.type.value
                if state.is_final():
                    return name
            time.sleep(0.3)
    return name


def current_api() -> PrefectApi:
    """Return the API Prefect's own client would talk to now (its settings, contexts included)."""
    api = get_current_settings().api
    if not api.url:
        raise ConfigurationError(
            "no Prefect server to ask: start `safepassage serve` (or set PREFECT_API_URL)"
        )
    return PrefectApi(
        url=api.url.rstrip("/"),
        auth_string=api.auth_string.get_secret_value() if api.auth_string else None,
        api_key=api.key.get_secret_value() if api.key else None,
        skip_tls_verify=api.tls_insecure_skip_verify,
        ssl_cert_file=api.ssl_cert_file or None,
        timeout=api.request_timeout,
    )


def run_status(flow_run_id: str) -> RunStatus:
    """Read the run's state; `waiting_for` only once it is suspended and its form is stored.

    The same requests as `status` sends without prefect (prefect_api.py), to the server
    Prefect's settings name; a deleted run raises prefect_api.RunNotFound.
    """
    return read_run_status(current_api(), flow_run_id)


def resume_run(
    flow_run_id: str, pause_key: str, answer: dict[str, Any], *, timeout: float = 60.0
) -> None:
    """Resume a suspended run with `answer` and return once it has left the suspended state.

    A 'busy' answer is retried; a resume whose reply was lost shows as 'not paused' on the retry
    and is confirmed by the run's state, so success is reported only for a resume that happened.
    """
    run_id = UUID(flow_run_id)
    with get_client(sync_client=True) as client:
        for attempt in range(RESUME_TRIES):
            try:
                result = client.resume_flow_run(run_id, run_input=answer)
            except (PrefectHTTPStatusError, httpx.HTTPStatusError) as exc:
                if exc.response.status_code not in TRANSIENT_STATUS:
                    raise
                time.sleep(0.5 * 2**attempt)
                continue
            except httpx.TransportError:
                time.sleep(0.5 * 2**attempt)
                continue
            status = result.status.value
            if status == "ACCEPT":
                break
            if status == "REJECT":
                # The reason quotes the values entered: name the cause, never repeat it.
                raise CaseStateError(
                    "the Prefect server refused the answer against its form; check each field's "
                    "type and choices (`safepassage status REF` shows the checkpoint)"
                )
            if _moved_on(client, run_id, pause_key):  # ABORT: an earlier try got through
                break
            raise CaseStateError("the case's run is not waiting for input any more")
        else:
            raise ServerBusy("the Prefect server stayed busy; the answer was not accepted: retry")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _moved_on(client, run_id, pause_key):
                return
            time.sleep(0.2)
    raise CaseStateError("the run accepted the answer but did not leave the suspended state")


def _moved_on(client: Any, run_id: UUID, pause_key: str) -> bool:
    state = client.read_flow_run(run_id).state
    if state is None:
        return False
    suspended_here = state.type == StateType.PAUSED and state.state_details.pause_key == pause_key
    return not suspended_here


def run_has_ended(flow_run_id: str) -> bool:
    """Return whether a run runs no more code of its own (deleted from Prefect counts too)."""
    with get_client(sync_client=True) as client:
        try:
            state = client.read_flow_run(UUID(flow_run_id)).state
        except ObjectNotFound:  # deleted from Prefect: nothing runs it any more
            return True
    return state is not None and state.type in FINAL_RUN_STATES


def cancel_and_wait(run_id: UUID, message: str, *, timeout: float) -> State[Any] | None:
    """Cancel a flow run unless it has ended, wait until it has; return its last state.

    A suspended or scheduled run goes straight to Cancelled (Prefect's orchestration rules do
    that, so the request is not forced); a running one is stopped by the runner or worker that
    started it, which can take a few seconds.
    """
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
        if state is not None and state.type not in FINAL_RUN_STATES:
            client.set_flow_run_state(run_id, Cancelling(message=message))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = client.read_flow_run(run_id).state
            if state is None or state.type in FINAL_RUN_STATES:
                break
            time.sleep(0.5)
    return state
