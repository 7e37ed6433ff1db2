"""The case's view for the Prefect UI tells its story from the store, and reveals nobody."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from safepassage.models.case_view import (
    artifact_key,
    progress_key,
    read_view,
    stage_tags,
)
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import FieldProblem
from safepassage.models.rules import decide
from safepassage.models.settings import Settings
from safepassage.models.sla import limits
from safepassage.models.store.cases import create_case, get_case
from safepassage.models.store.db import Store
from safepassage.models.store.workflow import (
    open_checkpoint,
    record_answer,
    record_refusal,
    set_stage,
)
from safepassage.models.vocabulary import Stage
from safepassage.orchestration.case_view import publish_case_view
from tests.factories import PERSONAL_VALUES, TODAY, intake

T0 = dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def _case_at_ticket(store: Store) -> str:
    case_file = intake("RO", consent__share_with_embassy=True)
    with store.transaction() as session:
        case = create_case(
            session, store.master_key, case_file, decide(case_file, today=TODAY), actor="t", now=T0
        )
        set_stage(session, case, Stage.TRAVEL_DOCUMENT, actor="flow", now=T0 + HOUR)
        open_checkpoint(session, case, Checkpoint.TRAVEL_DOCUMENT.value, 1, now=T0 + HOUR)
        record_refusal(
            session,
            case,
            Checkpoint.TRAVEL_DOCUMENT.value,
            1,
            problems=[FieldProblem("valid_until", "is before consent was recorded")],
            now=T0 + 2 * HOUR,
        )
        record_answer(
            session,
            store.master_key,
            case,
            Checkpoint.TRAVEL_DOCUMENT.value,
            1,
            answer_json=b'{"document_number": "ETD 4200001"}',
            entered_by="Coordinator Name",
            summary={"document_type": "emergency_travel_document"},
            now=T0 + 26 * HOUR,
        )
        set_stage(session, case, Stage.TICKETING, actor="flow", now=T0 + 27 * HOUR)
        open_checkpoint(session, case, Checkpoint.TICKET.value, 1, now=T0 + 27 * HOUR)
        return case.reference


def test_the_view_shows_the_timeline_and_what_the_case_waits_for(stage_store: Store) -> None:
    reference = _case_at_ticket(stage_store)
    with stage_store.transaction() as session:
        view = read_view(session, reference, limits=limits(Settings()))
    text = view.markdown()

    assert view.stage == "ticketing"
    assert [(s.stage, s.left is None) for s in view.stays] == [
        ("identification", False),
        ("travel-document", False),
        ("ticketing", True),
    ]
    assert f"## Case `{reference}`" in text
    assert "**Waiting for:** `ticket` (attempt 1), since 2026-11-30 13:00 UTC." in text
    assert "Time limit: 7 days, due by 2026-12-07 13:00 UTC." in text
    assert "| travel-document | 1 | 2026-11-29 11:00 UTC | 2026-11-30 12:00 UTC | 1 |" in text
    assert "Resume" in text
    assert view.progress == round(100 * 3 / 9, 1)  # ticketing, fourth of ten stages
    # Nothing personal, nor the staff member's name, nor an answer's value reaches the view.
    for value in [*PERSONAL_VALUES.values(), "Coordinator Name", "ETD 4200001", "emergency"]:
        assert value not in text, value
    assert artifact_key(reference) == f"case-{reference.lower()}"
    assert progress_key(reference) == f"case-{reference.lower()}-progress"


def test_a_departure_wait_gives_no_due_time_and_an_ended_case_keeps_its_progress(
    stage_store: Store,
) -> None:
    reference = _case_at_ticket(stage_store)
    with stage_store.transaction() as session:
        case = get_case(session, reference)
        set_stage(session, case, Stage.DEPARTURE, actor="flow", now=T0 + 30 * HOUR)
        open_checkpoint(session, case, Checkpoint.DEPARTURE.value, 1, now=T0 + 30 * HOUR)
        departure = read_view(session, reference, limits=limits(Settings()))
        set_stage(session, case, Stage.WITHDRAWN, actor="t", now=T0 + 31 * HOUR)
        withdrawn = read_view(session, reference, limits=limits(Settings()))

    assert "Time limit: 2 days after the booked departure." in departure.markdown()
    assert "due by" not in departure.markdown()
    assert withdrawn.progress == departure.progress
    assert withdrawn.progress_text == f"Case {reference}: ended withdrawn at departure"
    assert "Waiting for" not in withdrawn.markdown()


def test_the_stage_tag_is_replaced_and_every_other_tag_kept() -> None:
    tags = ["safepassage", "programme:RO", "stage:identification", "mission:ro"]
    assert stage_tags(tags, "ticketing") == [
        "safepassage",
        "programme:RO",
        "mission:ro",
        "stage:ticketing",
    ]
    assert stage_tags(["safepassage"], "identification") == ["safepassage", "stage:identification"]


def test_outside_a_run_showing_a_case_does_nothing(
    stage_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    reference = _case_at_ticket(stage_store)
    with caplog.at_level(logging.WARNING, logger="safepassage.case_view"):
        publish_case_view(reference)  # no run context: no client, no server
    # Publishing is best effort and logs what it swallows: nothing was tried, so nothing failed.
    assert caplog.records == []
