"""A mission's system answers its own checkpoint through the gateway's mission API, and the
served flow resumes with it, entered under the token's name whatever the body said."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from safepassage.demo.coordinator import play
from safepassage.gateway.app import create_app
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store, open_store
from safepassage.models.store.workflow import find_answer
from safepassage.services.accounts import create_token
from safepassage.services.checkpoints import case_status
from tests.flows.conftest import World
from tests.flows.helpers import take
from tests.waiting import eventually


@pytest.fixture
def gateway_store(served: World) -> Iterator[Store]:
    """The served world's case store, open for a gateway in this test process."""
    store = open_store(get_settings())
    yield store
    store.dispose()


def entered_by(store: Store, reference: str, checkpoint: Checkpoint) -> str | None:
    with store.transaction() as session:
        answer = find_answer(session, get_case(session, reference), checkpoint.value, 1)
        return None if answer is None else answer.entered_by


def test_a_reception_sent_through_the_api_resumes_the_run_under_the_tokens_name(
    served: World, gateway_store: Store
) -> None:
    case = take("BG", travel_document__holds_valid_passport=True)
    play([case], stop_at={Checkpoint.RECEPTION}, timeout=300)
    assert case_status(case.reference)["waiting_for"] == "reception"
    # One name per test run: the served store lives for the whole session.
    token_name = f"sofia-{case.reference.lower()}"
    token = create_token("BG", token_name, actor="cli:test", store=gateway_store).token

    with TestClient(create_app(gateway_store)) as client:
        answer = client.post(
            f"/mission/api/v1/cases/{case.reference}/reception",
            json={"accepted": True, "notes": "Shelter ready.", "entered_by": "someone-else"},
            headers={"authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 202, answer.text

    name = eventually(
        lambda: entered_by(gateway_store, case.reference, Checkpoint.RECEPTION),
        timeout=120,
        what=f"{case.reference}'s reception to be stored",
    )
    assert name == token_name
    eventually(
        lambda: case_status(case.reference)["waiting_for"],
        until=lambda waiting: waiting == "ticket",
        timeout=120,
        what=f"{case.reference} to go on to the ticket",
    )
