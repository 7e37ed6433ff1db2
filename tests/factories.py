"""Case files for tests, with personal details distinctive enough to be searched for in bytes."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
from typing import Any

from safepassage.models.intake import Intake

TODAY = dt.date(2026, 11, 29)

#: Values that must never appear outside the encrypted store; leak tests search for each.
PERSONAL_VALUES = {
    "given_name": "Zenobia",
    "family_name": "Quillfeather",
    "date_of_birth": "1991-04-17",
    "home_locality": "Vratsa-Kolibrite",
    "phone": "+359 888 407 613",
    "decision_reference": "NRM-CG-90412",
}

_BASE: dict[str, Any] = {
    "programme": "BG",
    "destination_country": "BG",
    "beneficiary": {
        "given_name": PERSONAL_VALUES["given_name"],
        "family_name": PERSONAL_VALUES["family_name"],
        "date_of_birth": PERSONAL_VALUES["date_of_birth"],
        "sex": "female",
        "nationality": "BG",
        "home_locality": PERSONAL_VALUES["home_locality"],
        "preferred_language": "bg",
        "phone": PERSONAL_VALUES["phone"],
    },
    "identification": {
        "basis": "nrm_conclusive_grounds",
        "decision_reference": PERSONAL_VALUES["decision_reference"],
        "decided_on": "2026-10-02",
        "evidence_provided": True,
    },
    "consent": {
        "voluntary_return": True,
        "share_with_receiving_mission": True,
        "share_with_embassy": False,
        "recorded_on": "2026-11-20",
    },
    "travel_document": {"holds_valid_passport": False},
    "needs": ["shelter", "counselling"],
    "risk_level": "medium",
    "earliest_departure": "2026-12-10",
}

#: Each case file differs from the last in the date consent was recorded (a day earlier, cycling
#: over 300 days), so tests that take in several cases are not refused as duplicate submissions.
#: A test that means to submit the same file twice builds it once.
_SERIAL = itertools.count()
_CONSENT_RECORDED = dt.date(2026, 11, 20)

_COUNTRY = {"BG": "BG", "CZ": "CZ", "RO": "RO", "HU": "HU", "ADHOC": "MD"}
_LANGUAGE = {"BG": "bg", "CZ": "cs", "RO": "ro", "HU": "hu", "ADHOC": "ro"}


def intake_document(programme: str = "BG", /, **changes: Any) -> dict[str, Any]:
    """Return a valid case file for `programme`; `changes` set dotted paths, e.g. `consent__x`.

    A key with a double underscore names a nested field: `beneficiary__nationality="RO"`.
    A value of `...` (Ellipsis) deletes the field.
    """
    document = copy.deepcopy(_BASE)
    country = _COUNTRY[programme]
    document["programme"] = programme
    document["destination_country"] = country
    document["beneficiary"]["nationality"] = country
    document["beneficiary"]["preferred_language"] = _LANGUAGE[programme]
    recorded = _CONSENT_RECORDED - dt.timedelta(days=next(_SERIAL) % 300)
    document["consent"]["recorded_on"] = recorded.isoformat()
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = document
        for part in parents:
            target = target[part]
        if value is ...:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return document


def intake(programme: str = "BG", /, **changes: Any) -> Intake:
    """Return a validated Intake for `programme` with `changes` applied."""
    return Intake.model_validate(intake_document(programme, **changes), context={"today": TODAY})


def intake_json(programme: str = "BG", /, **changes: Any) -> str:
    """Return a case file as JSON text."""
    return json.dumps(intake_document(programme, **changes))
