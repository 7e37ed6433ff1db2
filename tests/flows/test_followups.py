"""Follow-ups under the real served Prefect: the report cycle, and the scheduler's reconcile."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import cast
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from sqlalchemy import select

from safepassage.demo.coordinator import ENDED, play
from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import CaseStateError
from safepassage.models.followup_plan import add_months, run_time
from safepassage.models.followup_reconcile import reconcile
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import open_store
from safepassage.models.store.followups import case_followups
from safepassage.models.store.orm import SealedRecord
from safepassage.models.store.workflow import read_answer_for_stage
from safepassage.orchestration.catalog import FOLLOWUP_SCHEDULER, REINTEGRATION_FOLLOWUP
from safepassage.orchestration.followup_runs import PrefectFollowUpRuns
from safepassage.services.checkpoints import answer_checkpoint, case_status
from safepassage.services.followups import reconcile_followups_now
from safepassage.tasks.followups import notify_closed, notify_rung
from tests.factories import TODAY
from tests.flows.conftest import World
from tests.flows.helpers import received, received_texts, take
from tests.stored import stored_case
from tests.waiting import eventually

HORIZON = 30  # the default, as the deployed scheduler runs with it


def _wait_for_deployment(name: str, timeout: float = 60) -> None:
    # `serve` registers its deployments one after the other; the world waits for the first.
    with get_client(sync_client=True) as client:
        eventually(
            lambda: client.read_deployment_by_name(name),
            timeout=timeout,
            interval=0.5,
            what=f"the deployment {name}",
            ignoring=ObjectNotFound,
        )


def _wait_for_followups(reference: str, *, at_least: int, timeout: float = 240) -> list[int]:
    waiting: list[int] = eventually(
        lambda: case_status(reference)["waiting_followups"],
        until=lambda waiting: len(waiting) >= at_least,
        timeout=timeout,
        interval=0.5,
        what=f"at least {at_least} follow-ups of {reference} to wait",
    )
    return waiting


def _runs_named(*names: str) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=list(names)))
        )


def test_a_followup_cycle_asks_the_mission_takes_each_report_and_closes_the_case(
    served: World,
) -> None:
    _wait_for_deployment(REINTEGRATION_FOLLOWUP.full_name)
    # Flown eight days ago (the sample answers fly 14 days after the `today` they are given,
    # after a recovery period that ended before): follow-up 1 falls due within the 30-day
    # horizon, so the return-case run itself schedules it in Prefect.
    played_on = dt.date.today() - dt.timedelta(days=22)
    case = take(
        "CZ",
        Scenario(risk_at_followups=frozenset({2})),
        travel_document__holds_valid_passport=True,
        earliest_departure=played_on.isoformat(),
    )
    play([case], timeout=360, today=played_on)
    assert case.stage == "reintegration"
    # The stage changes in the store first; the run is created in Prefect a moment after.
    (planned_run,) = eventually(
        lambda: _runs_named(f"followup-{case.reference}-1"),
        timeout=60,
        what=f"the run of follow-up 1 of {case.reference}",
    )
    assert planned_run.state_type is not None
    assert planned_run.state_type.value == "SCHEDULED"
    assert planned_run.expected_start_time is not None
    assert planned_run.expected_start_time > dt.datetime.now(dt.UTC) + dt.timedelta(days=20)

    # The compressed clock (the demo's) starts the four follow-up runs now. While several wait
    # at once, a resume must name which follow-up it answers.
    started = reconcile_followups_now(case.reference, compressed=True)
    assert (started["created"], started["rescheduled"]) == (3, 1)
    waiting = _wait_for_followups(case.reference, at_least=2)
    unpinned = sample_answer(
        Checkpoint.FOLLOWUP_REPORT, attempt=waiting[0], scenario=case.scenario, today=TODAY
    )
    with pytest.raises(CaseStateError, match="all wait for a report"):
        answer_checkpoint(case.reference, unpinned)
    # Each is answered through the same path as `safepassage status` and `safepassage resume`.
    play([case], until=ENDED, timeout=480)

    assert case.stage == "closed"
    assert [a for a in case.answered if a[0] == "followup-report"] != []
    assert sorted(n for c, n in case.answered if c == "followup-report") == [1, 2, 3, 4]
    assert case_status(case.reference)["status"] == "ended"
    mission = received(served, "mission-cz", case.reference)
    assert mission.count("followup-due") == 4
    assert mission[-1] == "case-closed"
    assert received(served, "coordinators", case.reference) == ["risk-alert"]
    alert = "\n".join(received_texts(served, "coordinators", case.reference))
    assert "Follow-up: 2" in alert
    assert "Mission visits again" not in alert

    store = open_store(get_settings())
    try:
        with store.transaction() as session:
            stored = get_case(session, case.reference)
            report = json.loads(
                read_answer_for_stage(session, store.master_key, stored, "followup-report", 2)
            )
            sealed = session.scalar(
                select(SealedRecord.ciphertext).where(
                    SealedRecord.case_id == stored.id,
                    SealedRecord.purpose == "checkpoint:followup-report:2",
                )
            )
            rows = [(r.number, r.state, r.flow_run_id) for r in case_followups(session, stored)]
            generations = [r.run_generation for r in case_followups(session, stored)]
            case_run = stored.flow_run_id
    finally:
        store.dispose()
    assert report["risk_of_retrafficking"] == "raised"
    assert sealed is not None
    assert b"Mission visits again" not in sealed  # encrypted at rest
    assert [state for _, state, _ in rows] == ["reported"] * 4
    run_ids = {run_id for _, _, run_id in rows}
    assert len(run_ids) == 4
    assert case_run not in run_ids  # each follow-up ran as its own run
    # The compressed clock moved follow-up 1's run from its due date to now: a new generation.
    assert generations == [1, 0, 0, 0]
    assert str(planned_run.id) not in run_ids

    with get_client(sync_client=True) as client:
        for number, _, run_id in rows:
            assert run_id is not None
            run = client.read_flow_run(UUID(run_id))
            assert run.name == f"followup-{case.reference}-{number}"
            assert run.parameters == {"reference": case.reference, "number": number}
            assert {"followup", "programme:CZ", "mission:cz"} <= set(run.tags)
            left = client.filter_flow_run_input(
                UUID(run_id), key_prefix="suspended-", limit=10, exclude_keys=set()
            )
            assert left == []  # the report lives only in the encrypted case store


def test_the_scheduler_creates_each_run_once_and_recreates_deleted_ones(served: World) -> None:
    _wait_for_deployment(REINTEGRATION_FOLLOWUP.full_name)
    _wait_for_deployment(FOLLOWUP_SCHEDULER.full_name)
    now = dt.datetime.now(dt.UTC)
    arrived_on = now.date() - dt.timedelta(days=20)  # follow-up 1 due in about 10 days
    store = open_store(get_settings())
    reference = stored_case(store, "BG", now=now, arrived_on=arrived_on)
    names = [f"followup-{reference}-{n}" for n in (1, 2)]  # only 1 is due within the horizon
    runs = PrefectFollowUpRuns()
    try:
        # This case only: the world's store holds the other tests' cases, whose follow-ups their
        # own runs may still be creating.
        reconcile_this_case = functools.partial(
            reconcile, store, runs, now=now, horizon_days=HORIZON, notify=notify_rung,
            closed=notify_closed, reference=reference,
        )  # fmt: skip
        first = reconcile_this_case()
        second = reconcile_this_case()
        # The deployed daily scheduler (same horizon) finds follow-up 1 scheduled already.
        scheduler = cast(FlowRun, run_deployment(FOLLOWUP_SCHEDULER.full_name, timeout=180))
        created = _runs_named(*names)

        assert (first.created, second.created) == (1, 0)
        assert scheduler.state is not None
        assert scheduler.state.is_completed()
        assert [r.name for r in created] == names[:1]
        assert [r.expected_start_time for r in created] == [run_time(add_months(arrived_on, 1), 9)]
        assert [r.state_type.value for r in created if r.state_type] == ["SCHEDULED"]

        with get_client(sync_client=True) as client:
            for flow_run in created:
                client.delete_flow_run(flow_run.id)
        third = reconcile_this_case()
        recreated = _runs_named(*names)

        assert (third.recreated, third.created) == (1, 0)
        assert [r.name for r in recreated] == names[:1]
        assert recreated[0].id != created[0].id
        # Prefect frees a deleted run's idempotency key: the same key makes the new run.
        assert recreated[0].idempotency_key == f"followup:{reference}:1:g0"
        with store.transaction() as session:
            rows = case_followups(session, get_case(session, reference))
            assert [(r.state, r.flow_run_id) for r in rows[:2]] == [
                ("scheduled", str(recreated[0].id)),
                ("planned", None),
            ]
    finally:
        with get_client(sync_client=True) as client:
            for flow_run in _runs_named(*names):
                client.delete_flow_run(flow_run.id)
        store.dispose()
