"""The transaction a stage runs in: the case locked, and refused once withdrawn or erased."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.orm import Session

from safepassage.models.errors import CaseErased, CaseWithdrawn
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store, process_store
from safepassage.models.store.orm import Case
from safepassage.models.vocabulary import Stage


@contextlib.contextmanager
def case_transaction(
    reference: str, *, after_withdrawal: bool = False
) -> Iterator[tuple[Store, Session, Case]]:
    """Yield the store, a session in a transaction, and the case with `reference`, locked.

    A withdrawn case refuses every stage (CaseWithdrawn, never retried): a stage that was
    running when the person withdrew must not book or notify after the compensations ran.
    Only the withdrawal's own tasks pass `after_withdrawal=True`. An erased case refuses
    everything (CaseErased): its key is gone, and nothing may be written about it again.
    """
    store = process_store()
    with store.transaction() as session:
        case = get_case(session, reference, lock=True)
        if case.erased_at is not None:
            raise CaseErased(f"case {reference} was erased: this stage does nothing")
        if case.stage == Stage.WITHDRAWN.value and not after_withdrawal:
            raise CaseWithdrawn(f"case {reference} was withdrawn: this stage does nothing")
        yield store, session, case
