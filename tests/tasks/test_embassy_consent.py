"""Consent before an embassy request, as stage functions: no travel document request goes to an
embassy the person did not agree to share with; a refusal is told to the coordinators only.

No Prefect server: the stages run as plain functions against the test store (SQLite and
PostgreSQL); the default targets write each message to a local JSON-lines log.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.consent_record import Purpose, Recipient
from safepassage.models.store.cases import get_case
from safepassage.models.store.consent import consent_record, consents_to, record_consent
from safepassage.models.store.db import Store
from safepassage.models.store.orm import CaseAction
from safepassage.tasks.consent import (
    conclude_embassy_consent,
    embassy_consent_needed,
    embassy_may_be_asked,
)
from safepassage.tasks.travel_document import request_travel_document
from tests.factories import PERSONAL_VALUES, TODAY
from tests.stored import STORED_AT, stored_case
from tests.tasks.checkpoint_answers import answer, events, freeze, lines

EMBASSY, DOCUMENTS = Recipient.EMBASSY, Purpose.TRAVEL_DOCUMENTS


@pytest.fixture(autouse=True)
def _frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch)


def stage_of(store: Store, reference: str) -> str:
    with store.transaction() as session:
        return get_case(session, reference).stage


def agrees(store: Store, reference: str) -> bool:
    with store.transaction() as session:
        return consents_to(get_case(session, reference), EMBASSY, DOCUMENTS)


def actions(store: Store, reference: str) -> list[str]:
    with store.transaction() as session:
        case = get_case(session, reference)
        query = select(CaseAction.action).where(CaseAction.case_id == case.id)
        return sorted(session.scalars(query))


def test_with_consent_to_share_with_the_embassy_no_checkpoint_is_needed(
    stage_store: Store,
) -> None:
    reference = stored_case(stage_store, "RO", consent__share_with_embassy=True)
    assert embassy_consent_needed.fn(reference) is False
    assert stage_of(stage_store, reference) == "identification"


def test_without_it_the_case_waits_at_consent_and_the_embassy_hears_nothing(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "RO")  # the example: no consent to share with it
    for _ in range(2):
        assert embassy_consent_needed.fn(reference) is True
    assert stage_of(stage_store, reference) == "consent"
    assert events(home, "embassy-ro", reference) == []
    assert events(home, "mission-ro", reference) == []


def test_consent_recorded_meanwhile_lets_the_request_go_without_the_checkpoint(
    stage_store: Store,
) -> None:
    reference = stored_case(stage_store, "RO")
    with stage_store.transaction() as session:  # as `safepassage consent` records it
        record_consent(
            session, get_case(session, reference), recipient=EMBASSY, purpose=DOCUMENTS,
            agreed=True, recorded_on=TODAY, language="ro", interpreter_used=False,
            actor="ana.coordinator", now=STORED_AT,
        )  # fmt: skip
    assert embassy_consent_needed.fn(reference) is False


def test_agreed_at_the_checkpoint_is_recorded_and_the_embassy_is_asked_once(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "RO")
    assert embassy_consent_needed.fn(reference) is True
    accepted = answer(reference, Checkpoint.CONSENT, recorded_on=TODAY.isoformat())
    assert accepted.summary == {"share_with_embassy": True}
    # Answered, not yet concluded: the flow concludes it (a replay after a crash still does).
    assert embassy_consent_needed.fn(reference) is True
    for _ in range(2):  # replayed: once
        assert conclude_embassy_consent.fn(reference) is True
    # Concluded: never asked again; the consent record decides from now on.
    assert embassy_consent_needed.fn(reference) is False
    assert embassy_may_be_asked.fn(reference, 1) is True

    assert agrees(stage_store, reference)
    with stage_store.transaction() as session:
        (entry,) = [
            row
            for row in consent_record(get_case(session, reference))
            if (row["recipient"], row["purpose"]) == ("embassy", "travel-documents")
        ]
    assert entry == {
        "recipient": "embassy",
        "purpose": "travel-documents",
        "agreed": True,
        "recorded_on": TODAY.isoformat(),
        "language": "en",
        "interpreter_used": True,
        "recorded_by": "Demo Coordinator",
        "source": "checkpoint",
    }
    assert events(home, "coordinators", reference) == []

    for _ in range(2):
        request_travel_document.fn(reference, 1, to_embassy=True)
    assert events(home, "embassy-ro", reference) == ["travel-document-requested"]
    assert stage_of(stage_store, reference) == "travel-document"


def test_declined_tells_the_coordinators_once_and_the_case_waits_for_a_document(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "RO")
    embassy_consent_needed.fn(reference)
    answer(reference, Checkpoint.CONSENT, share_with_embassy=False)
    for _ in range(2):
        assert conclude_embassy_consent.fn(reference) is False

    assert not agrees(stage_store, reference)
    # The case file said "no" too; the person's own answer, when and how given, replaces it.
    with stage_store.transaction() as session:
        (entry,) = [
            row
            for row in consent_record(get_case(session, reference))
            if (row["recipient"], row["purpose"]) == ("embassy", "travel-documents")
        ]
    assert (entry["source"], entry["recorded_on"], entry["language"]) == (
        "checkpoint",
        TODAY.isoformat(),
        "en",
    )
    assert stage_of(stage_store, reference) == "travel-document"
    assert events(home, "coordinators", reference) == ["embassy-consent-declined"]
    (notice,) = lines(home, "coordinators", reference)
    assert "declined to share their details with the embassy" in notice["body"]
    assert "Obtain a travel document another way" in notice["body"]
    for value in PERSONAL_VALUES.values():
        assert value not in notice["body"]
    assert events(home, "embassy-ro", reference) == []
    assert events(home, "mission-ro", reference) == []


def test_a_document_obtained_another_way_sends_nothing_to_the_embassy(
    stage_store: Store, home: Path
) -> None:
    reference = stored_case(stage_store, "RO")
    embassy_consent_needed.fn(reference)
    answer(reference, Checkpoint.CONSENT, share_with_embassy=False)
    conclude_embassy_consent.fn(reference)
    for _ in range(2):
        request_travel_document.fn(reference, 1, to_embassy=False)

    assert events(home, "embassy-ro", reference) == []
    assert events(home, "mission-ro", reference) == []
    assert stage_of(stage_store, reference) == "travel-document"
    assert actions(stage_store, reference) == [
        "embassy-consent-concluded",
        "embassy-consent-declined",
        "travel-document-awaited",
    ]


def test_a_consent_answer_dated_ahead_is_refused_and_records_nothing(
    stage_store: Store,
) -> None:
    reference = stored_case(stage_store, "RO")
    embassy_consent_needed.fn(reference)
    ahead = (TODAY + dt.timedelta(days=2)).isoformat()
    refused = answer(reference, Checkpoint.CONSENT, recorded_on=ahead)
    assert (refused.accepted, refused.problems) == (
        False,
        ["recorded_on: must not be in the future"],
    )
    assert not agrees(stage_store, reference)


def test_consent_withdrawn_after_the_checkpoint_keeps_a_later_request_from_the_embassy(
    stage_store: Store, home: Path
) -> None:
    # Agreed at the checkpoint, withdrawn later; then the journey moves past the document's
    # expiry: the second request must not go to the embassy, and the old answer must not be
    # written back over the withdrawal by a re-run of the conclusion.
    reference = stored_case(stage_store, "RO")
    embassy_consent_needed.fn(reference)
    answer(reference, Checkpoint.CONSENT, recorded_on=TODAY.isoformat())
    assert conclude_embassy_consent.fn(reference) is True
    with stage_store.transaction() as session:
        record_consent(
            session, get_case(session, reference), recipient=EMBASSY, purpose=DOCUMENTS,
            agreed=False, recorded_on=TODAY, language="en", interpreter_used=False,
            actor="ana.coordinator", now=STORED_AT,
        )  # fmt: skip
    conclude_embassy_consent.fn(reference)
    assert not agrees(stage_store, reference)
    assert embassy_consent_needed.fn(reference) is False
    assert embassy_may_be_asked.fn(reference, 2) is False
    request_travel_document.fn(reference, 2, to_embassy=False)
    assert events(home, "embassy-ro", reference) == []
