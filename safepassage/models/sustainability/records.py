"""Score each follow-up report once, when it concludes, and seal the scores with the case's data.

Data functions working in the caller's transaction (the concluding task's, tasks/followups.py).

The scores (per dimension and composite, models/sustainability) describe one person's life
after return: personal data, sealed under the case's key like the report itself, so erasing
the case erases them. The ledger and the event log say only that follow-up N was scored and
with which table version; the office report reads the sealed scores as a system process and
shows only figures over enough cases (models/sustainability/figures.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.crypto import MasterKey
from safepassage.models.errors import IntakeInvalid
from safepassage.models.store.cases import cipher_for, seal
from safepassage.models.store.orm import Case, CaseAction
from safepassage.models.store.workflow import read_answer_for_stage, record_action
from safepassage.models.sustainability import (
    CURRENT_VERSION,
    SCORED_ACTION,
    Scores,
    load_table,
    score,
    scores_record,
)

logger = logging.getLogger("safepassage.models.sustainability")
#: The ledger action of a report whose indicators do not fit the table in force (answered
#: under a table since replaced): recorded, with the fields at fault, instead of a score.
UNSCORED_ACTION = "followup-unscored"


def score_followup(
    session: Session, master_key: MasterKey, case: Case, number: int, *, now: dt.datetime
) -> Scores | None:
    """Score follow-up `number`'s accepted report and seal the scores (once); None if unscored.

    A report of a person not contacted has no indicators and no score. Called in the
    concluding task's transaction, so the scores, the ledger entry and the outcome commit
    together.
    """
    raw = json.loads(
        read_answer_for_stage(session, master_key, case, Checkpoint.FOLLOWUP_REPORT.value, number)
    )
    indicators = raw.get("indicators")
    if not raw.get("contacted") or not isinstance(indicators, dict):
        return None
    table = load_table(CURRENT_VERSION)
    try:
        scores = score(table, indicators)
    except IntakeInvalid as refused:
        fields = [p.path for p in refused.problems]
        record_action(
            session, case, UNSCORED_ACTION, number, now=now,
            detail={"follow_up": number, "version": table.version, "fields": fields},
        )  # fmt: skip
        logger.warning(
            "%s follow-up %s not scored: its indicators do not fit table %s (%s)",
            case.reference, number, table.version, ", ".join(fields),
        )  # fmt: skip
        return None
    if record_action(
        session, case, SCORED_ACTION, number, now=now,
        detail={"follow_up": number, "version": table.version},
    ):  # fmt: skip
        seal(
            session,
            case,
            cipher_for(master_key, case),
            scores_record(number),
            json.dumps(scores.as_dict()).encode(),
            now=now,
        )
    return scores


def scored_followups(session: Session, case: Case) -> list[int]:
    """Return the numbers of `case`'s follow-ups that were scored, in order."""
    return list(
        session.scalars(
            select(CaseAction.attempt)
            .where(CaseAction.case_id == case.id, CaseAction.action == SCORED_ACTION)
            .order_by(CaseAction.attempt)
        )
    )
