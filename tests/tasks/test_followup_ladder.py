"""Follow-ups that cannot be lost: the notice ahead, the reminder and escalation ladder, a case
held open when the person was not reached at the last follow-up.

The daily scheduler is played on a compressed clock: the reconcile called once for each day
(and twice on some), with the fake runs of tests/tasks/test_followups.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint, FollowUpReportAnswer
from safepassage.models.errors import ConfigurationError
from safepassage.models.followup_ladder import RUNG_ACTIONS, FollowUpLadder, Rung
from safepassage.models.followup_plan import add_months, report_by
from safepassage.models.followup_reconcile import ReconcileReport, reconcile
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.orm import CaseAction
from safepassage.models.store.workflow import record_answer
from safepassage.notifications import deliver_due
from safepassage.tasks.checkpoints import summarise
from safepassage.tasks.followups import (
    conclude_followup,
    notify_closed,
    notify_rung,
    open_followup,
)
from tests.factories import TODAY
from tests.stored import stored_case
from tests.tasks.test_followups import NOW, FakeRuns, rows, sent

DAY = dt.timedelta(days=1)


def run(
    store: Store, runs: FakeRuns, day: dt.date, ladder: FollowUpLadder | None = None
) -> ReconcileReport:
    """The daily scheduler's reconcile on `day`, at 06:00 UTC."""
    now = dt.datetime(day.year, day.month, day.day, 6, tzinfo=dt.UTC)
    return reconcile(
        store, runs, now=now, horizon_days=30, notify=notify_rung, closed=notify_closed,
        ladder=ladder or FollowUpLadder(),
    )  # fmt: skip


def ledger(store: Store, reference: str) -> list[tuple[str, int]]:
    """Return the ladder's rungs recorded for the case, in order."""
    with store.transaction() as session:
        case = get_case(session, reference)
        query = (
            select(CaseAction.action, CaseAction.attempt)
            .where(CaseAction.case_id == case.id, CaseAction.action.in_(RUNG_ACTIONS))
            .order_by(CaseAction.id)
        )
        return [(a, n) for a, n in session.execute(query)]


def test_the_ladder_sends_each_rung_once_on_its_day_to_its_audience(
    stage_store: Store, home: Path
) -> None:
    runs = FakeRuns()
    arrived = NOW.date()
    reference = stored_case(stage_store, now=NOW, arrived_on=arrived)
    due = add_months(arrived, 1)
    deadline = report_by(due, 14)
    sent_on: dict[dt.date, list[Rung]] = {}
    day = NOW.date()
    while day <= deadline + dt.timedelta(days=20):
        for _ in range(2):  # however often the scheduler runs in a day
            for _, number, rung in run(stage_store, runs, day).notified:
                assert number == 1
                sent_on.setdefault(day, []).append(rung)
        day += DAY
    deliver_due(stage_store, now=dt.datetime.combine(day, dt.time(), dt.UTC))

    assert sent_on == {
        due - 7 * DAY: [Rung.NOTICE],
        deadline: [Rung.REMINDER],
        deadline + 7 * DAY: [Rung.OVERDUE],
        deadline + 14 * DAY: [Rung.BREACH],
    }
    assert ledger(stage_store, reference) == [
        ("followup-notice", 1),
        ("followup-reminder", 1),
        ("followup-overdue", 1),
        ("followup-breach", 1),
    ]
    assert sent(home, "mission-bg", reference) == [
        "followup-notice",
        "followup-reminder",
        "followup-overdue",
    ]
    assert sent(home, "coordinators", reference) == ["followup-overdue", "sla-breached"]
    # The notice says the real deadline: the due date plus the report window.
    notice = next(
        json.loads(line)
        for line in (home / "notifications" / "mission-bg.jsonl").read_text().splitlines()
        if "followup-notice" in json.loads(line)["title"]
    )
    assert f"Report by: {deadline.isoformat()}" in notice["body"]
    assert f"Due on: {due.isoformat()}" in notice["body"]
    assert rows(stage_store, reference)[0][1] == "overdue"


def test_a_late_first_reconcile_sends_only_the_rungs_still_due_and_no_notice_after_the_due_date(
    stage_store: Store,
) -> None:
    runs = FakeRuns()
    arrived = NOW.date()
    reference = stored_case(stage_store, now=NOW, arrived_on=arrived)
    due = add_months(arrived, 1)
    deadline = report_by(due, 14)

    on_due_date = run(stage_store, runs, due)  # the notice's time has passed: not sent late
    nine_days_late = run(stage_store, runs, deadline + 9 * DAY)  # the reminder is passed over
    next_day = run(stage_store, runs, deadline + 10 * DAY)
    at_breach = run(stage_store, runs, deadline + 14 * DAY)

    assert [r.notified for r in (on_due_date, nine_days_late, next_day, at_breach)] == [
        [],
        [(reference, 1, Rung.OVERDUE)],
        [],
        [(reference, 1, Rung.BREACH)],
    ]
    assert ledger(stage_store, reference) == [("followup-overdue", 1), ("followup-breach", 1)]


