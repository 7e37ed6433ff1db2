"""What a receiving mission does in the gateway: its cases, one case, answering its checkpoints.

The portal and the mission API call these with the mission's country and the name of whoever
acts (the officer's account, or the mission system's token). A case of another country is
`CaseNotFound`, exactly as an unknown reference is, so that neither reveals the other exists.
So is a case the mission was never told of (still at identification, or found ineligible), an
erased one, and one whose consent or destination fields fail their seal (edited outside
SafePassage: nothing about it can be trusted, least of all whose it is).

Personal details reach the mission only through the store's logged reveal, only when the
person consented to share with the receiving mission for reception, and each time under the
viewer's name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models import details
from safepassage.models.checkpoints import MISSION_CHECKPOINTS, Checkpoint
from safepassage.models.clock import utcnow
from safepassage.models.consent_record import Purpose, Recipient
from safepassage.models.crypto import MasterKey
from safepassage.models.errors import CaseNotFound, CaseStateError, IntakeInvalid
from safepassage.models.followup_plan import report_by
from safepassage.models.settings import get_settings
from safepassage.models.sla import Wait, limits, waiting_cases
from safepassage.models.store import state_seal
from safepassage.models.store.cases import get_case, reveal_intake
from safepassage.models.store.consent import consents_to
from safepassage.models.store.db import Store, store_or_opened
from safepassage.models.store.followups import REPORT_CHECKPOINT, FollowUpState
from safepassage.models.store.orm import Case, CheckpointAnswer, FollowUp
from safepassage.models.vocabulary import FINAL_STAGES, Stage
from safepassage.services.checkpoints import answer_checkpoint
from safepassage.tasks.checkpoints import history_of, validate_answer

#: Why a mission officer's view of the details is logged: the audit shows it as such.
REVEAL_PURPOSE = "mission reception"

#: Stages at which the mission has not been told of the case: the office has not accepted it
#: for a return (identification), or never will (ineligible).
_NOT_THE_MISSIONS_YET = frozenset({Stage.IDENTIFICATION.value, Stage.INELIGIBLE.value})
#: The mission's checkpoints a case itself waits at (`cases.waiting_for`). Follow-up reports
#: are asked in runs of their own, several at once at times: the followups table says which.
_WAITS_OF_THE_CASE = MISSION_CHECKPOINTS - {Checkpoint.FOLLOWUP_REPORT}
#: A follow-up whose report the mission was asked for and has not sent.
_ASKED = (FollowUpState.WAITING.value, FollowUpState.OVERDUE.value)


@dataclass(frozen=True)
class MissionCaseRow:
    """One line of a mission's case list: nothing personal, nothing of the office's own work.

    `waiting_for` is one of the mission's own checkpoints or None (what the office waits for
    is not the mission's business); `due` is when that wait runs out, if it has a limit.
    """

    reference: str
    stage: str
    waiting_for: str | None
    due: dt.datetime | None


@dataclass(frozen=True)
class WaitingFollowUp:
    """A follow-up whose report the mission was asked for, and when its window closes."""

    number: int
    due: dt.datetime


@dataclass(frozen=True)
class MissionCaseView:
    """One case as its mission sees it; `details` only with the person's consent (then logged)."""

    reference: str
    stage: str
    waiting_for: str | None
    due: dt.datetime | None
    followups: list[WaitingFollowUp] = field(default_factory=list)
    consented: bool = False
    details: dict[str, str] | None = None


def mission_cases(country: str, *, store: Store | None = None) -> list[MissionCaseRow]:
    """Return the cases of the mission of `country`: those waiting for it first, soonest due."""
    with store_or_opened(store) as opened, opened.transaction() as session:
        cases = [
            case
            for case in session.scalars(
                select(Case).where(
                    Case.destination_country == country,
                    Case.erased_at.is_(None),
                    Case.stage.not_in(_NOT_THE_MISSIONS_YET),
                )
            )
            if state_seal.holds(opened.master_key, case)
        ]
        waits = _case_waits(session, opened.master_key, country)
        followups = _asked_followups(session, [c.id for c in cases])
        rows = [_row(c, waits.get(c.reference), followups.get(c.id, [])) for c in cases]
    return sorted(rows, key=_most_pressing_first)


