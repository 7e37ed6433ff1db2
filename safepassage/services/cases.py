"""What a person reads of the case store: the case list, one case, the follow-ups by due date.

Personal data leaves the store here only through `case_detail(..., reveal=True)`, and every
reveal is logged in the case's event log as a disclosure: who, for what purpose, which records.
Nothing here talks to Prefect, so these answer with no server running.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from safepassage.models.checkpoints import AGREED_PLAN, PLAN_AGREED
from safepassage.models.clock import utcnow
from safepassage.models.followup_plan import report_by
from safepassage.models.intake import Intake
from safepassage.models.store.cases import (
    CaseSummary,
    get_case,
    list_cases,
    reveal_intake,
    reveal_records,
)
from safepassage.models.store.db import Store, opened_store
from safepassage.models.store.events import case_events
from safepassage.models.store.followups import (
    REPORT_CHECKPOINT,
    FollowUpView,
    case_followups,
    effective_state,
    list_followups,
)
from safepassage.models.store.orm import Case, CaseEvent
from safepassage.models.store.workflow import answer_purpose, find_action, find_answer


def case_list(*, limit: int | None = None) -> list[CaseSummary]:
    """Return the cases, newest first, without any personal data."""
    with opened_store() as store, store.transaction() as session:
        return [CaseSummary.of(case) for case in list_cases(session, limit=limit)]


@dataclass(frozen=True)
class FollowUpReport:
    """A follow-up's report: who entered it, when, whether it raised a risk.

    `content` (the report as entered, personal) is there only when it was revealed.
    """

    entered_by: str
    answered_at: dt.datetime
    risk_raised: bool
    content: dict[str, Any] | None


@dataclass(frozen=True)
class PlannedFollowUp:
    """One follow-up of a case's plan, and its report once there is one."""

    number: int
    offset_months: int
    due_on: dt.date
    report_by: dt.date
    state: str
    scheduled_for: dt.datetime | None
    report: FollowUpReport | None


@dataclass(frozen=True)
class TimelineEvent:
    """One entry of a case's event log (details hold no personal data)."""

    seq: int
    at: dt.datetime
    kind: str
    actor: str
    stage: str | None
    rules_version: str | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, event: CaseEvent) -> TimelineEvent:
        return cls(**{f.name: getattr(event, f.name) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class CaseDetail:
    """One case: its summary, decision, follow-ups and timeline; its intake only if revealed."""

    summary: CaseSummary
    decision: dict[str, Any]
    intake: Intake | None
    followups: list[PlannedFollowUp]
    events: list[TimelineEvent]
    #: The agreed reintegration plan: counts and cost, and its items only if revealed.
    plan: dict[str, Any] | None = None


def case_detail(reference: str, *, reveal: bool, actor: str, purpose: str) -> CaseDetail:
    """Return one case; with `reveal`, its intake and follow-up reports too, logged as disclosed.

    `actor` and `purpose` go into the disclosure log (a purpose starting with `export` is shown
    as an export in the case's audit). Without `reveal` nothing personal is read or logged.
    """
    now = utcnow()
    with opened_store() as store, store.transaction() as session:
        case = get_case(session, reference)
        intake = (
            reveal_intake(session, store.master_key, case, actor=actor, purpose=purpose, now=now)
            if reveal
            else None
        )
        followups = _followups(
            session, store, case, reveal=reveal, actor=actor, purpose=purpose, now=now
        )
        return CaseDetail(
            summary=CaseSummary.of(case),
            decision=case.decision,
            intake=intake,
            followups=followups,
            events=[TimelineEvent.of(e) for e in case_events(session, reference)],
            plan=_plan(session, store, case, reveal=reveal, actor=actor, purpose=purpose, now=now),
        )


def _plan(
    session: Session,
    store: Store,
    case: Case,
    *,
    reveal: bool,
    actor: str,
    purpose: str,
    now: dt.datetime,
) -> dict[str, Any] | None:
    """Return the agreed plan's counts and cost; with `reveal`, its items (the read logged)."""
    planned = find_action(session, case, PLAN_AGREED)
    if planned is None:
        return None
    plan: dict[str, Any] = {k: v for k, v in planned.detail.items() if k != "ask"}
    if reveal:
        opened = reveal_records(
            session, store.master_key, case, [AGREED_PLAN], actor=actor, purpose=purpose,
            now=now,
        )  # fmt: skip
        sealed = json.loads(opened[AGREED_PLAN])
        plan |= {"item_list": sealed["items"], "notes": sealed.get("notes")}
    return plan


def _followups(
    session: Session,
    store: Store,
    case: Case,
    *,
    reveal: bool,
    actor: str,
    purpose: str,
    now: dt.datetime,
) -> list[PlannedFollowUp]:
    """Return the case's follow-up plan and reports; reports revealed (and logged) if asked."""
    rows = case_followups(session, case)
    answers = {
        row.number: find_answer(session, case, REPORT_CHECKPOINT, row.number) for row in rows
    }
    records = {
        number: answer_purpose(REPORT_CHECKPOINT, number)
        for number, answer in answers.items()
        if answer is not None
    }
    opened = (
        reveal_records(
            session, store.master_key, case, list(records.values()), actor=actor,
            purpose=purpose, now=now,
        )
        if reveal
        else {}
    )  # fmt: skip
    plan = []
    for row in rows:
        answer = answers[row.number]
        report = None
        if answer is not None:
            sealed = opened.get(records[row.number])
            report = FollowUpReport(
                entered_by=answer.entered_by,
                answered_at=answer.answered_at,
                risk_raised=bool(answer.summary.get("risk_raised")),
                content=None if sealed is None else json.loads(sealed),
            )
        plan.append(
            PlannedFollowUp(
                number=row.number,
                offset_months=row.offset_months,
                due_on=row.due_on,
                report_by=report_by(row.due_on, row.window_days),
                state=effective_state(row, now.date()).value,
                scheduled_for=row.scheduled_for,
                report=report,
            )
        )
    return plan


def followup_list(
    *,
    reference: str | None = None,
    due: bool = False,
    overdue: bool = False,
    limit: int | None = None,
) -> list[FollowUpView]:
    """Return follow-ups by due date (of one case, or all): dates, states and runs, no content.

    `due` keeps those whose report window is open now, `overdue` those whose window passed.
    """
    with opened_store() as store, store.transaction() as session:
        if reference is not None:
            get_case(session, reference)  # CaseNotFound rather than an empty list
        return list_followups(
            session,
            today=utcnow().date(),
            reference=reference,
            due=due,
            overdue=overdue,
            limit=limit,
        )
