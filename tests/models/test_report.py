"""The case report's figures agree with counts taken straight from SQL, on both databases."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.report import build_report, markdown
from safepassage.models.rules import decide
from safepassage.models.sla import DEFAULT_LIMIT_DAYS, limits
from safepassage.models.store.cases import create_case, get_case
from safepassage.models.store.db import Store
from safepassage.models.store.orm import FollowUp, OutboxItem
from safepassage.models.store.workflow import open_checkpoint, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, queue_notifications
from tests.factories import PERSONAL_VALUES, TODAY, intake

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

#: (programme, stages moved through with the day of each move, checkpoint opened and its day)
SEED: list[tuple[str, list[tuple[Stage, int]], tuple[Checkpoint, int] | None]] = [
    ("BG", [(Stage.TRAVEL_DOCUMENT, 1)], (Checkpoint.TRAVEL_DOCUMENT, 1)),  # 29 days: over 21
    ("BG", [(Stage.TRAVEL_DOCUMENT, 2)], (Checkpoint.TRAVEL_DOCUMENT, 20)),  # 10 days: within
    ("BG", [(Stage.TRAVEL_DOCUMENT, 1), (Stage.TICKETING, 4)], (Checkpoint.TICKET, 25)),  # 5 d
    ("RO", [(Stage.TRAVEL_DOCUMENT, 1), (Stage.TICKETING, 7)], (Checkpoint.TICKET, 8)),  # 22 d
    ("RO", [], (Checkpoint.IDENTIFICATION_REVIEW, 0)),  # 30 days: over 5
    ("CZ", [(Stage.TICKETING, 3), (Stage.DEPARTURE, 5), (Stage.ARRIVAL, 6)], None),
    ("HU", [(Stage.TICKETING, 2), (Stage.DEPARTURE, 9), (Stage.ARRIVAL, 10)], None),
    ("HU", [(Stage.WITHDRAWN, 3)], None),
    ("ADHOC", [], None),
]


def _seed(store: Store) -> list[str]:
    references = []
    with store.transaction() as session:
        for programme, moves, checkpoint in SEED:
            case_file = intake(programme)
            case = create_case(
                session,
                store.master_key,
                case_file,
                decide(case_file, today=TODAY),
                actor="t",
                now=T0,
            )
            for stage, day in moves:
                set_stage(session, case, stage, actor="t", now=T0 + day * DAY)
            if checkpoint is not None:
                name, day = checkpoint
                open_checkpoint(session, case, name.value, 1, now=T0 + day * DAY)
            references.append(case.reference)
        _seed_followups(session, references)
        _seed_outbox(session, store, references)
    return references


def _followup(case_id: int, number: int, due_on: dt.date, window: int, **changes: Any) -> FollowUp:
    # Columns another change adds to the table (a plan offset) are filled when they exist.
    extra = {"offset_months": number} if "offset_months" in FollowUp.__table__.c else {}
    values: dict[str, Any] = {
        "case_id": case_id,
        "number": number,
        "due_on": due_on,
        "window_days": window,
        "state": "planned",
        "reported_at": None,
        "created_at": T0,
        "updated_at": T0,
        **extra,
        **changes,
    }
    return FollowUp(**values)


def _seed_followups(session: Session, references: list[str]) -> None:
    cz, hu = get_case(session, references[5]), get_case(session, references[6])
    today = NOW.date()
    session.add_all(
        [
            _followup(cz.id, 1, today - 20 * DAY, 14),  # window passed: overdue
            _followup(cz.id, 2, today - 10 * DAY, 14),  # within its window
            _followup(cz.id, 3, today - 40 * DAY, 30),  # 30-day window passed: overdue
            _followup(hu.id, 1, today - 30 * DAY, 14, state="reported", reported_at=NOW),
            _followup(hu.id, 2, today - 30 * DAY, 14),  # overdue
            _followup(hu.id, 3, today + 5 * DAY, 14),  # not due yet
        ]
    )
    session.flush()


def _seed_outbox(session: Session, store: Store, references: list[str]) -> None:
    for reference in references[:4]:
        case = get_case(session, reference)
        queue_notifications(session, store.master_key, case, Event.CASE_ACCEPTED, now=T0)
    failed = [get_case(session, r).id for r in (references[0], references[3])]
    session.execute(update(OutboxItem).where(OutboxItem.case_id.in_(failed)).values(state="failed"))


def _sql(session: Session, statement: str, **params: Any) -> dict[Any, int]:
    return {tuple(row[:-1]): int(row[-1]) for row in session.execute(text(statement), params)}


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)  # as the store keeps it


def test_report_figures_match_counts_taken_in_sql(store: Store) -> None:
    references = _seed(store)
    rules = limits_for_test()
    with store.transaction() as session:
        report = build_report(session, store.master_key, now=NOW, limits=rules)
        dialect = session.get_bind().dialect.name

        by_stage = _sql(
            session, "SELECT programme, stage, count(*) FROM cases GROUP BY programme, stage"
        )
        waiting = _sql(
            session,
            "SELECT waiting_for, count(*) FROM cases WHERE waiting_for IS NOT NULL "
            "GROUP BY waiting_for",
        )
        over = {}
        for checkpoint, limit in rules.items():
            over.update(
                _sql(
                    session,
                    "SELECT waiting_for, count(*) FROM cases WHERE waiting_for = :c "
                    "AND waiting_since < :cutoff GROUP BY waiting_for",
                    c=checkpoint.value,
                    cutoff=_naive(NOW - limit),
                )
            )
        window_end = (
            "due_on + window_days"
            if dialect == "postgresql"
            else "date(due_on, '+' || window_days || ' days')"
        )
        overdue = _sql(
            session,
            "SELECT c.programme, count(*) FROM followups f JOIN cases c ON c.id = f.case_id "
            f"WHERE f.reported_at IS NULL AND f.state = 'planned' AND {window_end} < :today "
            "GROUP BY c.programme",
            today=NOW.date(),
        )
        failed = _sql(
            session,
            "SELECT c.programme, count(*) FROM outbox_items o JOIN cases c ON c.id = o.case_id "
            "WHERE o.state = 'failed' GROUP BY c.programme",
        )

    assert {(s.programme, s.stage): s.cases for s in report.stages} == by_stage
    assert report.total_cases == len(SEED)
    assert {(w.checkpoint,): w.cases for w in report.waiting} == waiting
    assert {(w.checkpoint,): w.over_limit for w in report.waiting if w.over_limit} == over
    assert sorted(b.reference for b in report.breaches) == sorted(
        [references[0], references[3], references[4]]
    )
    assert (
        {(f.programme,): f.count for f in report.followups_overdue}
        == overdue
        == {
            ("CZ",): 2,
            ("HU",): 1,
        }
    )
    assert {(d.programme,): d.count for d in report.deliveries_failed} == failed
    assert sum(failed.values()) > 0

    # The longest wait at the travel document: case 0, waiting since day 1 (29 days).
    travel = next(w for w in report.waiting if w.checkpoint == "travel-document")
    assert travel.longest_days == 29.0
    # Time per stage from the event log: CZ left identification on day 3, ticketing on day 5.
    times = {(t.programme, t.stage): (t.stays, t.mean_days) for t in report.stage_times}
    assert times[("CZ", "identification")] == (1, 3.0)
    assert times[("CZ", "ticketing")] == (1, 2.0)
    assert times[("HU", "identification")] == (2, 2.5)  # 2 days and 3 days (the withdrawal)
    assert ("CZ", "arrival") not in times  # still there: open stays are not averaged


def test_report_rows_and_markdown_carry_no_personal_data(store: Store) -> None:
    _seed(store)
    with store.transaction() as session:
        report = build_report(session, store.master_key, now=NOW, limits=limits_for_test())
    rows = report.rows()
    assert {r["section"] for r in rows} == {
        "cases by stage",
        "waiting at checkpoint",
        "over time limit",
        "follow-ups overdue",
        "deliveries failed",
        "days per stage",
    }
    assert sum(r["count"] for r in rows if r["section"] == "cases by stage") == len(SEED)
    everything = json.dumps(report.as_dict()) + json.dumps(rows) + markdown(report)
    for value in PERSONAL_VALUES.values():
        assert value not in everything


def limits_for_test() -> dict[Checkpoint, dt.timedelta]:
    """Return the default limits (what an office gets without SAFEPASSAGE_SLA_DAYS)."""
    from safepassage.models.settings import Settings

    found = limits(Settings())
    assert {c: d / DAY for c, d in found.items()} == DEFAULT_LIMIT_DAYS
    return found