def mission_case(
    reference: str, *, viewer: str, country: str, store: Store | None = None
) -> MissionCaseView:
    """Return one of the mission's cases; with the person's consent, the details for reception.

    Those details are revealed through the store's logged path: every call writes a disclosure
    event under `viewer`. Without consent nothing personal is read and nothing is logged.
    """
    with store_or_opened(store) as opened, opened.transaction() as session:
        case = the_missions_case(session, opened.master_key, reference, country)
        return _view(session, opened.master_key, case, reveal_to=viewer)


def mission_case_status(
    reference: str, *, country: str, store: Store | None = None
) -> MissionCaseView:
    """Return what one of the mission's cases waits for, without any personal detail.

    For a form's page: asking the mission for an answer reveals nothing, and logs nothing.
    """
    with store_or_opened(store) as opened, opened.transaction() as session:
        case = the_missions_case(session, opened.master_key, reference, country)
        return _view(session, opened.master_key, case, reveal_to=None)


def _view(
    session: Session, master_key: MasterKey, case: Case, *, reveal_to: str | None
) -> MissionCaseView:
    waits = (
        _case_waits(session, master_key, case.destination_country)
        if case.waiting_for in _WAITS_OF_THE_CASE
        else {}
    )
    asked = _asked_followups(session, [case.id]).get(case.id, [])
    row = _row(case, waits.get(case.reference), asked)
    shown = None
    # The details shown serve the reception: they need the person's consent to share with the
    # mission for reception (not only for, say, follow-up contact).
    consented = consents_to(case, Recipient.MISSION, Purpose.RECEPTION)
    if reveal_to is not None and consented:
        intake = reveal_intake(
            session, master_key, case, actor=reveal_to, purpose=REVEAL_PURPOSE, now=utcnow()
        )
        shown = details.reception(intake)
    return MissionCaseView(
        reference=row.reference,
        stage=row.stage,
        waiting_for=row.waiting_for,
        due=row.due,
        followups=asked,
        consented=consented,
        details=shown,
    )


def _case_waits(session: Session, master_key: MasterKey, country: str) -> dict[str, Wait]:
    """Return the country's cases waiting at the mission's checkpoints of the return itself,
    with their deadlines as the office's own time-limit checks apply them (models/sla.py)."""
    rules = limits(get_settings())
    return {
        wait.reference: wait
        for wait in waiting_cases(session, master_key, limits=rules, country=country)
        if wait.checkpoint in _WAITS_OF_THE_CASE
    }


def _row(case: Case, wait: Wait | None, asked: list[WaitingFollowUp]) -> MissionCaseRow:
    if wait is not None:
        due = wait.due_at if wait.shows_due else None
        return MissionCaseRow(case.reference, case.stage, wait.checkpoint.value, due)
    if asked:
        return MissionCaseRow(case.reference, case.stage, REPORT_CHECKPOINT, asked[0].due)
    return MissionCaseRow(case.reference, case.stage, None, None)


def _most_pressing_first(row: MissionCaseRow) -> tuple[bool, bool, dt.datetime, str]:
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return (row.waiting_for is None, row.due is None, row.due or far, row.reference)


