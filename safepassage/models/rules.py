"""The programme rules: who each return programme can take, as a coordinator would read them.

Each rule looks at one aspect of a case and, if it has something to say, returns a Finding:
an outcome and the reason in plain words. The decision is the most severe finding
(ineligible > needs_review > eligible) and lists every finding, so a coordinator sees why.
Change a rule: bump RULES_VERSION, because every decision records the version it was made under.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from safepassage.models.intake import Intake
from safepassage.models.vocabulary import IdentificationBasis as Basis
from safepassage.models.vocabulary import Need, Outcome, Programme, RiskLevel

RULES_VERSION = "2026.11-1"

ELIGIBLE, NEEDS_REVIEW, INELIGIBLE = Outcome.ELIGIBLE, Outcome.NEEDS_REVIEW, Outcome.INELIGIBLE
_SEVERITY = {ELIGIBLE: 0, NEEDS_REVIEW: 1, INELIGIBLE: 2}

ADULT_AGE = 18

#: The country each named programme returns people to.
PROGRAMME_COUNTRY: dict[Programme, str] = {
    Programme.BG: "BG",
    Programme.CZ: "CZ",
    Programme.RO: "RO",
    Programme.HU: "HU",
}

#: The services each programme offers, as the source document names them.
PROGRAMME_SERVICES: dict[Programme, tuple[str, ...]] = {
    Programme.BG: (
        "pre-departure assistance",
        "transit and reception",
        "consultation and referral to services",
        "shelter (via local partners)",
        "counselling",
        "medical care",
        "individually tailored reintegration programme",
        "Witness Protection Programme if required",
    ),
    Programme.CZ: (
        "pre-departure assistance",
        "transit and reception",
        "socio-legal consultation",
        "safe accommodation",
        "translation",
        "health and psychological care",
        "support for those facing exploitation and violence, especially women and children",
    ),
    Programme.RO: (
        "pre-departure assistance",
        "transit and reception",
        "travel documents if needed",
        "ticket booking",
        "liaison with the Romanian Embassy in the UK",
        "arrival assistance and onward transport to the home town or village",
        "reintegration based on a needs analysis (medical, psychological, housing, ...)",
    ),
    Programme.HU: (
        "pre-departure assistance",
        "return organised by the missions in the UK and Budapest",
        "social, psychological, medical and dental care",
        "housing",
        "counselling",
        "work therapy",
        "training",
        "in-kind reintegration grant of CHF 1,500 (can be increased)",
    ),
    Programme.ADHOC: ("agreed per case with the receiving mission",),
}

#: Hungary: every beneficiary gets this in-kind grant; more only with a recorded approval.
HU_BASE_GRANT_CHF = 1500


@dataclass(frozen=True)
class Finding:
    """What one rule concluded about a case, and why."""

    rule: str
    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class Decision:
    """The eligibility decision: the most severe finding wins; every finding is kept."""

    outcome: Outcome
    findings: tuple[Finding, ...]
    rules_version: str
    escort_required: bool = False
    services: tuple[str, ...] = field(default=())

    @property
    def reasons(self) -> list[str]:
        """Return the findings' reasons in the order the rules fired."""
        return [f.reason for f in self.findings]

    def as_dict(self) -> dict[str, object]:
        """Return the decision as the JSON the CLI prints and the store keeps (no personal data)."""
        return {
            "outcome": self.outcome.value,
            "reasons": self.reasons,
            "rules": [f.rule for f in self.findings],
            "rules_version": self.rules_version,
            "escort_required": self.escort_required,
            "services": list(self.services),
        }


Rule = Callable[[Intake, dt.date], Finding | None]


# -- rules for every programme ---------------------------------------------------------------------


def voluntary_return(case: Intake, today: dt.date) -> Finding | None:
    """Every programme: no consent to return, no return."""
    if not case.consent.voluntary_return:
        return Finding(
            "voluntary-return", INELIGIBLE, "the person has not consented to return voluntarily"
        )
    return None


def destination_matches_programme(case: Intake, today: dt.date) -> Finding | None:
    """BG, CZ, RO, HU return only to their own country; ADHOC is for every other country."""
    expected = PROGRAMME_COUNTRY.get(case.programme)
    destination = case.destination_country
    if expected is not None and destination != expected:
        return Finding(
            "destination",
            INELIGIBLE,
            f"the {case.programme} programme returns people to {expected} only",
        )
    if case.programme is Programme.ADHOC:
        if destination == "GB":
            return Finding("destination", INELIGIBLE, "the destination must not be the UK")
        for programme, country in PROGRAMME_COUNTRY.items():
            if destination == country:
                return Finding(
                    "destination",
                    INELIGIBLE,
                    f"{country} has its own programme: take the case in under {programme}",
                )
        return Finding(
            "adhoc-case-by-case",
            NEEDS_REVIEW,
            "ad hoc returns are agreed case by case with the receiving mission",
        )
    return None


def minor_needs_escort(case: Intake, today: dt.date) -> Finding | None:
    """A minor (under 18 on the intake date) is reviewed, and travels with an escort."""
    if case.age_on(today) < ADULT_AGE:
        return Finding(
            "minor", NEEDS_REVIEW, "the person is a minor: review, and an escort is required"
        )
    return None


