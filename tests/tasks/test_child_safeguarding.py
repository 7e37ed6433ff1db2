"""Child safeguarding as stage functions: who is a child on the day of travel, and what the
guardian's consent and the best-interests determination set going (each effect once).

No Prefect server: the stages run as plain functions against the test store (SQLite and
PostgreSQL); the default targets write each message to a local JSON-lines log.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import CaseStateError
from safepassage.models.report import cases_by_stage
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.orm import CaseAction
from safepassage.tasks.safeguarding import (
    begin_child_safeguarding,
    conclude_child_safeguarding,
    is_child_on_travel,
)
from safepassage.tasks.withdrawal import mark_withdrawn
from tests.factories import PERSONAL_VALUES, TODAY, intake
from tests.stored import stored_case
from tests.tasks.checkpoint_answers import (
    CLEARED_LOG,
    answer,
    clear_a_mission_target,
    events,
    freeze,
    lines,
)

#: 17 on TODAY and on the example's earliest departure (10 December 2026).
CHILD_BORN = "2009-06-01"
#: 17 on TODAY, 18 on 5 December: an adult by the example's earliest departure.
EIGHTEEN_ON = dt.date(2026, 12, 5)
AUTHORITY = "Child protection service of the home region (example)"


@pytest.fixture(autouse=True)
def _frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch)


def child(store: Store, programme: str = "BG", **changes: Any) -> str:
    return stored_case(store, programme, beneficiary__date_of_birth=CHILD_BORN, **changes)


def ledger(store: Store, reference: str) -> list[tuple[str, int]]:
    with store.transaction() as session:
        case = get_case(session, reference)
        query = select(CaseAction.action, CaseAction.attempt).where(CaseAction.case_id == case.id)
        return sorted((action, attempt) for action, attempt in session.execute(query))


# --- who is a child on the day of travel ----------------------------------------------------


def test_a_person_under_18_on_the_earliest_departure_is_a_child_on_travel() -> None:
    assert is_child_on_travel(intake("BG", beneficiary__date_of_birth=CHILD_BORN), TODAY)


def test_a_person_turning_18_before_the_earliest_departure_is_not() -> None:
    turning = intake("BG", beneficiary__date_of_birth="2008-12-05")
    assert turning.age_on(TODAY) == 17  # a minor when taken in, an adult on the day of travel
    assert not is_child_on_travel(turning, TODAY)


def test_once_the_earliest_departure_has_passed_today_decides() -> None:
    # The recovery period ended before the 18th birthday: travel can be today, still a child.
    early = intake("BG", beneficiary__date_of_birth="2008-12-05", earliest_departure="2026-12-01")
    assert is_child_on_travel(early, TODAY)
    assert is_child_on_travel(early, EIGHTEEN_ON - dt.timedelta(days=1))
    assert not is_child_on_travel(early, EIGHTEEN_ON)


def test_an_adult_is_never_a_child_on_travel() -> None:
    assert not is_child_on_travel(intake("BG"), TODAY)


# --- beginning: the stage and the escort ---------------------------------------------------


def test_a_child_s_case_stands_at_child_safeguarding_with_an_escort_required(
    stage_store: Store,
) -> None:
    reference = child(stage_store)
    with stage_store.transaction() as session:
        # As if the intake-day rules had found no escort: the stage requires one regardless.
        get_case(session, reference).escort_required = False
    assert begin_child_safeguarding.fn(reference) is True
    assert begin_child_safeguarding.fn(reference) is True
    with stage_store.transaction() as session:
        case = get_case(session, reference)
        assert (case.stage, case.escort_required) == ("child-safeguarding", True)
    assert ledger(stage_store, reference) == [("child-safeguarding-started", 1)]


def test_an_adult_s_case_and_one_turning_18_in_time_do_not_stop_there(
    stage_store: Store,
) -> None:
    adult = stored_case(stage_store, "BG")
    turning = stored_case(stage_store, "BG", beneficiary__date_of_birth="2008-12-05")
    for reference in (adult, turning):
        assert begin_child_safeguarding.fn(reference) is False
        with stage_store.transaction() as session:
            assert get_case(session, reference).stage == "identification"
        assert ledger(stage_store, reference) == []


# --- concluding: return, pending, or not in the child's best interests ---------------------


def test_a_return_asks_the_mission_for_the_handover_once_and_minimal_without_clearance(
    stage_store: Store, home: Path
) -> None:
    reference = child(stage_store)
    begin_child_safeguarding.fn(reference)
    assert answer(reference, Checkpoint.CHILD_SAFEGUARDING).accepted
    assert conclude_child_safeguarding.fn(reference, 1) == "return"
    assert conclude_child_safeguarding.fn(reference, 1) == "return"  # replayed: once

    assert events(home, "mission-bg", reference) == ["child-protection-handover"]
    (handover,) = lines(home, "mission-bg", reference)
    assert "handover at arrival to the child-protection authority" in handover["body"]
    for secret in (AUTHORITY, "BID-EX-0042", "Independent Child", *PERSONAL_VALUES.values()):
        assert secret not in handover["body"]
    assert events(home, "coordinators", reference) == []
    assert events(home, "embassy-bg", reference) == []
    assert ledger(stage_store, reference) == [
        ("child-safeguarded", 1),
        ("child-safeguarding-started", 1),
    ]


def test_with_consent_a_cleared_mission_target_is_told_the_receiving_authority(
    stage_store: Store, home: Path
) -> None:
    clear_a_mission_target(home)
    reference = child(stage_store)
    begin_child_safeguarding.fn(reference)
    answer(reference, Checkpoint.CHILD_SAFEGUARDING)
    conclude_child_safeguarding.fn(reference, 1)

    (detailed,) = lines(home, CLEARED_LOG, reference)
    assert f"Child-protection authority: {AUTHORITY}" in detailed["body"]
    assert "Responsibility held by: an Independent Child Trafficking Guardian" in detailed["body"]
    assert "BID-EX-0042" not in detailed["body"]  # the determination's reference stays sealed
    (minimal,) = lines(home, "mission-bg", reference)  # the mission's uncleared log
    assert AUTHORITY not in minimal["body"]


def test_without_consent_to_share_even_a_cleared_mission_target_gets_the_minimal_notice(
    stage_store: Store, home: Path
) -> None:
    clear_a_mission_target(home)
    reference = child(stage_store, consent__share_with_receiving_mission=False)
    begin_child_safeguarding.fn(reference)
    answer(reference, Checkpoint.CHILD_SAFEGUARDING)
    assert conclude_child_safeguarding.fn(reference, 1) == "return"

    (notice,) = lines(home, CLEARED_LOG, reference)
    assert notice["title"].endswith("child-protection-handover")
    assert AUTHORITY not in notice["body"]
    assert PERSONAL_VALUES["family_name"] not in notice["body"]


@pytest.mark.parametrize(
    ("changes", "waiting_for"),
    [
        ({"best_interests": "pending", "bid_reference": None}, "the determination"),
        ({"guardian_consent": False, "consent_date": None}, "the guardian's consent"),
        (
            {
                "best_interests": "pending",
                "bid_reference": None,
                "guardian_consent": False,
                "consent_date": None,
            },
            "the guardian's consent and the determination",
        ),
    ],
    ids=["determination-pending", "consent-missing", "both"],
)
def test_travel_waits_while_the_determination_is_pending_or_consent_missing(
    stage_store: Store, home: Path, changes: dict[str, Any], waiting_for: str
) -> None:
    reference = child(stage_store)
    begin_child_safeguarding.fn(reference)
    assert answer(reference, Checkpoint.CHILD_SAFEGUARDING, **changes).accepted
    for _ in range(2):
        assert conclude_child_safeguarding.fn(reference, 1) == "pending"

    assert events(home, "coordinators", reference) == ["safeguarding-pending"]
    (alert,) = lines(home, "coordinators", reference)
    assert f"waiting for {waiting_for}; asked again (ask 2)" in alert["body"]
    assert events(home, "mission-bg", reference) == []
    with stage_store.transaction() as session:
        assert get_case(session, reference).stage == "child-safeguarding"

    # The next ask: the determination made, consent given: the return goes on.
    assert answer(reference, Checkpoint.CHILD_SAFEGUARDING, attempt=2).accepted
    assert conclude_child_safeguarding.fn(reference, 2) == "return"
    assert events(home, "mission-bg", reference) == ["child-protection-handover"]
    assert events(home, "coordinators", reference) == ["safeguarding-pending"]


def test_not_in_the_child_s_best_interests_ends_the_return_and_tells_mission_and_coordinators(
    stage_store: Store, home: Path
) -> None:
    reference = child(stage_store)
    begin_child_safeguarding.fn(reference)
    answer(
        reference, Checkpoint.CHILD_SAFEGUARDING, best_interests="not_in_best_interests",
        receiving_authority=None,
    )  # fmt: skip
    for _ in range(2):
        assert conclude_child_safeguarding.fn(reference, 1) == "not_in_best_interests"

    with stage_store.transaction() as session:
        case = get_case(session, reference)
        assert (case.stage, case.status) == ("not-in-best-interests", "ended")
        assert case.ended_at is not None
    for tag in ("mission-bg", "coordinators"):
        assert events(home, tag, reference) == ["return-not-in-best-interests"]
        (notice,) = lines(home, tag, reference)
        assert "return not in the child's interests" in notice["body"]
        for value in PERSONAL_VALUES.values():
            assert value not in notice["body"]
    assert events(home, "embassy-bg", reference) == []
    assert ledger(stage_store, reference) == [
        ("child-safeguarding-started", 1),
        ("return-not-in-best-interests", 1),
    ]


def test_a_return_ended_for_the_child_s_best_interests_is_final(stage_store: Store) -> None:
    reference = child(stage_store)
    begin_child_safeguarding.fn(reference)
    answer(
        reference, Checkpoint.CHILD_SAFEGUARDING, best_interests="not_in_best_interests",
        receiving_authority=None,
    )  # fmt: skip
    conclude_child_safeguarding.fn(reference, 1)

    with pytest.raises(CaseStateError, match="a withdrawal applies before the arrival"):
        mark_withdrawn.fn(reference)
    with stage_store.transaction() as session:
        counted = {(c.programme, c.stage): c.cases for c in cases_by_stage(session)}
    assert counted == {("BG", "not-in-best-interests"): 1}
