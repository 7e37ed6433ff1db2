"""Erasure destroys a case's key and sealed data and keeps its statistics; duplicates are refused.

Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from safepassage.models.errors import CaseStateError, DuplicateIntake, IntakeInvalid, KeyUnavailable
from safepassage.models.followup_plan import FollowUpPlan
from safepassage.models.rules import decide
from safepassage.models.store.cases import create_case, get_case, read_intake_for_stage
from safepassage.models.store.db import Store
from safepassage.models.store.erasure import erase_case, expired_cases
from safepassage.models.store.events import case_events
from safepassage.models.store.followups import plan_followups
from safepassage.models.store.orm import Case, FollowUp, SealedRecord
from safepassage.models.store.verification import verify_store
from safepassage.models.vocabulary import ErasureReason
from tests.factories import PERSONAL_VALUES, TODAY, intake
from tests.stored import stored_case

NOW = dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)
PERSON_REQUEST, LEGAL_OBLIGATION = ErasureReason.PERSON_REQUEST, ErasureReason.LEGAL_OBLIGATION
DUPLICATE = ErasureReason.DUPLICATE


def end(store: Store, reference: str, stage: str = "closed", at: dt.datetime = NOW) -> None:
    with store.transaction() as session:
        case = get_case(session, reference)
        case.stage, case.status, case.ended_at = stage, "ended", at


def sealed_count(store: Store, reference: str) -> int:
    with store.transaction() as session:
        case = get_case(session, reference)
        query = (
            select(func.count()).select_from(SealedRecord).where(SealedRecord.case_id == case.id)
        )
        return session.scalar(query) or 0


def test_erasing_a_closed_case_destroys_its_key_and_records_and_keeps_the_statistics(
    store: Store,
) -> None:
    ref = stored_case(store)
    end(store, ref)
    with store.transaction() as session:
        case = get_case(session, ref)
        erasure = erase_case(
            session, store.master_key, case, actor="dpo", now=NOW, reason=PERSON_REQUEST
        )
    assert erasure.sealed_records_destroyed == 1
    assert sealed_count(store, ref) == 0
    with store.transaction() as session:
        case = get_case(session, ref)
        assert case.data_key is None
        assert case.erased_at is not None
        assert case.intake_fingerprint is None
        assert (case.programme, case.stage, case.decision_outcome) == ("BG", "closed", "eligible")
        assert case.status == "erased"
        # The consent record (the person's language, when they were asked) goes too.
        assert case.consent == {}
        assert (case.share_with_mission, case.share_with_embassy) == (False, False)
        with pytest.raises(KeyUnavailable, match=rf"case {ref} was erased"):
            read_intake_for_stage(session, store.master_key, case)
        erased = [e for e in case_events(session, ref) if e.kind == "case-erased"]
        assert erased[0].actor == "dpo"
        assert erased[0].detail["forced"] is False
        assert erased[0].detail["reason"] == "person-request"
        assert verify_store(session, store.master_key, store.anchor).broken is None


def test_erasing_twice_changes_nothing_the_second_time(store: Store) -> None:
    ref = stored_case(store, "RO")
    end(store, ref, "withdrawn")
    for _ in range(2):
        with store.transaction() as session:
            case = get_case(session, ref)
            last = erase_case(
                session, store.master_key, case, actor="a", now=NOW, reason=PERSON_REQUEST
            )
    assert last.already_erased
    with store.transaction() as session:
        assert [e.kind for e in case_events(session, ref)].count("case-erased") == 1


def test_an_active_case_is_erased_only_when_forced_and_the_log_keeps_the_code_not_the_note(
    store: Store,
) -> None:
    ref = stored_case(store)
    with store.transaction() as session, pytest.raises(CaseStateError, match="--force"):
        erase_case(
            session, store.master_key, get_case(session, ref), actor="a", now=NOW,
            reason=LEGAL_OBLIGATION,
        )  # fmt: skip
    assert sealed_count(store, ref) == 1  # nothing was written
    with store.transaction() as session:
        case = get_case(session, ref)
        plan_followups(session, case, TODAY, FollowUpPlan(), now=NOW)
        erasure = erase_case(
            session, store.master_key, case, actor="a", now=NOW, force=True,
            reason=LEGAL_OBLIGATION, note="court order 2026/114",
        )  # fmt: skip
    assert (erasure.forced, erasure.reason, erasure.note_kept) == (True, "legal-obligation", True)
    with store.transaction() as session:
        case = get_case(session, ref)
        states = set(session.scalars(select(FollowUp.state).where(FollowUp.case_id == case.id)))
        assert states == {"cancelled"}  # no follow-up is scheduled for an erased case again
        assert case_events(session, ref)[-1].detail["reason"] == "legal-obligation"
        assert all("2026/114" not in str(e.detail) for e in case_events(session, ref))


def test_a_note_that_quotes_the_persons_details_is_refused_and_nothing_is_erased(
    store: Store,
) -> None:
    ref = stored_case(store)
    with (
        store.transaction() as session,
        pytest.raises(IntakeInvalid, match=r"(?m)^--note: ") as refused,
    ):
        erase_case(
            session, store.master_key, get_case(session, ref), actor="a", now=NOW, force=True,
            reason=PERSON_REQUEST,
            note=f"asked by {PERSONAL_VALUES['family_name'].upper()} herself",
        )  # fmt: skip
    assert refused.value.problems[0].path == "--note"
    assert PERSONAL_VALUES["family_name"].upper() not in str(refused.value.problems[0])
    assert sealed_count(store, ref) == 1


def test_retention_selects_only_cases_ended_longer_ago_than_the_period(store: Store) -> None:
    old = stored_case(store)
    end(store, old, "closed", at=dt.datetime(2024, 11, 28, tzinfo=dt.UTC))
    recent = stored_case(store)
    end(store, recent, "withdrawn", at=dt.datetime(2024, 11, 30, tzinfo=dt.UTC))
    active = stored_case(store)
    with store.transaction() as session:
        assert expired_cases(session, now=NOW, months=24) == [old]
        assert set(expired_cases(session, now=NOW, months=12)) == {old, recent}
    assert active not in expired_cases_for(store)


def expired_cases_for(store: Store) -> list[str]:
    with store.transaction() as session:
        return expired_cases(session, now=NOW + dt.timedelta(days=4000), months=1)


def test_the_same_intake_twice_is_refused_naming_the_first_case(store: Store) -> None:
    case_file = intake("HU")
    decision = decide(case_file, today=TODAY)
    with store.transaction() as session:
        first = create_case(session, store.master_key, case_file, decision, actor="a", now=NOW)
        ref = first.reference
    with store.transaction() as session, pytest.raises(DuplicateIntake, match=ref) as refused:
        create_case(session, store.master_key, case_file, decision, actor="a", now=NOW)
    for value in PERSONAL_VALUES.values():
        assert value not in str(refused.value)
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1
        # The fingerprint is keyed: it is not a plain hash of the file.
        fingerprint = get_case(session, ref).intake_fingerprint
        assert fingerprint is not None
        assert fingerprint not in case_file.model_dump_json()


def test_two_submissions_racing_make_one_case(store: Store) -> None:
    case_file = intake("CZ")
    decision = decide(case_file, today=TODAY)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def submit() -> None:
        start.wait()
        try:
            with store.transaction() as session:
                create_case(session, store.master_key, case_file, decision, actor="a", now=NOW)
            outcomes.append("made")
        except DuplicateIntake:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["made", "refused"]


def test_after_erasure_the_same_intake_is_not_recognised(store: Store) -> None:
    case_file = intake("BG")
    decision = decide(case_file, today=TODAY)
    with store.transaction() as session:
        ref = create_case(
            session, store.master_key, case_file, decision, actor="a", now=NOW
        ).reference
    end(store, ref)
    with store.transaction() as session:
        erase_case(
            session, store.master_key, get_case(session, ref), actor="a", now=NOW,
            reason=DUPLICATE,
        )  # fmt: skip
    with store.transaction() as session:  # nothing of the erased case can be matched any more
        assert create_case(session, store.master_key, case_file, decision, actor="a", now=NOW)
