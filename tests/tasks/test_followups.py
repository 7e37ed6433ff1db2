"""Follow-ups: planned from the actual arrival, reconciled with the runs, reminded, closed.

No Prefect server: the reconcile gets a fake `FollowUpRuns` that behaves as Prefect does with
idempotency keys (a key returns its run while it exists; a deleted run frees its key), and an
injected clock. The same logic runs against the real server in tests/flows/test_followups.py.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint, FollowUpReportAnswer
from safepassage.models.errors import ConfigurationError, IntakeInvalid
from safepassage.models.followup_plan import FollowUpPlan, add_months, run_time
from safepassage.models.followup_reconcile import ReconcileReport, RunInfo, RunSpec, reconcile
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.followups import case_followups, correct_arrival
from safepassage.models.store.orm import CaseAction, OutboxItem
from safepassage.models.store.workflow import record_answer, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import deliver_due
from safepassage.tasks import followups as followup_tasks
from safepassage.tasks.checkpoints import summarise
from safepassage.tasks.followups import (
    conclude_followup,
    notify_closed,
    notify_rung,
    open_followup,
    schedule_followups,
)
from tests.factories import TODAY
from tests.stored import stored_case

NOW = dt.datetime(2027, 3, 10, 7, 0, tzinfo=dt.UTC)
HORIZON = 30


@dataclass
class FakeRun:
    spec: RunSpec
    state: str = "SCHEDULED"


class FakeRuns:
    """Prefect's follow-up runs, as far as the reconcile can tell."""

    def __init__(self) -> None:
        self.runs: dict[str, FakeRun] = {}
        self.created: list[RunSpec] = []

    def find(self, run_ids: Sequence[str]) -> dict[str, RunInfo]:
        return {
            i: RunInfo(i, r.state, r.spec.scheduled_for if r.state == "SCHEDULED" else None)
            for i in run_ids
            if (r := self.runs.get(i)) is not None
        }

    def create(self, spec: RunSpec) -> str:
        for run_id, run in self.runs.items():
            if run.spec.idempotency_key == spec.idempotency_key:
                return run_id
        run_id = str(uuid.uuid4())
        self.runs[run_id] = FakeRun(spec)
        self.created.append(spec)
        return run_id

    def delete(self, run_id: str) -> None:
        self.runs.pop(run_id, None)

    def cancel(self, run_id: str) -> None:
        self.runs[run_id].state = "CANCELLED"

    def live(self) -> dict[tuple[str, int], list[dt.datetime]]:
        """Return each follow-up's runs that have not ended, by (reference, number)."""
        found: dict[tuple[str, int], list[dt.datetime]] = {}
        for run in self.runs.values():
            if run.state not in {"CANCELLED", "COMPLETED"}:
                key = (run.spec.reference, run.spec.number)
                found.setdefault(key, []).append(run.spec.scheduled_for)
        return found


def run(
    store: Store, runs: FakeRuns, now: dt.datetime = NOW, horizon_days: int = HORIZON
) -> ReconcileReport:
    return reconcile(
        store, runs, now=now, horizon_days=horizon_days, notify=notify_rung, closed=notify_closed
    )


def rows(store: Store, reference: str) -> list[tuple[int, str, dt.date, str | None, int]]:
    with store.transaction() as session:
        return [
            (r.number, r.state, r.due_on, r.flow_run_id, r.run_generation)
            for r in case_followups(session, get_case(session, reference))
        ]


def sent(home: Path, tag: str, reference: str) -> list[str]:
    path = home / "notifications" / f"{tag}.jsonl"
    if not path.exists():
        return []
    prefix = f"SafePassage {reference}: "
    titles = [json.loads(line)["title"] for line in path.read_text().splitlines()]
    return [t.removeprefix(prefix) for t in titles if t.startswith(prefix)]


def report(store: Store, reference: str, number: int, *, risk: bool) -> None:
    """Enter follow-up report `number` as a coordinator would (sealed, with its summary)."""
    scenario = Scenario(risk_at_followups=frozenset({number} if risk else set()))
    raw = sample_answer(Checkpoint.FOLLOWUP_REPORT, attempt=number, scenario=scenario, today=TODAY)
    answer = FollowUpReportAnswer.model_validate(raw)
    with store.transaction() as session:
        record_answer(
            session, store.master_key, get_case(session, reference), "followup-report", number,
            answer_json=answer.model_dump_json().encode(), entered_by=answer.entered_by or "t",
            summary=summarise(Checkpoint.FOLLOWUP_REPORT, answer), now=NOW,
        )  # fmt: skip


