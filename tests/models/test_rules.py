"""Every programme rule, as a table a coordinator could check against the programme description."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from safepassage.models.intake import Intake
from safepassage.models.rules import (
    HU_BASE_GRANT_CHF,
    PROGRAMME_SERVICES,
    RULES_VERSION,
    decide,
    needs_travel_document,
)
from safepassage.models.vocabulary import Outcome, Programme
from tests.factories import TODAY, intake, intake_document

NAMED = ["BG", "CZ", "RO", "HU"]
E, R, X = Outcome.ELIGIBLE, Outcome.NEEDS_REVIEW, Outcome.INELIGIBLE
MINOR_BIRTH = f"{TODAY.year - 16}-01-01"
BIRTHDAY_TOMORROW_18 = (TODAY + dt.timedelta(days=1)).replace(year=TODAY.year - 18).isoformat()

# (programme, changes to the valid case, expected outcome, rules that must fire)
CASES: list[tuple[str, dict[str, Any], Outcome, set[str]]] = [
    # Every programme: return is voluntary.
    *[(p, {"consent__voluntary_return": False}, X, {"voluntary-return"}) for p in NAMED],
    ("ADHOC", {"consent__voluntary_return": False}, X, {"voluntary-return"}),
    # Named programmes return only to their own country.
    ("BG", {"destination_country": "RO"}, X, {"destination"}),
    ("CZ", {"destination_country": "SK"}, X, {"destination"}),
    ("RO", {"destination_country": "MD"}, X, {"destination"}),
    ("HU", {"destination_country": "AT"}, X, {"destination"}),
    # ADHOC: any other country, always reviewed; not the UK, not a country with its own programme.
    ("ADHOC", {}, R, {"adhoc-case-by-case"}),
    ("ADHOC", {"destination_country": "AL"}, R, {"adhoc-case-by-case"}),
    ("ADHOC", {"destination_country": "RO"}, X, {"destination"}),
    ("ADHOC", {"destination_country": "GB"}, X, {"destination"}),
    # BG: official (NRM) and unofficial (police, NGO) referrals, consular identification.
    ("BG", {"identification__basis": "nrm_conclusive_grounds"}, E, {"bg-basis"}),
    ("BG", {"identification__basis": "nrm_reasonable_grounds"}, E, {"bg-basis"}),
    ("BG", {"identification__basis": "police_referral"}, E, {"bg-basis"}),
    ("BG", {"identification__basis": "ngo_referral"}, E, {"bg-basis"}),
    ("BG", {"identification__basis": "consular_identification"}, E, {"bg-basis"}),
    ("BG", {"identification__basis": "exploitation_not_nrm"}, R, {"bg-basis"}),
    # CZ: Czech citizens on any basis but unreferred exploitation; other nationals reviewed.
    ("CZ", {"identification__basis": "police_referral"}, E, {"cz-basis"}),
    ("CZ", {"identification__basis": "ngo_referral"}, E, {"cz-basis"}),
    ("CZ", {"identification__basis": "exploitation_not_nrm"}, R, {"cz-basis"}),
    ("CZ", {"beneficiary__nationality": "SK"}, R, {"cz-nationality"}),
    # RO: evidence of identification in the UK, and voluntary return.
    ("RO", {"identification__basis": "nrm_conclusive_grounds"}, E, {"ro-evidence"}),
    ("RO", {"identification__basis": "police_referral"}, E, {"ro-evidence"}),
    ("RO", {"identification__basis": "consular_identification"}, E, {"ro-evidence"}),
    ("RO", {"identification__basis": "ngo_referral"}, R, {"ro-evidence"}),
    ("RO", {"identification__evidence_provided": False}, X, {"ro-evidence"}),
    (
        "RO",
        {
            "identification__basis": "exploitation_not_nrm",
            "identification__evidence_provided": True,
        },
        X,
        {"ro-evidence"},
    ),
    # HU: any basis but unreferred exploitation.
    ("HU", {"identification__basis": "ngo_referral"}, E, {"hu-basis"}),
    ("HU", {"identification__basis": "nrm_reasonable_grounds"}, E, {"hu-basis"}),
    ("HU", {"identification__basis": "exploitation_not_nrm"}, R, {"hu-basis"}),
    # Every programme: minors and high risk are reviewed.
    *[(p, {"beneficiary__date_of_birth": MINOR_BIRTH}, R, {"minor"}) for p in NAMED],
    *[(p, {"risk_level": "high"}, R, {"high-risk"}) for p in NAMED],
    # Severity: ineligible wins over needs_review, which wins over eligible; all rules listed.
    (
        "RO",
        {"identification__evidence_provided": False, "risk_level": "high"},
        X,
        {"ro-evidence", "high-risk"},
    ),
    (
        "BG",
        {"identification__basis": "exploitation_not_nrm", "risk_level": "high"},
        R,
        {"bg-basis", "high-risk"},
    ),
    (
        "HU",
        {"consent__voluntary_return": False, "beneficiary__date_of_birth": MINOR_BIRTH},
        X,
        {"voluntary-return", "minor", "hu-basis"},
    ),
]


@pytest.mark.parametrize(("programme", "changes", "outcome", "rules"), CASES)
def test_programme_rules_decide_as_the_programme_description_says(
    programme: str, changes: dict[str, Any], outcome: Outcome, rules: set[str]
) -> None:
    decision = decide(intake(programme, **changes), today=TODAY)
    assert decision.outcome is outcome
    fired = {f.rule for f in decision.findings}
    assert rules <= fired
    assert len(decision.reasons) == len(decision.findings)
    assert decision.rules_version == RULES_VERSION


@pytest.mark.parametrize("programme", ["BG", "CZ", "RO", "HU"])
def test_a_valid_adult_case_is_eligible_with_one_reason_from_its_programme(programme: str) -> None:
    decision = decide(intake(programme), today=TODAY)
    assert decision.outcome is E
    assert [f.rule for f in decision.findings] == [
        f"{programme.lower()}-basis" if programme != "RO" else "ro-evidence"
    ]


def test_a_minor_needs_an_escort_and_an_adult_on_the_eve_of_their_birthday_is_still_a_minor() -> (
    None
):
    assert decide(intake("BG", beneficiary__date_of_birth=MINOR_BIRTH), today=TODAY).escort_required
    eve = decide(intake("BG", beneficiary__date_of_birth=BIRTHDAY_TOMORROW_18), today=TODAY)
    assert eve.outcome is R
    assert eve.escort_required


def test_an_escort_need_requires_an_escort_without_a_review() -> None:
    decision = decide(intake("RO", needs=["escort", "medical"]), today=TODAY)
    assert decision.outcome is E
    assert decision.escort_required


def test_every_ineligible_reason_says_why_in_words() -> None:
    decision = decide(intake("RO", identification__evidence_provided=False), today=TODAY)
    assert decision.reasons == [
        "RO: evidence of identification as a victim in the UK, the country of exploitation, "
        "is required"
    ]


def test_the_services_offered_follow_the_programme() -> None:
    for programme in Programme:
        assert (
            decide(intake(programme.value), today=TODAY).services == PROGRAMME_SERVICES[programme]
        )
    assert any(f"CHF {HU_BASE_GRANT_CHF:,}" in s for s in PROGRAMME_SERVICES[Programme.HU])
    assert any("Witness Protection" in s for s in PROGRAMME_SERVICES[Programme.BG])


def test_the_decision_as_json_carries_outcome_reasons_and_version() -> None:
    as_dict = decide(intake("ADHOC"), today=TODAY).as_dict()
    assert as_dict["outcome"] == "needs_review"
    assert as_dict["rules_version"] == RULES_VERSION
    assert as_dict["reasons"] == [
        "ad hoc returns are agreed case by case with the receiving mission"
    ]


# (holds a passport, its expiry in days from TODAY or None, earliest departure in days, needed)
TRAVEL_DOCUMENT: list[tuple[bool, int | None, int, bool]] = [
    (False, None, 11, True),  # no passport
    (True, None, 11, False),  # a passport without a recorded expiry is taken as valid
    (True, 30, 11, False),  # valid on the day of travel
    (True, 11, 11, False),  # valid until the day of travel itself
    (True, 5, 11, True),  # expires before the earliest departure
    (True, -6, -20, True),  # expired while the case waited (its departure was due already)
]


@pytest.mark.parametrize(("holds", "expires_in", "departs_in", "needed"), TRAVEL_DOCUMENT)
def test_a_travel_document_is_needed_unless_the_passport_is_valid_on_the_day_of_travel(
    holds: bool, expires_in: int | None, departs_in: int, needed: bool
) -> None:
    def day(offset: int) -> str:
        return (TODAY + dt.timedelta(days=offset)).isoformat()

    document = intake_document(
        "BG",
        travel_document__holds_valid_passport=holds,
        travel_document__passport_expires_on=... if expires_in is None else day(expires_in),
        earliest_departure=day(departs_in),
    )
    # Taken in ten days before TODAY, when every one of these passports was still valid.
    taken_in = TODAY - dt.timedelta(days=10)
    case = Intake.model_validate(document, context={"today": taken_in})
    assert needs_travel_document(case, TODAY) is needed
