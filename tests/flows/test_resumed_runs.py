"""What a resumed run leaves in Prefect: each stage's task run once, each ask's suspend once."""

from __future__ import annotations

from collections import Counter
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from safepassage.demo.coordinator import play
from safepassage.models.checkpoints import Checkpoint
from safepassage.services.checkpoints import case_status
from tests.flows.conftest import World
from tests.flows.helpers import event_kinds, take

#: The stages a Bulgarian case without a passport (nor consent to share with the embassy yet)
#: passes before its ticket is asked for.
STAGES_BEFORE_TICKET = [
    "check_identification",
    "begin_child_safeguarding",
    "travel_document_needed",
    "conclude_embassy_consent",
    "embassy_may_be_asked",
    "request_travel_document",
    "record_travel_document",
    "begin_pre_departure",
    "conclude_pre_departure",
    "request_reception",
    "conclude_reception",
    "book_ticket",
]


def test_a_resumed_case_runs_each_stage_once_and_suspends_once_per_ask(
    served: World,
) -> None:
    case = take("BG")
    play([case], stop_at={Checkpoint.TICKET}, timeout=300)
    flow_run_id = UUID(str(case_status(case.reference)["flow_run_id"]))
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200
        )
        states = client.read_flow_run_states(flow_run_id)
    # A replayed stage reads its persisted result: no task run ends Cached, none runs twice.
    assert not [t.name for t in task_runs if t.state is not None and t.state.name == "Cached"]
    ran = Counter(t.name.rsplit("-", 1)[0] for t in task_runs)
    assert {stage: ran[stage] for stage in STAGES_BEFORE_TICKET} == dict.fromkeys(
        STAGES_BEFORE_TICKET, 1
    )
    # Each ask (consent, travel document, pre-departure, reception, ticket) suspended and was
    # opened once, and each but the ticket answered once: the ask a run resumed from was not
    # suspended again.
    suspended = [s.state_details.pause_key for s in states if s.name == "Suspended"]
    answered = [f"{checkpoint}-{attempt}" for checkpoint, attempt in case.answered]
    assert suspended == [*answered, "ticket-1"]
    assert len(answered) == 4
    kinds = event_kinds(case.reference)
    assert (kinds.count("checkpoint-opened"), kinds.count("checkpoint-answered")) == (5, 4)
