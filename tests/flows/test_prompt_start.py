"""A run starts on the server's event, not at the runner's next poll (deployments/prompt_start.py).

The served world polls every POLL_SECONDS (conftest.py), far longer than an event takes: runs
that the poll alone would start are taken later than that, on average half of it.
"""

from __future__ import annotations

import itertools
from uuid import UUID

from prefect import get_client

from safepassage.demo.coordinator import play
from safepassage.models.checkpoints import Checkpoint
from safepassage.services.checkpoints import case_status
from tests.flows.conftest import POLL_SECONDS, World
from tests.flows.helpers import take

#: Longest from the server scheduling a run to a runner taking it (Pending), on its event.
PROMPT_S = 2.0


def test_answered_checkpoints_are_taken_up_on_the_servers_event(served: World) -> None:
    assert POLL_SECONDS >= 5 * PROMPT_S
    case = take("BG")  # no passport: consent, travel document, pre-departure, reception
    play([case], stop_at={Checkpoint.TICKET}, timeout=300)
    run_id = UUID(str(case_status(case.reference)["flow_run_id"]))
    with get_client(sync_client=True) as client:
        states = sorted(client.read_flow_run_states(run_id), key=lambda s: s.timestamp)
    waits = [
        (later.timestamp - state.timestamp).total_seconds()
        for state, later in itertools.pairwise(states)
        if state.name in {"Scheduled", "Resuming"} and later.name == "Pending"
    ]
    # The intake and each of the four answers; by the poll alone each would wait about
    # POLL_SECONDS / 2, and all five under PROMPT_S would be a chance of about (1/5) ** 5.
    assert len(waits) == 5
    assert max(waits) < PROMPT_S, waits