@pytest.fixture
def fake_runs(monkeypatch: pytest.MonkeyPatch) -> FakeRuns:
    """The fake, also as where the tasks' own reconciles create runs."""
    runs = FakeRuns()
    monkeypatch.setattr(followup_tasks, "followup_runs", lambda: runs)
    return runs


def test_followups_are_planned_from_the_actual_arrival_and_those_due_soon_scheduled_at_once(
    stage_store: Store, fake_runs: FakeRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "SAFEPASSAGE_FOLLOWUP_PLANS", '{"HU": {"offsets_months": [1, 2, 6], "window_days": 21}}'
    )
    get_settings.cache_clear()
    # The flight was booked for one day and landed on another, 25 days ago: the plan counts
    # from the arrival the mission reported, in its own time zone (just after midnight).
    today = dt.datetime.now(dt.UTC).date()
    arrived = today - dt.timedelta(days=25)
    references = {}
    for programme in ("BG", "HU"):
        reference = references[programme] = stored_case(stage_store, programme, now=NOW)
        answer = sample_answer(Checkpoint.ARRIVAL, attempt=1, scenario=Scenario(), today=TODAY)
        answer["arrived_at"] = f"{arrived.isoformat()}T00:20:00+02:00"
        with stage_store.transaction() as session:
            record_answer(
                session, stage_store.master_key, get_case(session, reference), "arrival", 1,
                answer_json=json.dumps(answer).encode(), entered_by="AB", summary={}, now=NOW,
            )  # fmt: skip
        assert schedule_followups.fn(reference) == (4 if programme == "BG" else 3)
        assert schedule_followups.fn(reference) == (4 if programme == "BG" else 3)

    bg, hu = (rows(stage_store, references[p]) for p in ("BG", "HU"))
    assert [r[2] for r in bg] == [add_months(arrived, m) for m in (1, 3, 6, 12)]
    assert [r[2] for r in hu] == [add_months(arrived, m) for m in (1, 2, 6)]
    with stage_store.transaction() as session:
        case = get_case(session, references["HU"])
        assert case.stage == "reintegration"
        assert {r.window_days for r in case_followups(session, case)} == {21}
    # Follow-up 1 falls due within the 30-day horizon: its run exists already, scheduled for
    # 09:00 UTC on the due date; the rest wait in the store.
    assert [r[1] for r in bg] == ["scheduled", "planned", "planned", "planned"]
    assert sorted(fake_runs.live().items()) == sorted(
        [
            ((references["BG"], 1), [run_time(add_months(arrived, 1), 9)]),
            ((references["HU"], 1), [run_time(add_months(arrived, 1), 9)]),
        ]
    )
    assert {s.name for s in fake_runs.created} == {
        f"followup-{references['BG']}-1",
        f"followup-{references['HU']}-1",
    }


def test_the_plan_setting_refuses_offsets_that_do_not_increase(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEPASSAGE_FOLLOWUP_PLANS", '{"RO": {"offsets_months": [3, 1]}}')
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="SAFEPASSAGE_FOLLOWUP_PLANS"):
        get_settings()


def test_the_reconcile_is_idempotent_one_run_per_followup(
    store: Store, fake_runs: FakeRuns
) -> None:
    reference = stored_case(store, now=NOW, arrived_on=NOW.date() - dt.timedelta(days=25))
    first = run(store, fake_runs, horizon_days=90)
    second = run(store, fake_runs, horizon_days=90)
    again_later = reconcile(
        store,
        fake_runs,
        now=NOW + dt.timedelta(hours=5),
        horizon_days=90,
        notify=notify_rung,
        closed=notify_closed,
    )

    assert (first.created, second.created, again_later.created) == (2, 0, 0)
    assert len(fake_runs.created) == 2
    due = [d for _, _, d, _, _ in rows(store, reference)]
    assert fake_runs.live() == {
        (reference, 1): [run_time(due[0], 9)],
        (reference, 2): [run_time(due[1], 9)],
    }
    assert [s.idempotency_key for s in fake_runs.created] == [
        f"followup:{reference}:1:g0",
        f"followup:{reference}:2:g0",
    ]
    assert [r[1] for r in rows(store, reference)] == [
        "scheduled",
        "scheduled",
        "planned",
        "planned",
    ]


