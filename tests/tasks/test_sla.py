"""A case past its time limit alerts coordinators once, however often the check runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import ConfigurationError
from safepassage.models.rules import decide
from safepassage.models.settings import Settings
from safepassage.models.sla import ledger_attempt, limits
from safepassage.models.store.cases import create_case, get_case
from safepassage.models.store.db import Store
from safepassage.models.store.orm import CaseAction, OutboxItem
from safepassage.models.store.workflow import open_checkpoint, record_answer, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.tasks.sla import raise_breaches
from tests.factories import PERSONAL_VALUES, TODAY, intake

T0 = dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _waiting(
    store: Store, checkpoint: Checkpoint, *, attempt: int = 1, programme: str = "BG"
) -> str:
    case_file = intake(programme)
    with store.transaction() as session:
        case = create_case(
            session, store.master_key, case_file, decide(case_file, today=TODAY), actor="t", now=T0
        )
        set_stage(session, case, Stage.TRAVEL_DOCUMENT, actor="flow", now=T0)
        open_checkpoint(session, case, checkpoint.value, attempt, now=T0)
        return case.reference


def _alerts(home: Path, reference: str) -> list[dict[str, str]]:
    path = home / "notifications" / "coordinators.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line["title"] == f"SafePassage {reference}: sla-breached"]


def _ledger(store: Store, reference: str) -> list[tuple[int, dict[str, object]]]:
    with store.transaction() as session:
        case = get_case(session, reference)
        rows = session.scalars(
            select(CaseAction).where(
                CaseAction.case_id == case.id, CaseAction.action == "sla-breached"
            )
        )
        return [(row.attempt, row.detail) for row in rows]


def test_a_breach_alerts_coordinators_once_however_often_the_check_runs(
    stage_store: Store, home: Path
) -> None:
    reference = _waiting(stage_store, Checkpoint.TRAVEL_DOCUMENT)

    assert raise_breaches(stage_store, at=T0 + 20 * DAY) == []  # 21 days allowed
    assert raise_breaches(stage_store, at=T0 + 21 * DAY + dt.timedelta(minutes=1)) == [reference]
    for days in (22, 23, 40):
        assert raise_breaches(stage_store, at=T0 + days * DAY) == []

    attempt = ledger_attempt(Checkpoint.TRAVEL_DOCUMENT, 1)
    assert _ledger(stage_store, reference) == [
        (attempt, {"checkpoint": "travel-document", "checkpoint_attempt": 1})
    ]
    (alert,) = _alerts(home, reference)
    assert "waiting at travel-document (attempt 1) past its time limit of 21 days" in alert["body"]
    assert "2026-12-20" in alert["body"]  # due on: opened on 29 November, plus 21 days
    for value in PERSONAL_VALUES.values():
        assert value not in alert["body"]
    with stage_store.transaction() as session:
        queued = session.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.event == "sla-breached")
        )
    assert queued == 1


def test_each_ask_of_a_checkpoint_is_a_wait_of_its_own(stage_store: Store, home: Path) -> None:
    reference = _waiting(stage_store, Checkpoint.TICKET)
    assert raise_breaches(stage_store, at=T0 + 8 * DAY) == [reference]
    with stage_store.transaction() as session:  # a new booking: the ticket is asked again
        case = get_case(session, reference)
        case.waiting_for = None
        open_checkpoint(session, case, Checkpoint.TICKET.value, 2, now=T0 + 9 * DAY)
    assert raise_breaches(stage_store, at=T0 + 15 * DAY) == []
    assert raise_breaches(stage_store, at=T0 + 17 * DAY) == [reference]
    assert [a for a, _ in _ledger(stage_store, reference)] == [
        ledger_attempt(Checkpoint.TICKET, 1),
        ledger_attempt(Checkpoint.TICKET, 2),
    ]
    assert len(_alerts(home, reference)) == 2


def test_the_departure_clock_starts_at_the_booked_flight_which_no_alert_reveals(
    stage_store: Store, home: Path
) -> None:
    reference = _waiting(stage_store, Checkpoint.TICKET)
    flight = T0 + 10 * DAY
    ticket = {
        "entered_by": "t",
        "booking_reference": "SP1X7Q",
        "carrier": "Demo Air",
        "departure_at": flight.isoformat(),
        "arrival_at": (flight + dt.timedelta(hours=3)).isoformat(),
        "arrival_airport": "SOF",
        "escort": False,
    }
    with stage_store.transaction() as session:
        case = get_case(session, reference)
        record_answer(
            session,
            stage_store.master_key,
            case,
            Checkpoint.TICKET.value,
            1,
            answer_json=json.dumps(ticket).encode(),
            entered_by="t",
            summary={"escort": False},
            now=T0 + DAY,
        )
        open_checkpoint(session, case, Checkpoint.DEPARTURE.value, 1, now=T0 + DAY)

    # Booked ten days ahead: waiting 5 days at departure is no breach of its 2 days.
    assert raise_breaches(stage_store, at=T0 + 5 * DAY) == []
    assert raise_breaches(stage_store, at=flight + DAY) == []
    assert raise_breaches(stage_store, at=flight + 2 * DAY + dt.timedelta(hours=1)) == [reference]
    (alert,) = _alerts(home, reference)
    assert "2 days after the booked departure" in alert["body"]
    assert flight.date().isoformat() not in alert["body"]
    # No due date is given: it would be the flight's date plus two days. (The message's own
    # date is the day the check ran, after the flight, as for any alert.)
    assert "Due on" not in alert["body"]


def test_limits_are_configurable_and_a_wrong_name_is_refused() -> None:
    assert limits(Settings(sla_days={"travel-document": 28}))[Checkpoint.TRAVEL_DOCUMENT] == (
        28 * DAY
    )
    with pytest.raises(ConfigurationError, match="SAFEPASSAGE_SLA_DAYS names 'passport'"):
        limits(Settings(sla_days={"passport": 3}))
    with pytest.raises(ConfigurationError, match="above 0"):
        limits(Settings(sla_days={"ticket": 0}))


def test_ledger_attempts_differ_per_checkpoint_and_ask() -> None:
    codes = {ledger_attempt(c, a) for c in Checkpoint for a in range(1, 6)}
    assert len(codes) == len(Checkpoint) * 5
    assert max(codes) < 2**31  # an INTEGER column on both databases
