"""A case's follow-up scores, as a person reads them: each read logged as a disclosure.

The scores are personal data (sealed with the case's data), so showing them to a person goes
through `reveal_records` like `case REF --reveal`: the `personal-data-revealed` event names
who read them and why, in the transaction that decrypted them. No Prefect here.
"""

from __future__ import annotations

import json

from safepassage.models.clock import utcnow
from safepassage.models.store.cases import get_case, reveal_records
from safepassage.models.store.db import opened_store
from safepassage.models.sustainability import Scores, scores_record
from safepassage.models.sustainability.records import scored_followups


def followup_scores(reference: str, *, actor: str, purpose: str) -> dict[int, dict[str, str]]:
    """Return each scored follow-up's scores by number (the read logged, if any was read).

    A case with no scored follow-up, or an erased one, returns nothing and logs nothing.
    """
    with opened_store() as store, store.transaction() as session:
        case = get_case(session, reference)
        if case.data_key is None:  # erased: the scores went with the key
            return {}
        records = {number: scores_record(number) for number in scored_followups(session, case)}
        opened = reveal_records(
            session, store.master_key, case, list(records.values()), actor=actor,
            purpose=purpose, now=utcnow(),
        )  # fmt: skip
        return {
            number: Scores.from_dict(json.loads(opened[record])).as_dict()
            for number, record in records.items()
        }
