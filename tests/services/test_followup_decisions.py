"""A coordinator's decisions after the follow-ups (an extra one, closing a case held open) and
the person's choice to end follow-up contact, as the CLI and the gateway call them.

Prefect is the fake runs of tests/tasks/test_followups.py, reconciled where the services would
reach a server; the store, the ledger and the local notification logs are real.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from safepassage.models.clock import utcnow
from safepassage.models.consent_record import Purpose, Recipient
from safepassage.models.errors import CaseStateError, IntakeInvalid
from safepassage.models.followup_plan import add_months
from safepassage.models.store.cases import get_case, open_sealed
from safepassage.models.store.db import Store
from safepassage.models.store.followups import case_followups, correct_arrival
from safepassage.models.store.orm import CaseAction, CaseEvent
from safepassage.notifications import deliver_due
from safepassage.services import followup_decisions
from safepassage.services.data_protection import record_consent, record_consent_for
from safepassage.services.followup_decisions import add_followup, close_case
from safepassage.tasks.followups import conclude_followup, open_followup, reconcile_now
from tests.stored import stored_case
from tests.tasks.test_followup_ladder import report
from tests.tasks.test_followups import FakeRuns, rows, sent

ACTOR = "cli:t (by A. Coordinator)"


@pytest.fixture
def fake_runs(stage_store: Store, monkeypatch: pytest.MonkeyPatch) -> FakeRuns:
    """Prefect as the services reach it: the case's reconcile, against the fake runs."""
    runs = FakeRuns()
    monkeypatch.setattr(
        followup_decisions,
        "_reconcile",
        lambda ref: reconcile_now(stage_store, runs, at=utcnow(), reference=ref).as_dict(),
    )
    return runs


def held_open(store: Store) -> str:
    """A case whose four reports came in, the last raising a risk: it waits for a decision."""
    now = utcnow()
    reference = stored_case(store, now=now, arrived_on=now.date() - dt.timedelta(days=400))
    for number in (1, 2, 3, 4):
        open_followup.fn(reference, number)
        report(store, reference, number, reached=number != 4)
        assert not conclude_followup.fn(reference, number).closed
    return reference


def ledger(store: Store, reference: str, action: str) -> list[dict[str, object]]:
    with store.transaction() as session:
        case = get_case(session, reference)
        query = select(CaseAction.detail).where(
            CaseAction.case_id == case.id, CaseAction.action == action
        )
        return list(session.scalars(query))


def test_an_extra_followup_is_added_months_from_today_and_its_report_closes_the_case(
    stage_store: Store, fake_runs: FakeRuns, home: Path
) -> None:
    reference = held_open(stage_store)

    added = add_followup(reference, months="2", reason="person-unreachable", actor=ACTOR)

    today = utcnow().date()
    assert (added["number"], added["due_on"]) == (5, add_months(today, 2).isoformat())
    assert added["report_by"] == (add_months(today, 2) + dt.timedelta(days=14)).isoformat()
    assert rows(stage_store, reference)[4][1] == "planned"  # beyond the 30-day horizon
    assert ledger(stage_store, reference, "followup-added") == [
        {"follow_up": 5, "months": 2, "reason": "person-unreachable", "due_on": added["due_on"]}
    ]
    assert sent(home, "mission-bg", reference)[-1] == "followup-added"
    # A corrected arrival moves the plan's follow-ups, not the one added from today.
    with stage_store.transaction() as session:
        case = get_case(session, reference)
        moved = correct_arrival(
            session, case, today - dt.timedelta(days=410), actor=ACTOR, now=utcnow()
        )
        assert 5 not in [m.number for m in moved]
        assert case_followups(session, case)[4].due_on == add_months(today, 2)

    open_followup.fn(reference, 5)
    report(stage_store, reference, 5)
    assert conclude_followup.fn(reference, 5).closed


def test_an_extra_followup_is_refused_for_bad_input_naming_the_option_only(
    stage_store: Store, fake_runs: FakeRuns
) -> None:
    reference = held_open(stage_store)
    with pytest.raises(IntakeInvalid) as months:
        add_followup(reference, months="99", reason="risk-raised", actor=ACTOR)
    with pytest.raises(IntakeInvalid) as reason:
        add_followup(reference, months="1", reason="Ana Popescu moved", actor=ACTOR)
    assert [p.path for p in months.value.problems] == ["--months"]
    assert [p.path for p in reason.value.problems] == ["--reason"]
    assert "Popescu" not in str(reason.value.problems[0])
    assert len(rows(stage_store, reference)) == 4
    close_case(reference, reason="risk-resolved", actor=ACTOR)
    with pytest.raises(CaseStateError, match="has ended"):
        add_followup(reference, months="1", reason="risk-raised", actor=ACTOR)