def test_deleted_runs_are_recreated_by_the_next_reconcile(
    store: Store, fake_runs: FakeRuns
) -> None:
    reference = stored_case(store, now=NOW, arrived_on=NOW.date() - dt.timedelta(days=25))
    run(store, fake_runs)
    before = rows(store, reference)
    fake_runs.runs.clear()  # the scheduled runs deleted, or Prefect's database replaced

    again = run(store, fake_runs)

    assert (again.created, again.recreated) == (0, 1)
    after = rows(store, reference)
    assert after[0][3] != before[0][3]  # a new run, under the same key (gen 0)
    assert fake_runs.live() == {(reference, 1): [run_time(after[0][2], 9)]}
    assert fake_runs.created[-1].idempotency_key == f"followup:{reference}:1:g0"


def test_a_corrected_arrival_replans_what_has_not_started_and_moves_its_run(
    store: Store, fake_runs: FakeRuns
) -> None:
    arrived = NOW.date() - dt.timedelta(days=25)
    reference = stored_case(store, now=NOW, arrived_on=arrived)
    run(store, fake_runs)
    corrected = arrived - dt.timedelta(days=3)
    with store.transaction() as session:
        moved = correct_arrival(
            session, get_case(session, reference), corrected, actor="AB", now=NOW
        )
    assert [m.number for m in moved] == [1, 2, 3, 4]

    moved_runs = run(store, fake_runs)
    again = run(store, fake_runs)

    assert (moved_runs.rescheduled, again.rescheduled, again.created) == (1, 0, 0)
    current = rows(store, reference)
    assert [r[2] for r in current] == [add_months(corrected, m) for m in (1, 3, 6, 12)]
    # One run for follow-up 1, at its new time, under a new key generation; the old one gone.
    assert fake_runs.live() == {(reference, 1): [run_time(current[0][2], 9)]}
    assert current[0][4] == 1
    assert fake_runs.created[-1].idempotency_key == f"followup:{reference}:1:g1"


def test_a_run_moved_beyond_the_horizon_is_unscheduled_and_a_started_followup_kept(
    store: Store, fake_runs: FakeRuns
) -> None:
    arrived = NOW.date() - dt.timedelta(days=25)
    reference = stored_case(store, now=NOW, arrived_on=arrived)
    run(store, fake_runs, horizon_days=40)
    with store.transaction() as session:
        case = get_case(session, reference)
        case_followups(session, case)[1].state = "waiting"  # the mission was asked for #2
        correct_arrival(session, case, NOW.date(), actor="AB", now=NOW)

    result = run(store, fake_runs)

    current = rows(store, reference)
    assert result.unscheduled == 1
    assert current[0][1:2] == ("planned",)  # due in a month now: back in the store only
    assert current[1][2] == add_months(arrived, 3)  # asked already: its date stays
    assert (reference, 1) not in fake_runs.live()
    with store.transaction() as session, pytest.raises(IntakeInvalid, match="in the future"):
        correct_arrival(
            session, get_case(session, reference), NOW.date() + dt.timedelta(days=1),
            actor="AB", now=NOW,
        )  # fmt: skip


def test_an_overdue_report_is_escalated_exactly_once_to_mission_and_coordinators(
    stage_store: Store, fake_runs: FakeRuns, home: Path
) -> None:
    # Follow-up 1 was due 25 days ago, with a 14-day window: its deadline passed 11 days ago,
    # past the overdue rung (7 days after) and before the breach (14 days after). A scheduler
    # that was down until now sends the overdue rung only: the reminder is not sent late.
    reference = stored_case(
        stage_store, now=NOW, arrived_on=add_months(NOW.date(), -1) - dt.timedelta(days=25)
    )
    reports = [run(stage_store, fake_runs, now=NOW + dt.timedelta(days=d)) for d in (0, 0, 1)]
    deliver_due(stage_store, now=NOW + dt.timedelta(days=2))

    assert [r.escalated for r in reports] == [[(reference, 1)], [], []]
    with stage_store.transaction() as session:
        case = get_case(session, reference)
        ledger = session.execute(
            select(CaseAction.action, CaseAction.attempt).where(
                CaseAction.case_id == case.id, CaseAction.action.like("followup-%")
            )
        )
        assert [tuple(r) for r in ledger] == [("followup-overdue", 1)]
        outbox = session.scalar(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.case_id == case.id, OutboxItem.event == "followup-overdue")
        )
        assert outbox == 2
    assert sent(home, "mission-bg", reference) == ["followup-overdue"]
    assert sent(home, "coordinators", reference) == ["followup-overdue"]
    # The report can still come in: the follow-up has its run, and stays overdue until then.
    assert rows(stage_store, reference)[0][1] == "overdue"
    assert (reference, 1) in fake_runs.live()


