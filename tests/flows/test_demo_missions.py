"""The demo's missions answer their own checkpoints through the served gateway's mission API,
over HTTP with their token, while the coordinator answers the office's: each answer is stored
under the name of whoever sent it, and the case reaches reintegration."""

from __future__ import annotations

from safepassage.demo.coordinator import play
from safepassage.demo.missions import MissionSystems
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import opened_store
from safepassage.models.store.workflow import find_answer
from safepassage.services.accounts import create_token
from tests.flows.conftest import World
from tests.flows.helpers import take


def entered_by(reference: str, checkpoint: Checkpoint) -> str | None:
    with opened_store(get_settings()) as store, store.transaction() as session:
        answer = find_answer(session, get_case(session, reference), checkpoint.value, 1)
        return None if answer is None else answer.entered_by


def test_the_missions_answers_go_through_the_mission_api_under_their_tokens_name(
    served: World,
) -> None:
    case = take("BG", travel_document__holds_valid_passport=True)
    case.mission = "BG"
    # One name per test run: the served store lives for the whole session.
    token = create_token("BG", f"sofia-system-{case.reference.lower()}", actor="cli:test")
    missions = MissionSystems(served.serving.gateway_url, {"BG": token})
    try:
        play([case], timeout=300, missions=missions)
    finally:
        missions.close()

    assert case.stage == "reintegration"
    assert entered_by(case.reference, Checkpoint.RECEPTION) == token.name
    assert entered_by(case.reference, Checkpoint.ARRIVAL) == token.name
    assert entered_by(case.reference, Checkpoint.TICKET) == case.scenario.entered_by
