"""Pre-departure assistance as stage functions: fit to travel, a medical escort the ticket must
include, "not yet" asked again on its own date, and what the mission hears (needs, not why).

No Prefect server: the stages run as plain functions against the test store (SQLite and
PostgreSQL); the default targets write each message to a local JSON-lines log.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from safepassage.models.case_view import read_view
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.settings import get_settings
from safepassage.models.sla import limits
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.workflow import open_checkpoint
from safepassage.tasks.pre_departure import begin_pre_departure, conclude_pre_departure
from safepassage.tasks.sla import raise_breaches
from tests.factories import PERSONAL_VALUES, TODAY
from tests.stored import STORED_AT, stored_case
from tests.tasks.checkpoint_answers import (
    CLEARED_LOG,
    answer,
    clear_a_mission_target,
    events,
    freeze,
    lines,
)

DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def _frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch)


def escort_required(store: Store, reference: str) -> bool:
    with store.transaction() as session:
        return get_case(session, reference).escort_required


def test_the_case_stands_at_pre_departure_and_fit_to_travel_tells_the_mission_once(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "BG")
    begin_pre_departure.fn(reference, 1)
    with stage_store.transaction() as session:
        assert get_case(session, reference).stage == "pre-departure"
    assert answer(reference, Checkpoint.PRE_DEPARTURE).accepted
    for _ in range(2):  # replayed: once
        assert conclude_pre_departure.fn(reference, 1) == "yes"

    assert events(home, "mission-bg", reference) == ["pre-departure-assistance"]
    (notice,) = lines(home, "mission-bg", reference)
    assert "Assistance to prepare: airport assistance\n" in notice["body"]
    assert "Counselled on the return" not in notice["body"]  # the notes stay sealed
    assert escort_required(stage_store, reference) is False
    assert events(home, "coordinators", reference) == []
    assert events(home, "embassy-bg", reference) == []


def test_a_medical_escort_becomes_an_escort_the_ticket_must_include(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "BG")  # shelter and counselling: no escort at intake
    assert escort_required(stage_store, reference) is False
    begin_pre_departure.fn(reference, 1)
    answer(reference, Checkpoint.PRE_DEPARTURE, fit_to_travel="medical_escort")
    assert conclude_pre_departure.fn(reference, 1) == "medical_escort"
    assert escort_required(stage_store, reference) is True

    refused = answer(reference, Checkpoint.TICKET, escort=False)
    assert (refused.accepted, refused.problems) == (
        False,
        ["escort: must be true: this person travels with an escort"],
    )
    assert answer(reference, Checkpoint.TICKET, escort=True).accepted


def test_the_mission_hears_the_assistance_and_never_why_an_escort_travels(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "BG")
    begin_pre_departure.fn(reference, 1)
    answer(
        reference, Checkpoint.PRE_DEPARTURE, fit_to_travel="medical_escort",
        transit_assistance=True,
    )  # fmt: skip
    conclude_pre_departure.fn(reference, 1)

    (notice,) = lines(home, "mission-bg", reference)
    assert (
        "Assistance to prepare: airport assistance, transit assistance, "
        "an escort travels with the person\n"
    ) in notice["body"]
    assert "medical" not in notice["body"].lower()
    for value in PERSONAL_VALUES.values():
        assert value not in notice["body"]


def test_with_consent_a_cleared_mission_target_learns_the_escort_is_medical(
    stage_store: Store, home: Path
) -> None:
    clear_a_mission_target(home)
    reference = stored_case(stage_store, "BG")
    begin_pre_departure.fn(reference, 1)
    answer(reference, Checkpoint.PRE_DEPARTURE, fit_to_travel="medical_escort")
    conclude_pre_departure.fn(reference, 1)

    (detailed,) = lines(home, CLEARED_LOG, reference)
    assert "Fit to travel: with a medical escort" in detailed["body"]
    (minimal,) = lines(home, "mission-bg", reference)
    assert "medical" not in minimal["body"].lower()


def test_without_consent_a_cleared_mission_target_never_learns_it(
    stage_store: Store, home: Path
) -> None:
    clear_a_mission_target(home)
    reference = stored_case(stage_store, "BG", consent__share_with_receiving_mission=False)
    begin_pre_departure.fn(reference, 1)
    answer(reference, Checkpoint.PRE_DEPARTURE, fit_to_travel="medical_escort")
    conclude_pre_departure.fn(reference, 1)

    (notice,) = lines(home, CLEARED_LOG, reference)
    assert "medical" not in notice["body"].lower()
    assert "an escort travels with the person" in notice["body"]


def test_not_yet_fit_tells_nobody_and_the_next_ask_goes_on(stage_store: Store, home: Path) -> None:
    reference = stored_case(stage_store, "BG")
    begin_pre_departure.fn(reference, 1)
    later = (TODAY + 10 * DAY).isoformat()
    accepted = answer(
        reference, Checkpoint.PRE_DEPARTURE, fit_to_travel="not_yet", ask_again_on=later
    )
    assert accepted.summary == {
        "fit_to_travel": "not_yet",
        "airport_assistance": True,
        "transit_assistance": False,
        "ask_again_on": later,
    }
    for _ in range(2):
        assert conclude_pre_departure.fn(reference, 1) == "not_yet"
    assert events(home, "mission-bg", reference) == []
    assert escort_required(stage_store, reference) is False

    begin_pre_departure.fn(reference, 2)
    assert answer(reference, Checkpoint.PRE_DEPARTURE, attempt=2).accepted
    assert conclude_pre_departure.fn(reference, 2) == "yes"
    assert events(home, "mission-bg", reference) == ["pre-departure-assistance"]


# --- time limits: 14 days for an ask, the end of the named day for the next ----------------


def _open(store: Store, reference: str, attempt: int, at: dt.datetime) -> None:
    with store.transaction() as session:
        case = get_case(session, reference)
        case.waiting_for = None
        open_checkpoint(session, case, Checkpoint.PRE_DEPARTURE.value, attempt, now=at)


def test_the_first_ask_has_fourteen_days(stage_store: Store) -> None:
    assert limits(get_settings())[Checkpoint.PRE_DEPARTURE] == 14 * DAY
    reference = stored_case(stage_store, "BG")
    begin_pre_departure.fn(reference, 1)
    _open(stage_store, reference, 1, STORED_AT)
    assert raise_breaches(stage_store, at=STORED_AT + 14 * DAY - dt.timedelta(minutes=1)) == []
    assert raise_breaches(stage_store, at=STORED_AT + 14 * DAY + dt.timedelta(minutes=1)) == [
        reference
    ]


def test_an_ask_after_not_yet_is_due_at_the_end_of_the_day_it_named(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "BG")
    begin_pre_departure.fn(reference, 1)
    _open(stage_store, reference, 1, STORED_AT)
    ask_again_on = TODAY + 20 * DAY  # beyond the 14 days an ask has
    answer(
        reference, Checkpoint.PRE_DEPARTURE, fit_to_travel="not_yet",
        ask_again_on=ask_again_on.isoformat(),
    )  # fmt: skip
    conclude_pre_departure.fn(reference, 1)
    begin_pre_departure.fn(reference, 2)
    _open(stage_store, reference, 2, STORED_AT + dt.timedelta(minutes=5))

    end_of_day = dt.datetime.combine(ask_again_on + DAY, dt.time(), tzinfo=dt.UTC)
    assert raise_breaches(stage_store, at=STORED_AT + 15 * DAY) == []  # not 14 days from opening
    assert raise_breaches(stage_store, at=end_of_day - dt.timedelta(minutes=1)) == []
    assert raise_breaches(stage_store, at=end_of_day + dt.timedelta(minutes=1)) == [reference]
    assert raise_breaches(stage_store, at=end_of_day + 3 * DAY) == []  # once per wait
    assert events(home, "coordinators", reference) == ["sla-breached"]
    (alert,) = lines(home, "coordinators", reference)
    assert (
        f"waiting at pre-departure (attempt 2) past its time limit of the end of "
        f"{ask_again_on.isoformat()}, the day set to ask again"
    ) in alert["body"]
    assert f"Due on: {ask_again_on.isoformat()}" in alert["body"]  # that day, not the next


def test_an_ask_again_date_sooner_than_the_limit_alerts_sooner(stage_store: Store) -> None:
    reference = stored_case(stage_store, "BG")
    answer(reference, Checkpoint.PRE_DEPARTURE, fit_to_travel="not_yet",
           ask_again_on=(TODAY + 3 * DAY).isoformat())  # fmt: skip
    _open(stage_store, reference, 2, STORED_AT)
    assert raise_breaches(stage_store, at=STORED_AT + 3 * DAY) == []  # the 2nd, 10:00
    assert raise_breaches(stage_store, at=STORED_AT + 4 * DAY) == [reference]  # the 3rd, 10:00


def test_the_case_s_own_view_shows_the_named_day(stage_store: Store) -> None:
    reference = stored_case(stage_store, "BG")
    ask_again_on = TODAY + 20 * DAY
    answer(reference, Checkpoint.PRE_DEPARTURE, fit_to_travel="not_yet",
           ask_again_on=ask_again_on.isoformat())  # fmt: skip
    _open(stage_store, reference, 2, STORED_AT)
    with case_transaction(reference) as (_, session, _case):
        view = read_view(session, reference, limits=limits(get_settings()))
    assert view.due_at == dt.datetime.combine(ask_again_on + DAY, dt.time(), tzinfo=dt.UTC)