def test_a_reported_followup_climbs_no_further(stage_store: Store) -> None:
    runs = FakeRuns()
    reference = stored_case(stage_store, now=NOW, arrived_on=NOW.date())
    due = add_months(NOW.date(), 1)
    run(stage_store, runs, due - 7 * DAY)
    open_followup.fn(reference, 1)
    report(stage_store, reference, 1)
    conclude_followup.fn(reference, 1)

    later = [run(stage_store, runs, due + d * DAY).notified for d in range(0, 40, 3)]

    assert later == [[]] * len(later)
    assert ledger(stage_store, reference) == [("followup-notice", 1)]


def test_the_ladder_is_configurable_and_a_ladder_out_of_order_is_refused_by_name(
    stage_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "SAFEPASSAGE_FOLLOWUP_LADDER", '{"notice_days_before": 3, "overdue_days_after": 2}'
    )
    get_settings.cache_clear()
    ladder = get_settings().followup_ladder
    assert (ladder.notice_days_before, ladder.overdue_days_after) == (3, 2)
    reference = stored_case(stage_store, now=NOW, arrived_on=NOW.date())
    due = add_months(NOW.date(), 1)
    runs = FakeRuns()
    assert run(stage_store, runs, due - 4 * DAY, ladder).notified == []
    assert run(stage_store, runs, due - 3 * DAY, ladder).notified == [(reference, 1, Rung.NOTICE)]
    deadline = report_by(due, 14)
    assert run(stage_store, runs, deadline + 2 * DAY, ladder).notified == [
        (reference, 1, Rung.OVERDUE)
    ]

    monkeypatch.setenv(
        "SAFEPASSAGE_FOLLOWUP_LADDER", '{"overdue_days_after": 20, "breach_days_after": 10}'
    )
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="SAFEPASSAGE_FOLLOWUP_LADDER") as refused:
        get_settings()
    assert "breach_days_after" in str(refused.value)
    monkeypatch.setenv("SAFEPASSAGE_FOLLOWUP_LADDER", '{"notice_days_before": 0}')
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="SAFEPASSAGE_FOLLOWUP_LADDER"):
        get_settings()


def report(store: Store, reference: str, number: int, *, reached: bool = True) -> None:
    """Enter follow-up report `number`, no risk; `reached=False`: the person was not reached."""
    raw = sample_answer(
        Checkpoint.FOLLOWUP_REPORT, attempt=number, scenario=Scenario(), today=TODAY
    )
    if not reached:
        raw.update(contacted=False, wellbeing="unreachable", risk_of_retrafficking="none")
        raw.pop("indicators", None)  # a person not reached answers none
    answer = FollowUpReportAnswer.model_validate(raw)
    with store.transaction() as session:
        record_answer(
            session, store.master_key, get_case(session, reference), "followup-report", number,
            answer_json=answer.model_dump_json().encode(), entered_by="t",
            summary=summarise(Checkpoint.FOLLOWUP_REPORT, answer), now=NOW,
        )  # fmt: skip


def test_a_person_not_reached_at_the_last_followup_keeps_the_case_open_for_coordinators(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, now=NOW, arrived_on=NOW.date() - dt.timedelta(days=400))
    outcomes = []
    for number in (1, 2, 3, 4):
        open_followup.fn(reference, number)
        report(stage_store, reference, number, reached=number != 4)
        outcomes.append(conclude_followup.fn(reference, number))
    conclude_followup.fn(reference, 4)  # a replay tells nobody twice

    assert [o.closed for o in outcomes] == [False, False, False, False]
    assert outcomes[-1].stage == "follow-up"
    assert sent(home, "coordinators", reference) == ["closure-withheld"]
    assert "case-closed" not in sent(home, "mission-bg", reference)
    with stage_store.transaction() as session:
        case = get_case(session, reference)
        withheld = session.scalar(
            select(CaseAction.detail).where(
                CaseAction.case_id == case.id, CaseAction.action == "closure-withheld"
            )
        )
    assert withheld is not None
    assert withheld["reason"] == "the mission could not reach the person at the last follow-up"


def test_a_person_not_reached_before_the_last_followup_does_not_keep_the_case_open(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, now=NOW, arrived_on=NOW.date() - dt.timedelta(days=400))
    for number in (1, 2, 3, 4):
        open_followup.fn(reference, number)
        report(stage_store, reference, number, reached=number != 2)
        outcome = conclude_followup.fn(reference, number)

    assert outcome.closed
    assert sent(home, "coordinators", reference) == []
