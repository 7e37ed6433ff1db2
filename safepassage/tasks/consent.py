"""Consent before an embassy request: no details go to an embassy the person did not agree to.

A travel document is requested from the embassy with the person's details. Without their
consent to share with the embassy for travel documents, the case waits at the `consent`
checkpoint; the answer is recorded in the consent record (per recipient and purpose). A person
who declines is not overruled: the coordinators are told, and the case waits at
`travel-document` for a document obtained another way, with no embassy request.
"""

from __future__ import annotations

from prefect import task

from safepassage.models.checkpoints import Checkpoint, ConsentAnswer
from safepassage.models.clock import utcnow
from safepassage.models.consent_record import Purpose, Recipient
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.consent import consents_to, record_consent
from safepassage.models.store.db import process_store
from safepassage.models.store.workflow import find_action, find_answer, record_action, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications import Event, deliver_now, queue_notifications
from safepassage.orchestration.task_options import LEDGER_TASK, stage_task
from safepassage.tasks.checkpoints import stored_answer

DECLINED = "the person declined to share their details with the embassy"
#: The ledger action of a concluded consent checkpoint: it is asked once per case.
CONCLUDED = "embassy-consent-concluded"


@task(**LEDGER_TASK)
def embassy_consent_needed(reference: str) -> bool:
    """Return whether the person must be asked before the embassy is; if so, the case stands
    at `consent`.

    Asked once per case: once its answer is concluded, the consent record decides (and a later
    change with `safepassage consent` applies, a withdrawal included). Read afresh each time
    (not cached): consent recorded meanwhile lets the request go out without the checkpoint.
    """
    at = utcnow()
    with case_transaction(reference) as (_, session, case):
        if find_action(session, case, CONCLUDED) is not None:
            return False
        if find_answer(session, case, Checkpoint.CONSENT.value, 1) is not None:
            return True  # answered, not yet concluded: the flow concludes it
        if consents_to(case, Recipient.EMBASSY, Purpose.TRAVEL_DOCUMENTS):
            return False
        set_stage(session, case, Stage.CONSENT, actor="flow", now=at)
        return True


@stage_task
def embassy_may_be_asked(reference: str, attempt: int) -> bool:
    """Return whether travel document request `attempt` may go to the embassy: the consent
    record as it stands now (cached per attempt, so a replay sends the same way)."""
    with case_transaction(reference) as (_, _session, case):
        return consents_to(case, Recipient.EMBASSY, Purpose.TRAVEL_DOCUMENTS)


@stage_task
def conclude_embassy_consent(reference: str) -> bool:
    """Record the answer in the consent record (once); return whether the person agreed."""
    at = utcnow()
    with case_transaction(reference) as (store, session, case):
        answer = stored_answer(
            session, store.master_key, case, Checkpoint.CONSENT, attempt=1, model=ConsentAnswer
        )
        found = find_answer(session, case, Checkpoint.CONSENT.value, 1)
        recorded_by = found.entered_by if found is not None else "not given"
        # Once: a re-run must not write this answer back over a later change of consent.
        concluded = record_action(session, case, CONCLUDED, now=at)
        if concluded:
            record_consent(
                session, case, recipient=Recipient.EMBASSY, purpose=Purpose.TRAVEL_DOCUMENTS,
                agreed=answer.share_with_embassy, recorded_on=answer.recorded_on,
                language=answer.language, interpreter_used=answer.interpreter_used,
                actor=recorded_by, now=at, restated=True,
            )  # fmt: skip
        if concluded and not answer.share_with_embassy:
            record_action(session, case, "embassy-consent-declined", now=at)
            set_stage(session, case, Stage.TRAVEL_DOCUMENT, actor="flow", now=at)
            queue_notifications(
                session, store.master_key, case, Event.EMBASSY_CONSENT_DECLINED,
                facts={"reason": DECLINED}, now=at,
            )  # fmt: skip
    deliver_now(process_store(), reference)
    return answer.share_with_embassy