def submit_mission_answer(
    reference: str,
    checkpoint: Checkpoint | str,
    raw: dict[str, Any],
    *,
    by: str,
    country: str,
    attempt: int | None = None,
    store: Store | None = None,
) -> None:
    """Answer one of the mission's own checkpoints as `by`, and resume the waiting run.

    `entered_by` is set to `by` whatever `raw` says. Raises CaseNotFound (not the mission's
    case), CaseStateError (the case does not wait for that from the mission; `attempt` is the
    follow-up's number), IntakeInvalid (fields at fault, named, never their values).
    """
    form = _mission_checkpoint(checkpoint, attempt)
    answer = {**raw, "entered_by": by}
    with store_or_opened(store) as opened, opened.transaction() as session:
        case = the_missions_case(session, opened.master_key, reference, country)
        _refuse_unless_waiting(session, case, form, attempt)
        # Checked here first, from the store alone, so that a bad answer is named without a
        # round trip to Prefect; answer_checkpoint checks it again against the run it resumes.
        _, problems = validate_answer(form, answer, history_of(session, opened.master_key, case))
    if problems:
        raise IntakeInvalid(problems, source=f"answer to {form.value}")
    answer_checkpoint(reference, answer, expected=form.value, attempt=attempt)


def _mission_checkpoint(checkpoint: Checkpoint | str, attempt: int | None) -> Checkpoint:
    try:
        form = Checkpoint(checkpoint)
    except ValueError:
        form = None
    if form is None or form not in MISSION_CHECKPOINTS:
        raise CaseStateError(
            "only reception, arrival, the reintegration plan and follow-up reports are the "
            "mission's"
        )
    if form is Checkpoint.FOLLOWUP_REPORT and attempt is None:
        raise CaseStateError("a follow-up report names its follow-up's number")
    return form


def the_missions_case(
    session: Session, master_key: MasterKey, reference: str, country: str, *, lock: bool = False
) -> Case:
    """Return the case if it is the mission's to see, else raise CaseNotFound as if unknown."""
    case = get_case(session, reference, lock=lock)
    if (
        case.destination_country != country
        or case.erased_at is not None
        or case.stage in _NOT_THE_MISSIONS_YET
        or not state_seal.holds(master_key, case)
    ):
        raise CaseNotFound(reference)
    return case


def _refuse_unless_waiting(
    session: Session, case: Case, form: Checkpoint, attempt: int | None
) -> None:
    """Raise CaseStateError unless the store says the case waits for this from the mission."""
    if form is Checkpoint.FOLLOWUP_REPORT:
        assert attempt is not None  # _mission_checkpoint requires it
        if attempt in {f.number for f in _asked_followups(session, [case.id]).get(case.id, [])}:
            return
        raise CaseStateError(f"case {case.reference} does not wait for follow-up report {attempt}")
    if case.waiting_for != form.value:
        raise CaseStateError(f"case {case.reference} does not wait for {form.value}")


def _asked_followups(session: Session, case_ids: list[int]) -> dict[int, list[WaitingFollowUp]]:
    """Return, per case, the follow-ups asked for and not reported, the earliest window first
    (of cases still open)."""
    if not case_ids:
        return {}
    reported = select(CheckpointAnswer.id).where(
        CheckpointAnswer.case_id == FollowUp.case_id,
        CheckpointAnswer.checkpoint == REPORT_CHECKPOINT,
        CheckpointAnswer.attempt == FollowUp.number,
    )
    rows = session.scalars(
        select(FollowUp)
        .join(Case, Case.id == FollowUp.case_id)
        .where(
            FollowUp.case_id.in_(case_ids),
            FollowUp.state.in_(_ASKED),
            ~reported.exists(),
            # A case that ended (withdrawn) expects no report: its follow-ups are cancelled.
            Case.stage.not_in([s.value for s in FINAL_STAGES]),
        )
        .order_by(FollowUp.due_on, FollowUp.number)
    )
    found: dict[int, list[WaitingFollowUp]] = {}
    for row in rows:
        found.setdefault(row.case_id, []).append(
            WaitingFollowUp(row.number, _window_closes(report_by(row.due_on, row.window_days)))
        )
    return found


def _window_closes(last_day: dt.date) -> dt.datetime:
    """Return the moment a report window ends: the start (UTC) of the day after its last day,
    when the follow-up counts as overdue (models/followup_plan.is_overdue)."""
    return dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
