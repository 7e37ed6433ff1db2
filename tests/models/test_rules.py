"""Every programme rule, as a table a coordinator could check against the programme description."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from safepassage.models.intake import Intake
from safepassage.models.office_policy import DEFAULT_POLICY
from safepassage.models.rules import (
    HU_BASE_GRANT_CHF,
    PROGRAMME_SERVICES,
    RULES,
    RULES_VERSION,
    decide,
    needs_travel_document,
)
from safepassage.models.settings import get_settings
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
    ("BG", {"destination_country": "RO"}, X, {"bg-destination"}),
    ("CZ", {"destination_country": "SK"}, X, {"cz-destination"}),
    ("RO", {"destination_country": "MD"}, X, {"ro-destination"}),
    ("HU", {"destination_country": "AT"}, X, {"hu-destination"}),
    # ADHOC: any other country, always reviewed; not the UK, not a country with its own programme.
    ("ADHOC", {}, R, {"adhoc-case-by-case"}),
    ("ADHOC", {"destination_country": "AL"}, R, {"adhoc-case-by-case"}),
    ("ADHOC", {"destination_country": "RO"}, X, {"adhoc-own-programme"}),
    ("ADHOC", {"destination_country": "GB"}, X, {"adhoc-not-uk"}),
    # BG: official (NRM) and unofficial (police, NGO) referrals; consular identification (the
    # office's); unidentified exploitation case by case.
    ("BG", {"identification__basis": "nrm_conclusive_grounds"}, E, {"bg-nrm-conclusive"}),
    ("BG", {"identification__basis": "nrm_reasonable_grounds"}, E, {"bg-nrm-reasonable"}),
    ("BG", {"identification__basis": "police_referral"}, E, {"bg-police-ngo"}),
    ("BG", {"identification__basis": "ngo_referral"}, E, {"bg-police-ngo"}),
    ("BG", {"identification__basis": "consular_identification"}, E, {"bg-consular"}),
    ("BG", {"identification__basis": "exploitation_not_nrm"}, R, {"bg-unidentified"}),
    # CZ: Czech citizens on any basis but unreferred exploitation; other nationals reviewed.
    ("CZ", {"identification__basis": "police_referral"}, E, {"cz-czech-citizen"}),
    ("CZ", {"identification__basis": "ngo_referral"}, E, {"cz-czech-citizen"}),
    ("CZ", {"identification__basis": "exploitation_not_nrm"}, R, {"cz-unidentified"}),
    ("CZ", {"beneficiary__nationality": "SK"}, R, {"cz-not-czech"}),
    # RO: evidence of identification in the UK, and voluntary return.
    ("RO", {"identification__basis": "nrm_conclusive_grounds"}, E, {"ro-identified"}),
    ("RO", {"identification__basis": "police_referral"}, E, {"ro-identified"}),
    ("RO", {"identification__basis": "consular_identification"}, E, {"ro-identified"}),
    ("RO", {"identification__basis": "ngo_referral"}, R, {"ro-ngo"}),
    ("RO", {"identification__evidence_provided": False}, X, {"ro-no-evidence"}),
    (
        "RO",
        {
            "identification__basis": "exploitation_not_nrm",
            "identification__evidence_provided": True,
        },
        X,
        {"ro-unidentified"},
    ),
    # HU: any basis but unreferred exploitation.
    ("HU", {"identification__basis": "ngo_referral"}, E, {"hu-individual-needs"}),
    ("HU", {"identification__basis": "nrm_reasonable_grounds"}, E, {"hu-individual-needs"}),
    ("HU", {"identification__basis": "exploitation_not_nrm"}, R, {"hu-unidentified"}),
    # Every programme: minors and high risk are reviewed.
    *[(p, {"beneficiary__date_of_birth": MINOR_BIRTH}, R, {"minor"}) for p in NAMED],
    *[(p, {"risk_level": "high"}, R, {"high-risk"}) for p in NAMED],
    # Severity: ineligible wins over needs_review, which wins over eligible; all rules listed.
    (
        "RO",
        {"identification__evidence_provided": False, "risk_level": "high"},
        X,
        {"ro-no-evidence", "high-risk"},
    ),
    (
        "BG",
        {"identification__basis": "exploitation_not_nrm", "risk_level": "high"},
        R,
        {"bg-unidentified", "high-risk"},
    ),
    (
        "HU",
        {"consent__voluntary_return": False, "beneficiary__date_of_birth": MINOR_BIRTH},
        X,
        {"voluntary-return", "minor", "hu-individual-needs"},
    ),
]


@pytest.fixture(autouse=True)
def _built_in_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Decide under the built-in defaults, whatever the machine's SAFEPASSAGE_OFFICE_POLICY."""
    monkeypatch.delenv("SAFEPASSAGE_OFFICE_POLICY", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


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
    assert decision.office_policy_version == DEFAULT_POLICY.version


def test_every_rule_in_the_table_fires_in_one_of_the_cases_above() -> None:
    fired = {
        f.rule
        for programme, changes, _, _ in CASES
        for f in decide(intake(programme, **changes), today=TODAY).findings
    }
    fired |= {f.rule for p in Programme for f in decide(intake(p.value), today=TODAY).findings}
    assert fired == {rule.id for rule in RULES}


@pytest.mark.parametrize(
    ("programme", "rule"),
    [
        ("BG", "bg-nrm-conclusive"),
        ("CZ", "cz-czech-citizen"),
        ("RO", "ro-identified"),
        ("HU", "hu-individual-needs"),
    ],
)
def test_a_valid_adult_case_is_eligible_with_one_reason_from_its_programme(
    programme: str, rule: str
) -> None:
    decision = decide(intake(programme), today=TODAY)
    assert decision.outcome is E
    assert [f.rule for f in decision.findings] == [rule]


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
        "RO: no evidence of identification as a victim in the UK (the country of exploitation) "
        "was provided; the programme requires it"
    ]


