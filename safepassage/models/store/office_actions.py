"""What a coordinator did to a flow run through the gateway's Prefect UI, in the audit chain.

Prefect records a cancelled or started run without a name; the gateway knows who asked. A
resume needs no entry here: the answer it carries is recorded with the signed-in name when
the flow accepts it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from safepassage.models.store.events import append_event
from safepassage.models.store.orm import Case, FollowUp

#: The actions the gateway records; the names are part of the audit trail.
ACTIONS = frozenset({"cancel", "start"})


def record_run_action(
    session: Session, *, actor: str, action: str, target: str, now: dt.datetime
) -> None:
    """Record that `actor` asked Prefect to `action` the run or deployment `target` (an id).

    The entry names the case when the target is one of its runs, so the case's timeline
    shows who cancelled it.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown run action {action!r}")
    reference = session.scalar(
        select(Case.reference)
        .outerjoin(FollowUp, FollowUp.case_id == Case.id)
        .where(or_(Case.flow_run_id == target, FollowUp.flow_run_id == target))
        .limit(1)
    )
    append_event(
        session, reference=reference, kind=f"prefect-run-{action}", actor=actor, at=now,
        detail={"target": target},
    )  # fmt: skip
