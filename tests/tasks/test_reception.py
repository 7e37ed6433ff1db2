"""The reception checkpoint as stage functions: who is asked, told and reminded, and who answered.

No Prefect server: the stages run as plain functions against the test store (SQLite and
PostgreSQL), and the default targets write each message to a local JSON-lines log.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import FORMS, Checkpoint
from safepassage.models.errors import CaseWithdrawn
from safepassage.models.roles import Role
from safepassage.models.settings import get_settings
from safepassage.models.sla import ledger_attempt
from safepassage.models.store.accounts import add_account, disable_account
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.events import case_events
from safepassage.models.store.mission_tokens import create_token, revoke_token
from safepassage.models.store.orm import CaseAction, CheckpointAnswer
from safepassage.models.store.workflow import open_checkpoint, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.tasks.checkpoints import _judge, summarise
from safepassage.tasks.reception import (
    conclude_reception,
    conclude_reception_decision,
    request_reception,
)
from safepassage.tasks.sla import raise_breaches, send_reminders
from safepassage.tasks.withdrawal import mark_withdrawn
from tests.factories import PERSONAL_VALUES, TODAY
from tests.stored import STORED_AT, stored_case

GATEWAY = "https://gateway.example.org"
DAY = dt.timedelta(days=1)


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch, stage_store: Store) -> Store:
    """The test store, with SAFEPASSAGE_GATEWAY_URL set (the stages read it per call)."""
    monkeypatch.setenv("SAFEPASSAGE_GATEWAY_URL", GATEWAY + "/")
    get_settings.cache_clear()
    return stage_store


def messages(home: Path, tag: str, reference: str) -> list[dict[str, str]]:
    path = home / "notifications" / f"{tag}.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line["title"].startswith(f"SafePassage {reference}: ")]


def events(home: Path, tag: str, reference: str) -> list[str]:
    return [m["title"].split(": ", 1)[1] for m in messages(home, tag, reference)]


def sample(checkpoint: Checkpoint, **changes: Any) -> dict[str, Any]:
    answer = sample_answer(checkpoint, attempt=1, scenario=Scenario(), today=TODAY)
    return {**answer, **changes}


# --- what the flow branches on, and who answered -------------------------------------------


def test_a_reception_summary_says_accepted_and_a_decision_its_choice_and_nothing_else() -> None:
    reception = FORMS[Checkpoint.RECEPTION].model_validate(sample(Checkpoint.RECEPTION))
    declined = FORMS[Checkpoint.RECEPTION].model_validate(
        sample(Checkpoint.RECEPTION, accepted=False, notes="No shelter place free.")
    )
    decision = FORMS[Checkpoint.RECEPTION_DECISION].model_validate(
        sample(Checkpoint.RECEPTION_DECISION, decision="stop")
    )
    assert summarise(Checkpoint.RECEPTION, reception) == {"accepted": True}
    assert summarise(Checkpoint.RECEPTION, declined) == {"accepted": False}  # notes stay sealed
    assert summarise(Checkpoint.RECEPTION_DECISION, decision) == {"decision": "stop"}


def _speakers(store: Store) -> None:
    """Accounts and tokens of the Bulgarian and Romanian missions, and a coordinator."""
    with store.transaction() as session:
        for name, role, mission in [
            ("sofia.officer", Role.MISSION, "BG"),
            ("sofia.former", Role.MISSION, "BG"),
            ("bucharest.officer", Role.MISSION, "RO"),
            ("ana.coordinator", Role.COORDINATOR, None),
        ]:
            add_account(
                session, store.master_key, name=name, role=role, mission=mission, actor="op",
                now=STORED_AT,
            )  # fmt: skip
        disable_account(session, name="sofia.former", actor="op", now=STORED_AT)
        create_token(session, name="sofia-system", mission="BG", actor="op", now=STORED_AT)
        create_token(session, name="sofia-old-system", mission="BG", actor="op", now=STORED_AT)
        revoke_token(session, name="sofia-old-system", actor="op", now=STORED_AT)
        create_token(session, name="bucharest-system", mission="RO", actor="op", now=STORED_AT)


@pytest.mark.parametrize(
    ("entered_by", "on_behalf"),
    [
        ("sofia.officer", False),  # the case's mission, signed in to its portal
        ("sofia-system", False),  # the case's mission's own system, by its token
        ("ana.coordinator", True),  # a coordinator, in the Prefect UI
        ("bucharest.officer", True),  # another country's mission
        ("bucharest-system", True),  # another country's mission system
        ("sofia.former", True),  # a disabled account
        ("sofia-old-system", True),  # a revoked token
        ("Sofia.Officer", True),  # not the name as the gateway writes it
        (None, True),  # nobody named: Prefect's own port
    ],
)
def test_a_mission_answer_is_its_own_only_from_its_enabled_account_or_live_token(
    stage_store: Store, entered_by: str | None, on_behalf: bool
) -> None:
    _speakers(stage_store)
    reference = stored_case(stage_store, "BG")
    raw = sample(Checkpoint.RECEPTION, entered_by=entered_by)
    with case_transaction(reference) as (store, session, case):
        accepted = _judge(session, store.master_key, case, Checkpoint.RECEPTION, attempt=1, raw=raw)
        answer = session.scalar(select(CheckpointAnswer).where(CheckpointAnswer.case_id == case.id))
        (answered,) = [
            e for e in case_events(session, reference) if e.kind == "checkpoint-answered"
        ]
    assert accepted.accepted
    assert accepted.summary == {"accepted": True, "on_behalf_of_mission": on_behalf}
    assert answer is not None
    assert answer.summary["on_behalf_of_mission"] is on_behalf
    assert answered.detail == {
        "checkpoint": "reception",
        "attempt": 1,
        "accepted": True,
        "on_behalf_of_mission": on_behalf,
    }


def test_the_on_behalf_flag_cannot_be_submitted_and_only_mission_checkpoints_carry_it(
    stage_store: Store,
) -> None:
    _speakers(stage_store)
    reference = stored_case(stage_store, "BG")
    forged = sample(Checkpoint.RECEPTION, entered_by="ana.coordinator", on_behalf_of_mission=False)
    document = sample(Checkpoint.TRAVEL_DOCUMENT, entered_by="sofia.officer")
    with case_transaction(reference) as (store, session, case):
        refused = _judge(
            session, store.master_key, case, Checkpoint.RECEPTION, attempt=1, raw=forged
        )
        office = _judge(
            session, store.master_key, case, Checkpoint.TRAVEL_DOCUMENT, attempt=1, raw=document
        )
    assert not refused.accepted
    assert refused.problems == [
        "<unknown field>: is not a field of this form: remove it or check its spelling"
    ]
    assert office.accepted
    assert "on_behalf_of_mission" not in office.summary


# --- asking the mission, and what follows its answer ---------------------------------------


def test_the_mission_is_asked_once_per_attempt_with_a_link_and_a_due_date_and_nothing_personal(
    gateway: Store, home: Path
) -> None:
    reference = stored_case(gateway, "RO")
    for _ in range(2):  # a replayed or retried stage
        request_reception.fn(reference, 1)

    (asked,) = messages(home, "mission-ro", reference)
    assert asked["title"] == f"SafePassage {reference}: reception-requested"
    assert f"Link: {GATEWAY}/mission/cases/{reference}\n" in asked["body"]
    due = (dt.datetime.now(dt.UTC) + 3 * DAY).date().isoformat()
    assert f"Due on: {due}" in asked["body"]
    assert "whether you can receive the person" in asked["body"]
    for value in PERSONAL_VALUES.values():
        assert value not in asked["body"]
    assert events(home, "embassy-ro", reference) == []
    with gateway.transaction() as session:
        assert get_case(session, reference).stage == "reception"


def test_without_a_gateway_the_mission_is_asked_without_a_link(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "CZ")
    request_reception.fn(reference, 1)
    (asked,) = messages(home, "mission-cz", reference)
    assert "Link:" not in asked["body"]
    assert "Due on:" in asked["body"]


def test_a_declined_reception_alerts_coordinators_and_a_retry_asks_the_mission_again(
    gateway: Store, home: Path
) -> None:
    reference = stored_case(gateway, "BG")
    request_reception.fn(reference, 1)
    assert conclude_reception.fn(reference, 1, accepted=False) is False
    assert conclude_reception.fn(reference, 1, accepted=False) is False  # replayed: once
    assert events(home, "coordinators", reference) == ["reception-declined"]
    (alert,) = messages(home, "coordinators", reference)
    assert "waits at reception-decision" in alert["body"]

    assert conclude_reception_decision.fn(reference, 1, "retry") is True
    request_reception.fn(reference, 2)
    assert conclude_reception.fn(reference, 2, accepted=True) is True

    assert events(home, "mission-bg", reference) == ["reception-requested"] * 2
    assert events(home, "coordinators", reference) == ["reception-declined"]
    with gateway.transaction() as session:
        case = get_case(session, reference)
        assert case.stage == "reception"  # the ticket comes next, in the flow
        ledger = session.scalars(
            select(CaseAction.action).where(CaseAction.case_id == case.id).order_by(CaseAction.id)
        )
        assert list(ledger) == [
            "reception-requested", "reception-declined", "reception-retried",
            "reception-requested", "reception-confirmed",
        ]  # fmt: skip


def test_a_stop_ends_the_return_as_stopped_and_tells_the_mission_and_the_embassy_once(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "RO")
    request_reception.fn(reference, 1)
    conclude_reception.fn(reference, 1, accepted=False)
    for _ in range(2):
        assert conclude_reception_decision.fn(reference, 1, "stop") is False

    with stage_store.transaction() as session:
        case = get_case(session, reference)
        assert (case.stage, case.status, case.ended_at is not None) == ("stopped", "ended", True)
    assert events(home, "mission-ro", reference) == ["reception-requested", "return-stopped"]
    assert events(home, "embassy-ro", reference) == ["return-stopped"]
    assert events(home, "coordinators", reference) == ["reception-declined"]  # no booking
    (stopped,) = messages(home, "embassy-ro", reference)
    assert "the receiving mission could not receive the person" in stopped["body"]
    assert "Stop processing for this case." in stopped["body"]


def test_a_person_can_withdraw_while_the_mission_is_asked_and_no_stage_acts_after(
    stage_store: Store,
) -> None:
    reference = stored_case(stage_store, "BG")
    request_reception.fn(reference, 1)
    assert mark_withdrawn.fn(reference).from_stage == "reception"
    with pytest.raises(CaseWithdrawn):
        conclude_reception.fn(reference, 1, accepted=True)


# --- time limits: a reminder at half, the coordinators past the whole ----------------------


T0 = dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)


def _waiting_at_reception(store: Store, *, attempt: int = 1) -> str:
    reference = stored_case(store, "BG", now=T0)
    with store.transaction() as session:
        case = get_case(session, reference)
        set_stage(session, case, Stage.RECEPTION, actor="flow", now=T0)
        open_checkpoint(session, case, "reception", attempt, now=T0)
    return reference


def test_the_mission_is_reminded_once_at_half_the_limit_and_coordinators_alerted_past_it(
    gateway: Store, home: Path
) -> None:
    reference = _waiting_at_reception(gateway)

    assert send_reminders(gateway, at=T0 + 1.4 * DAY) == []  # 3 days allowed: half is 1.5
    assert send_reminders(gateway, at=T0 + 1.5 * DAY) == [reference]
    for days in (2, 2.9, 3.5, 10):
        assert send_reminders(gateway, at=T0 + days * DAY) == []
    assert raise_breaches(gateway, at=T0 + 2.9 * DAY) == []
    assert raise_breaches(gateway, at=T0 + 3 * DAY + dt.timedelta(minutes=1)) == [reference]
    assert raise_breaches(gateway, at=T0 + 4 * DAY) == []

    (reminder,) = messages(home, "mission-bg", reference)
    assert reminder["title"] == f"SafePassage {reference}: reception-reminder"
    assert "Due on: 2026-12-02" in reminder["body"]  # opened 29 November, plus 3 days
    assert f"Link: {GATEWAY}/mission/cases/{reference}" in reminder["body"]
    for value in PERSONAL_VALUES.values():
        assert value not in reminder["body"]
    assert events(home, "coordinators", reference) == ["sla-breached"]
    with gateway.transaction() as session:
        case = get_case(session, reference)
        rows = session.execute(
            select(CaseAction.action, CaseAction.attempt, CaseAction.detail).where(
                CaseAction.case_id == case.id
            )
        )
        assert sorted((a, n, d) for a, n, d in rows) == [
            ("reminder-sent", ledger_attempt(Checkpoint.RECEPTION, 1),
             {"checkpoint": "reception", "checkpoint_attempt": 1}),
            ("sla-breached", ledger_attempt(Checkpoint.RECEPTION, 1),
             {"checkpoint": "reception", "checkpoint_attempt": 1}),
        ]  # fmt: skip


def test_a_new_ask_of_the_mission_is_reminded_again_and_other_checkpoints_never(
    stage_store: Store, home: Path
) -> None:
    reference = _waiting_at_reception(stage_store)
    other = stored_case(stage_store, "BG", now=T0)
    with stage_store.transaction() as session:
        open_checkpoint(session, get_case(session, other), "travel-document", 1, now=T0)
    assert send_reminders(stage_store, at=T0 + 2 * DAY) == [reference]
    with stage_store.transaction() as session:  # declined, then asked again
        case = get_case(session, reference)
        case.waiting_for = None
        open_checkpoint(session, case, "reception", 2, now=T0 + 2 * DAY)
    assert send_reminders(stage_store, at=T0 + 3 * DAY) == []
    assert send_reminders(stage_store, at=T0 + 3.5 * DAY) == [reference]
    assert send_reminders(stage_store, at=T0 + 30 * DAY) == []  # the travel document: no reminder
    assert events(home, "mission-bg", reference) == ["reception-reminder"] * 2
    assert events(home, "mission-bg", other) == []
