"""A sealed record reads back for structure only, and a bad one is named without its values.

A case file's dates are checked against the day it was taken in; read back later, it is never
checked against today again, or a case whose passport expired while it waited could not be
opened, revealed or erased (issue 14, item 5).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import update

from safepassage.models.clock import utcnow
from safepassage.models.errors import StoredRecordInvalid
from safepassage.models.store.cases import (
    INTAKE,
    cipher_for,
    get_case,
    read_intake_for_stage,
    reveal_intake,
)
from safepassage.models.store.db import Store
from safepassage.models.store.orm import SealedRecord
from tests.factories import PERSONAL_VALUES
from tests.stored import stored_case


def expired_passport_case(store: Store) -> tuple[str, dt.date]:
    """Store a case taken in ten days ago whose passport, valid then, expired six days ago."""
    today = utcnow().date()
    expired_on = today - dt.timedelta(days=6)
    reference = stored_case(
        store,
        taken_in=today - dt.timedelta(days=10),
        travel_document__holds_valid_passport=True,
        travel_document__passport_expires_on=expired_on.isoformat(),
    )
    return reference, expired_on


def test_a_case_whose_passport_expired_while_it_waited_still_opens_and_reveals(
    store: Store,
) -> None:
    reference, expired_on = expired_passport_case(store)
    with store.transaction() as session:
        case = get_case(session, reference)
        document = read_intake_for_stage(session, store.master_key, case).travel_document
        assert (document.holds_valid_passport, document.passport_expires_on) == (True, expired_on)
        shown = reveal_intake(
            session, store.master_key, case, actor="dpo", purpose="check", now=utcnow()
        )
        assert shown.beneficiary.given_name == PERSONAL_VALUES["given_name"]


def test_a_stored_intake_that_no_longer_fits_its_form_names_the_field_never_the_value(
    store: Store,
) -> None:
    reference = stored_case(store)
    bad = "Popescu-not-a-phone"
    with store.transaction() as session:
        case = get_case(session, reference)
        document = read_intake_for_stage(session, store.master_key, case).model_dump(mode="json")
        document["beneficiary"]["phone"] = bad
        sealed = cipher_for(store.master_key, case).seal(INTAKE, json.dumps(document).encode())
        session.execute(
            update(SealedRecord)
            .where(SealedRecord.case_id == case.id, SealedRecord.purpose == INTAKE)
            .values(ciphertext=sealed)
        )
    with store.transaction() as session, pytest.raises(StoredRecordInvalid) as raised:
        read_intake_for_stage(session, store.master_key, get_case(session, reference))
    message = str(raised.value)
    assert "beneficiary.phone" in message
    assert bad not in message
    assert "input_value" not in message
    # Nothing chained to it carries pydantic's text (it quotes the value) into a traceback.
    assert raised.value.__context__ is None
    assert raised.value.__cause__ is None