def high_risk(case: Intake, today: dt.date) -> Finding | None:
    """A high risk level is reviewed before anything is arranged."""
    if case.risk_level is RiskLevel.HIGH:
        return Finding("high-risk", NEEDS_REVIEW, "the risk level is high: review before travel")
    return None


# -- the programmes --------------------------------------------------------------------------------

NRM_POSITIVE = {Basis.NRM_CONCLUSIVE_GROUNDS, Basis.NRM_REASONABLE_GROUNDS}


def bulgaria(case: Intake, today: dt.date) -> Finding | None:
    """BG: official (NRM) and unofficial (police, NGO) referrals, and consular identification."""
    basis = case.identification.basis
    if basis in NRM_POSITIVE:
        return Finding("bg-basis", ELIGIBLE, "BG: a positive NRM decision (official referral)")
    if basis in {Basis.POLICE_REFERRAL, Basis.NGO_REFERRAL}:
        return Finding("bg-basis", ELIGIBLE, "BG: a police or NGO referral (unofficial referral)")
    if basis is Basis.CONSULAR_IDENTIFICATION:
        return Finding("bg-basis", ELIGIBLE, "BG: identified by the Bulgarian consulate in the UK")
    return Finding(
        "bg-basis",
        NEEDS_REVIEW,
        "BG: exploitation in the UK without identification as a victim is taken case by case",
    )


def czech_republic(case: Intake, today: dt.date) -> Finding | None:
    """CZ: Czech citizens on any basis but unreferred exploitation; other nationals reviewed."""
    if case.beneficiary.nationality != "CZ":
        return Finding(
            "cz-nationality",
            NEEDS_REVIEW,
            "CZ: the programme is for Czech citizens; another nationality is reviewed",
        )
    if case.identification.basis is Basis.EXPLOITATION_NOT_NRM:
        return Finding(
            "cz-basis",
            NEEDS_REVIEW,
            "CZ: exploitation without identification as a victim is taken case by case",
        )
    return Finding("cz-basis", ELIGIBLE, "CZ: a Czech citizen identified as a victim")


def romania(case: Intake, today: dt.date) -> Finding | None:
    """RO: evidence of identification as a victim in the UK (the country of exploitation)."""
    ident = case.identification
    if not ident.evidence_provided or ident.basis is Basis.EXPLOITATION_NOT_NRM:
        return Finding(
            "ro-evidence",
            INELIGIBLE,
            "RO: evidence of identification as a victim in the UK, "
            "the country of exploitation, is required",
        )
    if ident.basis is Basis.NGO_REFERRAL:
        return Finding(
            "ro-evidence",
            NEEDS_REVIEW,
            "RO: an NGO referral is reviewed as evidence of identification",
        )
    return Finding("ro-evidence", ELIGIBLE, "RO: identified as a victim in the UK, with evidence")


def hungary(case: Intake, today: dt.date) -> Finding | None:
    """HU: assistance on individual needs, on any basis but unreferred exploitation."""
    if case.identification.basis is Basis.EXPLOITATION_NOT_NRM:
        return Finding(
            "hu-basis",
            NEEDS_REVIEW,
            "HU: exploitation without identification as a victim is taken case by case",
        )
    return Finding(
        "hu-basis",
        ELIGIBLE,
        f"HU: eligible; every beneficiary gets an in-kind grant of CHF {HU_BASE_GRANT_CHF:,}",
    )


#: Rules for every case, then the programme's own rule.
COMMON_RULES: tuple[Rule, ...] = (
    voluntary_return,
    destination_matches_programme,
    minor_needs_escort,
    high_risk,
)
PROGRAMME_RULES: dict[Programme, tuple[Rule, ...]] = {
    Programme.BG: (bulgaria,),
    Programme.CZ: (czech_republic,),
    Programme.RO: (romania,),
    Programme.HU: (hungary,),
    Programme.ADHOC: (),
}


def decide(case: Intake, *, today: dt.date) -> Decision:
    """Apply the rules to a case taken in on `today` and return the decision."""
    rules = COMMON_RULES + PROGRAMME_RULES[case.programme]
    findings = tuple(f for rule in rules if (f := rule(case, today)) is not None)
    outcome = max((f.outcome for f in findings), key=_SEVERITY.__getitem__, default=ELIGIBLE)
    return Decision(
        outcome=outcome,
        findings=findings,
        rules_version=RULES_VERSION,
        escort_required=escort_required(case, today),
        services=PROGRAMME_SERVICES[case.programme],
    )


def needs_travel_document(case: Intake, today: dt.date) -> bool:
    """Return whether the person needs an emergency travel document to travel.

    A passport counts only if it is still valid on the day of travel: the later of `today` and
    the earliest departure. A passport that expired while the case waited is a fact decided
    here, when the travel document stage runs, not at intake (the stored case file is never
    re-checked against today: intake.STORED). A passport without an expiry date is taken as valid.
    """
    document = case.travel_document
    if not document.holds_valid_passport:
        return True
    expires = document.passport_expires_on
    return expires is not None and expires < max(today, case.earliest_departure)


def escort_required(case: Intake, today: dt.date) -> bool:
    """Return whether the booking must include an escort: a minor, or an escort need."""
    return case.age_on(today) < ADULT_AGE or Need.ESCORT in case.needs