def test_a_followup_asks_the_mission_once_and_a_raised_risk_alerts_coordinators_at_once(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, now=NOW, arrived_on=NOW.date() - dt.timedelta(days=40))
    assert open_followup.fn(reference, 1).proceed
    assert open_followup.fn(reference, 1).proceed  # a resumed run re-executes it
    report(stage_store, reference, 1, risk=True)
    outcome = conclude_followup.fn(reference, 1)
    conclude_followup.fn(reference, 1)

    assert (outcome.risk_raised, outcome.closed, outcome.stage) == (True, False, "follow-up")
    assert sent(home, "mission-bg", reference) == ["followup-due"]
    assert sent(home, "coordinators", reference) == ["risk-alert"]
    text = (home / "notifications" / "coordinators.jsonl").read_text()
    assert "Follow-up: 1" in text
    assert "Mission visits again" not in text  # the report's words stay sealed
    assert rows(stage_store, reference)[0][1] == "reported"
    assert not open_followup.fn(reference, 1).proceed  # a recreated run finds it reported


@pytest.mark.parametrize(
    ("closure", "risky", "closes"),
    [
        ("last-report-clear", set(), True),
        ("last-report-clear", {2}, True),
        ("last-report-clear", {4}, False),
        ("all-reports-clear", {2}, False),
    ],
)
def test_the_last_report_closes_the_case_unless_the_closure_rule_sees_a_risk(
    stage_store: Store,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    closure: str,
    risky: set[int],
    closes: bool,
) -> None:
    monkeypatch.setenv("SAFEPASSAGE_FOLLOWUP_PLANS", json.dumps({"BG": {"closure": closure}}))
    get_settings.cache_clear()
    reference = stored_case(stage_store, now=NOW, arrived_on=NOW.date() - dt.timedelta(days=400))
    outcomes = []
    for number in (3, 1, 4, 2):  # reports can come in any order; the plan's last one counts
        open_followup.fn(reference, number)
        report(stage_store, reference, number, risk=number in risky)
        outcomes.append(conclude_followup.fn(reference, number))

    assert [o.closed for o in outcomes] == [False, False, False, closes]
    with stage_store.transaction() as session:
        case = get_case(session, reference)
        assert case.stage == ("closed" if closes else "follow-up")
        assert (case.status == "ended") is closes
    mission = sent(home, "mission-bg", reference)
    assert mission.count("followup-due") == 4
    assert ("case-closed" in mission) is closes
    # A case the rule keeps open waits for a coordinator's decision, and they are told so.
    withheld = [] if closes else ["closure-withheld"]
    assert sent(home, "coordinators", reference) == ["risk-alert"] * len(risky) + withheld


def test_the_followups_of_an_ended_case_are_cancelled_and_their_runs_stopped(
    store: Store, fake_runs: FakeRuns
) -> None:
    reference = stored_case(store, now=NOW, arrived_on=NOW.date() - dt.timedelta(days=25))
    run(store, fake_runs)
    with store.transaction() as session:
        set_stage(session, get_case(session, reference), Stage.WITHDRAWN, actor="t", now=NOW)

    result = run(store, fake_runs)

    assert result.cancelled == 1
    assert [r[1] for r in rows(store, reference)][:1] == ["cancelled"]
    assert fake_runs.live() == {}


def test_a_plan_needs_increasing_offsets() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        FollowUpPlan(offsets_months=(1, 1, 3))
    assert FollowUpPlan().offsets_months == (1, 3, 6, 12)


def test_a_lost_run_of_a_followup_moved_beyond_the_horizon_goes_back_to_the_store(
    store: Store, fake_runs: FakeRuns
) -> None:
    reference = stored_case(store, now=NOW, arrived_on=NOW.date() - dt.timedelta(days=25))
    run(store, fake_runs, horizon_days=40)
    fake_runs.runs.clear()
    with store.transaction() as session:
        correct_arrival(session, get_case(session, reference), NOW.date(), actor="AB", now=NOW)

    result = run(store, fake_runs)

    assert (result.unscheduled, result.created, result.recreated) == (1, 0, 0)
    assert rows(store, reference)[0][1::2] == ("planned", None)
    assert fake_runs.live() == {}
