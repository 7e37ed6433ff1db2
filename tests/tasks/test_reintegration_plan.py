"""The reintegration plan as stage functions: asked of the mission, what the programme covers,
an uncovered need reviewed (adapted, then approved), sealed with its flags, counted.

No Prefect server: the stages run as plain functions against the test store (SQLite and
PostgreSQL); the default targets write each message to a local JSON-lines log.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safepassage.models.checkpoints import AGREED_PLAN, Checkpoint
from safepassage.models.report import build_report
from safepassage.models.store.cases import get_case, open_sealed
from safepassage.models.store.db import Store
from safepassage.models.store.workflow import find_action
from safepassage.tasks.reintegration import (
    conclude_plan,
    conclude_plan_review,
    plan_reintegration,
    request_plan,
)
from tests.factories import TODAY
from tests.stored import STORED_AT, stored_case
from tests.tasks.checkpoint_answers import answer, events, freeze, sample

ARRIVED = "2026-12-20T10:00:00+00:00"


@pytest.fixture(autouse=True)
def _frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch)
    monkeypatch.setattr("safepassage.tasks.reintegration.utcnow", lambda: STORED_AT)


def _item(need: str, cost: str = "100") -> dict[str, str]:
    return {"need": need, "service": "A service", "provider": "A provider",
            "starts_on": TODAY.isoformat(), "cost_chf": cost}  # fmt: skip


def _arrived(store: Store, programme: str) -> str:
    reference = stored_case(store, programme)
    arrival = sample(Checkpoint.ARRIVAL, arrived_at=f"{TODAY.isoformat()}T08:00:00+00:00")
    assert answer(reference, Checkpoint.ARRIVAL, **arrival).accepted
    return reference


def test_a_covered_plan_is_agreed_sealed_with_its_flags_and_the_mission_told(
    stage_store: Store, home: Path
) -> None:
    reference = _arrived(stage_store, "BG")
    request_plan.fn(reference, 1)
    plan = [_item("medical", "250"), _item("shelter", "600.50")]
    assert answer(reference, Checkpoint.REINTEGRATION_PLAN, items=plan).accepted
    for _ in range(2):  # replayed: once
        assert conclude_plan.fn(reference, 1).model_dump() == {"items": 2, "uncovered": 0}
        plan_reintegration.fn(reference, 1)

    assert events(home, "mission-bg", reference) == ["reintegration-plan", "plan-agreed"]
    assert events(home, "coordinators", reference) == []
    with stage_store.transaction() as session:
        case = get_case(session, reference)
        sealed = json.loads(open_sealed(session, stage_store.master_key, case, AGREED_PLAN))
        planned = find_action(session, case, "reintegration-planned")
        assert planned is not None
        # The ledger holds counts and cost only: the needs are health data.
        assert planned.detail == {"ask": 1, "items": 2, "uncovered": 0, "cost_chf": "850.50"}
    assert [(i["need"], i["covered"]) for i in sealed["items"]] == [
        ("medical", True),
        ("shelter", True),
    ]


def test_an_uncovered_need_goes_to_the_coordinators_who_adapt_then_approve(
    stage_store: Store, home: Path
) -> None:
    reference = _arrived(stage_store, "CZ")
    request_plan.fn(reference, 1)
    # The issue's own example: witness protection is not among the Czech programme's services.
    first = [_item("medical"), _item("witness_protection")]
    assert answer(reference, Checkpoint.REINTEGRATION_PLAN, items=first).accepted
    assert conclude_plan.fn(reference, 1).uncovered == 1
    assert answer(reference, Checkpoint.PLAN_REVIEW, decision="adapt").accepted
    assert conclude_plan_review.fn(reference, 1, "adapt") is False

    request_plan.fn(reference, 2)
    second = [_item("medical"), _item("witness_protection"), _item("translation")]
    assert answer(reference, Checkpoint.REINTEGRATION_PLAN, attempt=2, items=second).accepted
    assert conclude_plan.fn(reference, 2).uncovered == 1
    assert answer(reference, Checkpoint.PLAN_REVIEW, attempt=2, decision="approve").accepted
    assert conclude_plan_review.fn(reference, 2, "approve") is True
    plan_reintegration.fn(reference, 2)

    coordinators = [m for m in _lines(home, "coordinators") if reference in m["title"]]
    assert [m["title"].split(": ", 1)[1] for m in coordinators] == ["plan-review-needed"] * 2
    # The count, never the need: a need is health data.
    assert all("witness" not in m["body"] for m in coordinators)
    assert events(home, "mission-cz", reference) == [
        "reintegration-plan", "reintegration-plan", "plan-agreed",
    ]  # fmt: skip
    with stage_store.transaction() as session:
        figures = build_report(session, stage_store.master_key, now=STORED_AT, limits={})
    (cz,) = figures.reintegration
    assert (cz.programme, cz.plans, cz.plan_items, cz.items_not_covered) == ("CZ", 1, 3, 1)
    assert cz.plan_cost_chf == "300"


def test_a_plan_item_starting_before_the_arrival_is_refused_by_its_line(
    stage_store: Store,
) -> None:
    reference = _arrived(stage_store, "RO")
    early = _item("medical") | {"starts_on": "2000-01-01"}
    refused = answer(reference, Checkpoint.REINTEGRATION_PLAN, items=[_item("medical"), early])
    assert not refused.accepted
    assert refused.problems == ["items.1.starts_on: must not be before the person arrived"]


def test_an_empty_plan_or_a_need_outside_the_list_is_refused_by_name(stage_store: Store) -> None:
    reference = _arrived(stage_store, "RO")
    empty = answer(reference, Checkpoint.REINTEGRATION_PLAN, items=[])
    assert not empty.accepted
    assert empty.problems[0].startswith("items:")
    odd = answer(reference, Checkpoint.REINTEGRATION_PLAN, items=[_item("astrology")])
    assert not odd.accepted
    assert odd.problems[0].startswith("items.0.need:")
    assert all("astrology" not in p for p in odd.problems)


def _lines(home: Path, tag: str) -> list[dict[str, str]]:
    path = home / "notifications" / f"{tag}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
