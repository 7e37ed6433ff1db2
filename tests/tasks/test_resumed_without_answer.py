"""A run resumed without an answer (restarted after a crash, its suspend's key already fired)
asks again under a new key instead of looking for an answer for ever.

No Prefect server: Prefect's stored input is stood in for (there is none), the stages run as
plain functions against the test store (SQLite and PostgreSQL).
"""

from __future__ import annotations

import uuid

import pytest

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.store.db import Store
from safepassage.orchestration.pause_key import PauseKey
from safepassage.tasks.checkpoints import accept_answer, checkpoint_status
from tests.stored import stored_case
from tests.tasks.checkpoint_answers import freeze


@pytest.fixture(autouse=True)
def _no_prefect_input(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch)
    monkeypatch.setattr("safepassage.tasks.checkpoints.read_answer_input", lambda run, key: None)
    monkeypatch.setattr("safepassage.tasks.checkpoints.forget_ask_inputs", lambda run, key: None)


def test_a_fired_ask_with_no_answer_is_refused_and_asked_again_under_a_new_key(
    stage_store: Store,
) -> None:
    reference = stored_case(stage_store, "BG")
    ticket = Checkpoint.TICKET.value
    first = PauseKey(Checkpoint.TICKET, 1, 0)
    assert checkpoint_status.fn(reference, ticket, 1, ask=True).waiting
    # The run suspended under `ticket-1`, crashed, and was restarted: the key has fired.
    fired = frozenset({str(first)})
    assert not checkpoint_status.fn(reference, ticket, 1, ask=True, fired=fired).waiting

    refused = accept_answer.fn(reference, first, uuid.uuid4())
    assert not refused.accepted
    assert refused.problems == ["no answer was submitted: answer the form again"]

    again = checkpoint_status.fn(reference, ticket, 1, ask=True, fired=fired)
    assert (again.waiting, again.refusals) == (True, 1)  # suspends as `ticket-1-r1`
    assert str(PauseKey(Checkpoint.TICKET, 1, again.refusals)) not in fired
    assert again.last_problems == ["no answer was submitted: answer the form again"]
