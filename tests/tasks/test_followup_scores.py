"""Each follow-up report is scored once when it concludes, the scores sealed with the case.

No Prefect server: the concluding task runs as a function (`.fn`), as in test_followups.py.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import select

from safepassage.models.checkpoints import Checkpoint, FollowUpReportAnswer
from safepassage.models.store.cases import get_case, open_sealed
from safepassage.models.store.db import Store
from safepassage.models.store.orm import CaseAction, CaseEvent, SealedRecord
from safepassage.models.store.workflow import record_answer
from safepassage.models.sustainability import CURRENT_VERSION, Scores
from safepassage.tasks.checkpoints import summarise
from safepassage.tasks.followups import conclude_followup, open_followup
from tests.models.test_sustainability import ANSWERS
from tests.stored import stored_case

NOW = dt.datetime(2027, 3, 10, 7, 0, tzinfo=dt.UTC)


def report(store: Store, reference: str, number: int, *, contacted: bool = True) -> None:
    answer = FollowUpReportAnswer.model_validate(
        {"contacted": contacted, "wellbeing": "stable" if contacted else "unreachable",
         "services_received": [], "risk_of_retrafficking": "none", "next_steps": "Visit.",
         "indicators": ANSWERS if contacted else None}
    )  # fmt: skip
    with store.transaction() as session:
        record_answer(
            session, store.master_key, get_case(session, reference), "followup-report", number,
            answer_json=answer.model_dump_json().encode(), entered_by="t",
            summary=summarise(Checkpoint.FOLLOWUP_REPORT, answer), now=NOW,
        )  # fmt: skip


def test_a_report_is_scored_once_as_it_concludes_and_only_the_version_is_in_clear(
    stage_store: Store,
) -> None:
    reference = stored_case(stage_store, now=NOW, arrived_on=NOW.date() - dt.timedelta(days=40))
    open_followup.fn(reference, 1)
    report(stage_store, reference, 1)
    conclude_followup.fn(reference, 1)
    conclude_followup.fn(reference, 1)  # a resumed run re-executes it: scored once
    with stage_store.transaction() as session:
        case = get_case(session, reference)
        scored = session.scalars(
            select(CaseAction).where(
                CaseAction.case_id == case.id, CaseAction.action == "followup-scored"
            )
        ).all()
        assert [(a.attempt, a.detail) for a in scored] == [
            (1, {"follow_up": 1, "version": CURRENT_VERSION})
        ]
        sealed = json.loads(open_sealed(session, stage_store.master_key, case, "followup-scores-1"))
        record = session.scalars(
            select(SealedRecord).where(SealedRecord.purpose == "followup-scores-1")
        ).one()
        events = session.scalars(
            select(CaseEvent.detail).where(
                CaseEvent.reference == reference, CaseEvent.kind == "followup-scored"
            )
        ).all()
    # As worked out by hand in tests/models/test_sustainability.py.
    assert Scores.from_dict(sealed) == Scores(
        CURRENT_VERSION, Decimal("0.500"), Decimal("0.700"), Decimal("0.650"), Decimal("0.617")
    )
    assert b"0.617" not in record.ciphertext
    assert events == [{"attempt": 1, "follow_up": 1, "version": CURRENT_VERSION}]


def test_a_person_not_reached_has_no_score(stage_store: Store) -> None:
    reference = stored_case(stage_store, now=NOW, arrived_on=NOW.date() - dt.timedelta(days=40))
    open_followup.fn(reference, 1)
    report(stage_store, reference, 1, contacted=False)
    conclude_followup.fn(reference, 1)
    with stage_store.transaction() as session:
        actions = session.scalars(
            select(CaseAction.action).where(CaseAction.action.like("followup-%scored"))
        ).all()
        records = session.scalars(
            select(SealedRecord.purpose).where(SealedRecord.purpose.like("followup-scores-%"))
        ).all()
    assert (actions, records) == ([], [])
