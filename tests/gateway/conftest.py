"""Fixtures of the gateway tests: a client of the gateway over the test's store, and a stand-in
for the resume of a Prefect run where a test stops at the gateway's side of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from safepassage.gateway.app import create_app
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.store.db import Store


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store), follow_redirects=False) as opened:
        yield opened


@pytest.fixture
def resumed(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the answers the gateway hands on to resume a run, instead of resuming one.

    Everything before it is real (the scope, the waiting check, the validation, the name the
    answer is entered under); tests/flows/test_mission_answers.py resumes a real run.
    """
    calls: list[dict[str, Any]] = []

    def resume(
        reference: str, raw: Any, *, expected: str | None = None, attempt: int | None = None
    ) -> Checkpoint:
        calls.append({"reference": reference, "answer": raw, "expected": expected,
                      "attempt": attempt})  # fmt: skip
        return Checkpoint(str(expected))

    monkeypatch.setattr("safepassage.services.mission.answer_checkpoint", resume)
    return calls