# (programme, basis, the words the reason must hold, words it must not)
BASIS_REASONS: list[tuple[str, str, str, str]] = [
    ("BG", "nrm_reasonable_grounds", "a positive reasonable-grounds NRM decision", "conclusive"),
    ("BG", "nrm_conclusive_grounds", "a positive conclusive-grounds NRM decision", "reasonable"),
    ("BG", "consular_identification", "the Bulgarian consulate in the UK", "NRM"),
]


@pytest.mark.parametrize(("programme", "basis", "says", "not_says"), BASIS_REASONS)
def test_a_reason_says_exactly_what_the_rule_checked(
    programme: str, basis: str, says: str, not_says: str
) -> None:
    (reason,) = decide(intake(programme, identification__basis=basis), today=TODAY).reasons
    assert says in reason
    assert not_says not in reason


def test_an_office_rule_says_it_is_the_offices_policy_and_a_programme_rule_does_not() -> None:
    (office,) = decide(intake("RO", identification__basis="ngo_referral"), today=TODAY).reasons
    assert office.endswith("a coordinator reviews the case (office policy)")
    (programme,) = decide(
        intake("BG", identification__basis="exploitation_not_nrm"), today=TODAY
    ).reasons
    assert "office" not in programme
    assert programme.endswith("the programme takes it case by case")


def test_the_services_offered_follow_the_programme() -> None:
    for programme in Programme:
        assert (
            decide(intake(programme.value), today=TODAY).services == PROGRAMME_SERVICES[programme]
        )
    assert any(f"CHF {HU_BASE_GRANT_CHF:,}" in s for s in PROGRAMME_SERVICES[Programme.HU])
    assert any("Witness Protection" in s for s in PROGRAMME_SERVICES[Programme.BG])


def test_the_decision_as_json_carries_outcome_reasons_and_both_versions() -> None:
    as_dict = decide(intake("ADHOC"), today=TODAY).as_dict()
    assert as_dict["outcome"] == "needs_review"
    assert as_dict["rules_version"] == RULES_VERSION
    assert as_dict["office_policy_version"] == "default"
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
