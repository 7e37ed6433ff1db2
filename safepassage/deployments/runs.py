"""Talk to the Prefect server about a case's run: start it, read where it waits, resume it.

Used by the CLI (and the demo and tests through it). Call `environment.connect` first.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.schemas.objects import StateType
from prefect.exceptions import PrefectHTTPStatusError

from safepassage.deployments.serve import RETURN_CASE
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import CaseStateError, SafePassageError

_PAUSE_KEY = re.compile(r"^(?P<checkpoint>[a-z-]+?)-(?P<attempt>\d+)(?:-r\d+)?$")
#: The SQLite-backed server answers 503 ("database is locked") under bursts: retry those.
TRANSIENT_STATUS = {429, 502, 503, 504}
RESUME_TRIES = 6


class ServerBusy(SafePassageError):
    """The Prefect server kept answering 'busy'; nothing was changed."""


def case_run_tags(programme: str, country: str) -> list[str]:
    """Return the tags a case's run is created with, for finding it in the UI."""
    return [f"programme:{programme}", f"mission:{country.lower()}"]


def start_run(deployment_name: str, reference: str, *, name: str, tags: list[str], key: str) -> str:
    """Create a run of a deployment for one case (once per `key`, whatever is retried)."""
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(deployment_name)
        run = client.create_flow_run_from_deployment(
            deployment.id,
            parameters={"reference": reference},
            # Named at creation, so the UI never shows a random name for it.
            name=name,
            tags=[*deployment.tags, *tags],
            idempotency_key=key,
        )
    return str(run.id)


def start_case_run(reference: str, programme: str, country: str) -> str:
    """Create the case's return-case run (once per case); return its id."""
    return start_run(
        RETURN_CASE,
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


@dataclass(frozen=True)
class RunStatus:
    """Where a run stands, and the checkpoint it accepts input for (None unless suspended)."""

    state_type: str
    state_name: str
    waiting_for: Checkpoint | None
    attempt: int | None
    pause_key: str | None


def parse_pause_key(key: str) -> tuple[Checkpoint, int] | None:
    """Return the checkpoint and attempt a suspend key names (`ticket-2-r1` -> ticket, 2)."""
    match = _PAUSE_KEY.match(key)
    if match is None:
        return None
    try:
        return Checkpoint(match["checkpoint"]), int(match["attempt"])
    except ValueError:
        return None


def run_status(flow_run_id: str) -> RunStatus:
    """Read the run's state; `waiting_for` only once it is suspended and its form is stored."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
        state = run.state
        if state is None:
            return RunStatus("PENDING", "Pending", None, None, None)
        key = state.state_details.pause_key
        parsed = parse_pause_key(key) if key else None
        waiting = None
        if state.type == StateType.PAUSED and state.name == "Suspended" and parsed:
            # The server marks the run suspended a moment before the flow stores its form;
            # a resume in between is refused, so report waiting only once the form is there.
            schema_key = f"suspended-{key}-schema"
            inputs = client.filter_flow_run_input(
                UUID(flow_run_id), key_prefix=schema_key, limit=1, exclude_keys=set()
            )
            if inputs:
                waiting = parsed[0]
        return RunStatus(
            state.type.value,
            state.name or state.type.value,
            waiting,
            parsed[1] if parsed and waiting else None,
            key,
        )


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
