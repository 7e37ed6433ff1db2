"""Child safeguarding: a child's return waits for a guardian's consent and a best-interests
determination, and ends if return is not in the child's best interests.

Practice, not a programme's text (see docs/case-lifecycle.md): whoever holds parental
responsibility consents (in the UK often an Independent Child Trafficking Guardian or the local
authority), a best-interests determination finds return in the child's best interests or not,
the child travels with an escort and is handed over to a child-protection authority at the
destination. The child's own `voluntary_return` is their wish, not consent on its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from safepassage.models import details
from safepassage.models.checkpoints import Checkpoint, ChildSafeguardingAnswer
from safepassage.models.clock import utcnow
from safepassage.models.intake import Intake
from safepassage.models.rules import ADULT_AGE
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import read_intake_for_stage
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import stage_task
from safepassage.tasks.checkpoints import stored_answer

Determination = Literal["return", "not_in_best_interests", "pending"]

#: Why the return ended, as the mission reads it: a category, nothing about the child.
NOT_IN_BEST_INTERESTS = "the best-interests determination found return not in the child's interests"


def is_child_on_travel(intake: Intake, today: dt.date) -> bool:
    """Return whether the person is under 18 on the day of travel: the earliest departure, or
    today if that has passed."""
    return intake.age_on(max(intake.earliest_departure, today)) < ADULT_AGE


@stage_task
def begin_child_safeguarding(reference: str) -> bool:
    """Return whether the case needs child safeguarding; if so, the case stands there now.

    Cached per case: a replay takes the same branch even if the child has turned 18 since.
    """
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        intake = read_intake_for_stage(session, store.master_key, case)
        needed = is_child_on_travel(intake, at.date())
        if needed and record_action(session, case, "child-safeguarding-started", now=at):
            set_stage(session, case, Stage.CHILD_SAFEGUARDING, actor="flow", now=at)
            # A child always travels with an escort, whatever the intake-day rules found.
            case.escort_required = True
    return needed


@stage_task
def conclude_child_safeguarding(reference: str, attempt: int) -> Determination:
    """Act on ask `attempt`: go on ("return"), end the return, or wait ("pending").

    Travel cannot go on while the determination is pending or the guardian's consent is
    missing: the coordinators are told, and the flow asks again (the next attempt).
    """
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        answer = stored_answer(
            session, store.master_key, case, Checkpoint.CHILD_SAFEGUARDING,
            attempt=attempt, model=ChildSafeguardingAnswer,
        )  # fmt: skip
        outcome: Determination = answer.best_interests
        if outcome == "return" and not answer.guardian_consent:
            outcome = "pending"
        if outcome == "not_in_best_interests":
            if record_action(session, case, "return-not-in-best-interests", attempt, now=at):
                set_stage(session, case, Stage.NOT_IN_BEST_INTERESTS, actor="flow", now=at)
                queue_notifications(
                    session, store.master_key, case, Event.NOT_IN_BEST_INTERESTS,
                    attempt=str(attempt), facts={"reason": NOT_IN_BEST_INTERESTS}, now=at,
                )  # fmt: skip
        elif outcome == "pending":
            if record_action(session, case, "child-safeguarding-pending", attempt, now=at):
                missing = "the guardian's consent" if not answer.guardian_consent else ""
                if answer.best_interests == "pending":
                    missing = " and ".join(filter(None, [missing, "the determination"]))
                queue_notifications(
                    session, store.master_key, case, Event.SAFEGUARDING_PENDING,
                    attempt=str(attempt),
                    facts={"reason": f"waiting for {missing}; asked again (ask {attempt + 1})"},
                    now=at,
                )  # fmt: skip
        elif record_action(session, case, "child-safeguarded", attempt, now=at):
            intake = read_intake_for_stage(session, store.master_key, case)
            queue_notifications(
                session, store.master_key, case, Event.CHILD_PROTECTION_HANDOVER,
                attempt=str(attempt), details=details.child_protection(intake, answer), now=at,
            )  # fmt: skip
    deliver_now(process_store(), reference)
    return outcome