def test_closing_a_case_cancels_its_followups_stops_their_runs_and_seals_the_note(
    stage_store: Store, fake_runs: FakeRuns, home: Path
) -> None:
    now = utcnow()
    reference = stored_case(stage_store, now=now, arrived_on=now.date() - dt.timedelta(days=25))
    reconcile_now(stage_store, fake_runs, at=now, reference=reference)
    assert fake_runs.live()  # follow-up 1's run waits for its date

    closed = close_case(
        reference, reason="referred-to-services", note="Ticket 4711 from the NGO", actor=ACTOR
    )

    assert closed["followups_cancelled"] == [1, 2, 3, 4]
    assert closed["runs"] is not None
    assert fake_runs.live() == {}
    assert [r[1] for r in rows(stage_store, reference)] == ["cancelled"] * 4
    assert sent(home, "mission-bg", reference)[-1] == "case-closed"
    with stage_store.transaction() as session:
        case = get_case(session, reference)
        assert case.stage == "closed"
        assert open_sealed(session, stage_store.master_key, case, "closure-note") == (
            b"Ticket 4711 from the NGO"
        )
        details = session.scalars(
            select(CaseEvent.detail).where(CaseEvent.reference == reference)
        ).all()
    assert "4711" not in repr(details)
    assert ledger(stage_store, reference, "case-closed-by-coordinator") == [
        {"reason": "referred-to-services", "note_kept": True, "followups_cancelled": [1, 2, 3, 4]}
    ]
    with pytest.raises(CaseStateError, match="has ended"):
        close_case(reference, reason="risk-resolved", actor=ACTOR)


def test_a_case_before_arrival_is_not_closed_but_withdrawn(
    stage_store: Store, fake_runs: FakeRuns
) -> None:
    reference = stored_case(stage_store, now=utcnow())
    with pytest.raises(CaseStateError, match="withdraw"):
        close_case(reference, reason="duplicate", actor=ACTOR)


def test_declined_followup_contact_cancels_the_followups_and_closes_on_the_last_due_date(
    stage_store: Store, fake_runs: FakeRuns, home: Path
) -> None:
    now = utcnow()
    arrived = now.date() - dt.timedelta(days=20)  # follow-up 1 has its run, no notice yet
    reference = stored_case(stage_store, now=now, arrived_on=arrived)
    reconcile_now(stage_store, fake_runs, at=now, reference=reference)
    assert fake_runs.live()

    change = record_consent_for(
        reference, recipient=Recipient.MISSION, purpose=Purpose.FOLLOWUP_CONTACT, agreed=False,
        language="ro", interpreter_used=True, actor=ACTOR,
    )  # fmt: skip

    assert change.changed
    assert [r[1] for r in rows(stage_store, reference)] == ["declined"] * 4
    assert fake_runs.live() == {}
    assert [r[3] for r in rows(stage_store, reference)] == [None] * 4  # stopped and forgotten
    assert sent(home, "mission-bg", reference) == ["followup-contact-declined"]
    assert sent(home, "coordinators", reference) == ["followup-contact-declined"]
    last_due = add_months(arrived, 12)
    assert ledger(stage_store, reference, "followup-contact-declined") == [
        {"followups_declined": [1, 2, 3, 4], "closes_on": last_due.isoformat()}
    ]
    # Nothing more goes to the mission about follow-ups; the case closes on schedule.
    for day in (add_months(arrived, 1) - dt.timedelta(days=7), last_due - dt.timedelta(days=1)):
        at = dt.datetime.combine(day, dt.time(6), dt.UTC)
        assert reconcile_now(stage_store, fake_runs, at=at).as_dict()["notified"] == []
        assert rows(stage_store, reference)[0][1] == "declined"
    on_last_due_date = dt.datetime.combine(last_due, dt.time(6), dt.UTC)
    at_last = reconcile_now(stage_store, fake_runs, at=on_last_due_date)
    deliver_due(stage_store, now=on_last_due_date)  # queued at the compressed clock's time
    assert at_last.closed == [reference]
    with stage_store.transaction() as session:
        assert get_case(session, reference).stage == "closed"
    assert sent(home, "mission-bg", reference) == ["followup-contact-declined", "case-closed"]
    with pytest.raises(CaseStateError):
        add_followup(reference, months="1", reason="risk-raised", actor=ACTOR)


def test_declining_all_sharing_with_the_mission_after_arrival_declines_followup_contact(
    stage_store: Store, fake_runs: FakeRuns, home: Path
) -> None:
    now = utcnow()
    reference = stored_case(stage_store, now=now, arrived_on=now.date() - dt.timedelta(days=5))
    record_consent(reference, share_with_mission=False, share_with_embassy=None, actor=ACTOR)
    assert [r[1] for r in rows(stage_store, reference)] == ["declined"] * 4
    # Agreeing again later does not bring the cancelled follow-ups back: that is `add`'s job.
    record_consent(reference, share_with_mission=True, share_with_embassy=None, actor=ACTOR)
    assert [r[1] for r in rows(stage_store, reference)] == ["declined"] * 4
    assert sent(home, "coordinators", reference) == ["followup-contact-declined"]
