"""Cases put straight into a test store, without Prefect: `stored_case(store, "RO")`.

The flow tests take a case in through the real service instead (tests/flows/helpers.py `take`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from safepassage.models.followup_plan import DEFAULT_PLAN
from safepassage.models.intake import Intake
from safepassage.models.rules import decide
from safepassage.models.store.cases import create_case
from safepassage.models.store.db import Store
from safepassage.models.store.followups import plan_followups
from safepassage.models.store.workflow import set_stage
from safepassage.models.vocabulary import Stage
from tests.factories import TODAY, intake_document

#: When a stored case was taken in, unless the test says: the morning of TODAY.
STORED_AT = dt.datetime.combine(TODAY, dt.time(10), tzinfo=dt.UTC)


def stored_case(
    store: Store,
    programme: str = "BG",
    *,
    now: dt.datetime = STORED_AT,
    actor: str = "t",
    arrived_on: dt.date | None = None,
    ended: dt.datetime | None = None,
    taken_in: dt.date = TODAY,
    **changes: Any,
) -> str:
    """Store a case file for `programme` as taken in at `now`, decided as of TODAY; return its
    reference.

    `changes` change the case file as in tests.factories.intake (`beneficiary__nationality="RO"`).
    With `arrived_on`, the case is left as the return flow leaves it: follow-ups planned from that
    arrival (the default plan), at the reintegration stage. With `ended`, it is closed and ended
    at that time, as retention and erasure expect. `taken_in` is the day the case file was
    validated and decided (its dates checked against that day), to age a case past a date.
    """
    document = intake_document(programme, **changes)
    case_file = Intake.model_validate(document, context={"today": taken_in})
    with store.transaction() as session:
        case = create_case(
            session,
            store.master_key,
            case_file,
            decide(case_file, today=taken_in),
            actor=actor,
            now=now,
        )
        if arrived_on is not None:
            plan_followups(session, case, arrived_on, DEFAULT_PLAN, now=now)
            set_stage(session, case, Stage.REINTEGRATION, actor=actor, now=now)
        if ended is not None:
            case.stage, case.status, case.ended_at = "closed", "ended", ended
        return case.reference
