"""A Hungarian case under the real served Prefect, from arrival to closure: the mission's plan,
the grant planned and increased in its own grant-increase run, a delivery, and four scored
follow-ups on the compressed clock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.objects import FlowRun

from safepassage.demo.coordinator import ENDED, play
from safepassage.demo.sample_answers import Scenario
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import open_store
from safepassage.models.store.grant import grant_ledger
from safepassage.models.sustainability import CURRENT_VERSION
from safepassage.services.followup_scores import followup_scores
from safepassage.services.grant import record_delivery
from tests.flows.conftest import World
from tests.flows.helpers import actions, received, take
from tests.waiting import eventually


def _runs_named(name: str) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
        )


def _grant(reference: str) -> dict[str, Any]:
    store = open_store(get_settings())
    try:
        with store.transaction() as session:
            return grant_ledger(session, get_case(session, reference)).as_dict()
    finally:
        store.dispose()


def test_a_hungarian_case_is_planned_granted_followed_up_scored_and_closed(
    served: World,
) -> None:
    # Played as of 22 days ago: the sample flight left 8 days ago, so a delivery today is after
    # the arrival (and not in the future).
    played_on = dt.date.today() - dt.timedelta(days=22)
    case = take(
        "HU",
        Scenario(recommended_grant_chf=2400, approved_increase_chf=600, extra_need="translation"),
        travel_document__holds_valid_passport=True,
        earliest_departure=played_on.isoformat(),
    )
    # Through the arrival, the plan (translation is not among Hungary's services: the
    # coordinators approve it), the increase recommended at arrival in its own run, and the
    # four follow-ups started now instead of months ahead, to closure.
    play([case], timeout=420, today=played_on)
    # Its own reconcile schedules follow-up 1 (due within the horizon) as the run ends: the
    # compressed clock moves the runs only after, or that reconcile would move 1 back.
    eventually(
        lambda: _runs_named(f"followup-{case.reference}-1"),
        timeout=60,
        what=f"the run of follow-up 1 of {case.reference}",
    )
    play([case], until=ENDED, followups={case.reference}, timeout=600, today=played_on)

    assert case.stage == "closed"
    answered = [checkpoint for checkpoint, _ in case.answered]
    assert answered.index("reintegration-plan") < answered.index("plan-review")
    assert answered.count("followup-report") == 4
    ledger = actions(case.reference)
    assert ("plan-submitted", 1) in ledger
    assert ("reintegration-planned", 1) in ledger
    assert ("grant-increase-decided", 1) in ledger

    delivered = record_delivery(
        case.reference,
        {"what": "Tools for a trade", "delivered_on": dt.date.today().isoformat(),
         "provider": "Vocational centre (example)", "amount_chf": "2100"},
        by="test",
    )  # fmt: skip
    assert delivered["delivery"] == 1
    grant = _grant(case.reference)
    assert (grant["planned_chf"], grant["total_chf"], grant["delivered_chf"]) == (
        "1500", "2100", "2100",
    )  # fmt: skip
    assert [i["decision"] for i in grant["increases"]] == ["approved"]

    mission = received(served, "mission-hu", case.reference)
    for event in ("reintegration-plan", "plan-agreed", "grant-planned", "grant-approved"):
        assert mission.count(event) == 1, event
    assert mission.count("followup-due") == 4
    assert mission[-1] == "case-closed"
    coordinators = received(served, "coordinators", case.reference)
    assert coordinators.count("plan-review-needed") == 1
    assert coordinators.count("grant-increase-requested") == 1

    # The increase ran as its own run, named for the case and the request, and left no answer.
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                name=FlowRunFilterName(any_=[f"grant-increase-{case.reference}-1"])
            )
        )
        assert run.parameters == {"reference": case.reference, "number": 1}
        assert eventually(
            lambda: client.read_flow_run(run.id).state_type,
            until=lambda state: state is not None and state.value == "COMPLETED",
            timeout=60,
            what="the grant-increase run to complete",
        )
        left = client.filter_flow_run_input(
            run.id, key_prefix="suspended-", limit=10, exclude_keys=set()
        )
    assert left == []
    assert Decimal(grant["approved_increases_chf"]) == Decimal(600)

    # Every report was scored once, with the table's version, the read logged under our name.
    scores = followup_scores(case.reference, actor="test", purpose="test: scores")
    assert sorted(scores) == [1, 2, 3, 4]
    for number, scored in scores.items():
        assert scored["version"] == CURRENT_VERSION, number
        assert Decimal(0) <= Decimal(scored["composite"]) <= Decimal(1), number
    assert sorted(n for action, n in ledger if action == "followup-scored") == [1, 2, 3, 4]
