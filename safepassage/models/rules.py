"""The eligibility rules: who each return programme can take, and where each rule comes from.

Every rule is one row of a table (`RULES`): an id, the programme it belongs to (or "all"), one
outcome, its source and what it checks in plain words. The source is either the programme's own
description (`programme`, with the words it cites) or the UK office's own policy (`office`):
the office can change an office rule's outcome in its policy file (models/office_policy.py,
SAFEPASSAGE_OFFICE_POLICY) without code; nobody can change a programme rule but by code.
A rule that applies to a case gives a Finding: its outcome and the reason in plain words.
The decision is the most severe finding (ineligible > needs_review > eligible) and lists every
finding, so a coordinator sees why; it records the rules' version and the office policy's.
Change a rule: bump RULES_VERSION (docs/programme-rules.md says how).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from safepassage.models.intake import Intake
from safepassage.models.office_policy import (
    BASE_GRANT_CHF,
    DEFAULT_POLICY,
    OfficePolicy,
    Settable,
    read_office_policy,
)
from safepassage.models.settings import Settings, get_settings
from safepassage.models.vocabulary import IdentificationBasis as Basis
from safepassage.models.vocabulary import Need, Outcome, Programme, RiskLevel

RULES_VERSION = "2026.12-1"

ELIGIBLE, NEEDS_REVIEW, INELIGIBLE = Outcome.ELIGIBLE, Outcome.NEEDS_REVIEW, Outcome.INELIGIBLE
_SEVERITY = {ELIGIBLE: 0, NEEDS_REVIEW: 1, INELIGIBLE: 2}

ADULT_AGE = 18

#: A rule that applies to every programme names this instead of one.
ALL = "all"

#: The country each named programme returns people to.
PROGRAMME_COUNTRY: dict[Programme, str] = {
    Programme.BG: "BG",
    Programme.CZ: "CZ",
    Programme.RO: "RO",
    Programme.HU: "HU",
}
_COUNTRY_NAME = {"BG": "Bulgaria", "CZ": "the Czech Republic", "RO": "Romania", "HU": "Hungary"}
_ADJECTIVE = {"BG": "Bulgarian", "CZ": "Czech", "RO": "Romanian", "HU": "Hungarian"}

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
HU_BASE_GRANT_CHF = int(BASE_GRANT_CHF[Programme.HU])

#: The needs each programme's own service list covers, read word for word from
#: PROGRAMME_SERVICES (the words each rests on are in the comment). A need not listed is not
#: covered: the coordinators decide on it (plan-review). "Consultation and referral to
#: services" or "an individually tailored programme" are not read as covering everything:
#: the programme would not then list its services at all.
PROGRAMME_NEEDS: dict[Programme, frozenset[Need]] = {
    # shelter (via local partners), counselling, medical care, Witness Protection Programme
    Programme.BG: frozenset(
        {Need.SHELTER, Need.COUNSELLING, Need.MEDICAL, Need.WITNESS_PROTECTION, Need.ESCORT}
    ),
    # safe accommodation, socio-legal consultation, translation, health and psychological care
    Programme.CZ: frozenset(
        {
            Need.SHELTER,
            Need.HOUSING,
            Need.SOCIO_LEGAL,
            Need.TRANSLATION,
            Need.MEDICAL,
            Need.PSYCHOLOGICAL,
            Need.ESCORT,
        }
    ),
    # reintegration based on a needs analysis (medical, psychological, housing, ...);
    # travel documents, arrival assistance and onward transport
    Programme.RO: frozenset({Need.MEDICAL, Need.PSYCHOLOGICAL, Need.HOUSING, Need.ESCORT}),
    # social, psychological, medical and dental care; housing; counselling; work therapy;
    # training
    Programme.HU: frozenset(
        {
            Need.PSYCHOLOGICAL,
            Need.MEDICAL,
            Need.DENTAL,
            Need.HOUSING,
            Need.COUNSELLING,
            Need.WORK_THERAPY,
            Need.TRAINING,
            Need.ESCORT,
        }
    ),
    # agreed per case with the receiving mission: nothing is covered in advance
    Programme.ADHOC: frozenset(),
}


def uncovered_needs(programme: Programme | str, needs: Iterable[Need | str]) -> list[Need]:
    """Return the needs of a plan that `programme`'s own service list does not cover."""
    covered = PROGRAMME_NEEDS[Programme(programme)]
    return [Need(need) for need in needs if Need(need) not in covered]


class Source(StrEnum):
    """Where a rule comes from."""

    #: The programme's own description (the source document), cited word for word.
    PROGRAMME = "programme"
    #: The UK office's own policy: its outcome can be set in the office policy file.
    OFFICE = "office"


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
    office_policy_version: str = DEFAULT_POLICY.version

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
            "office_policy_version": self.office_policy_version,
            "escort_required": self.escort_required,
            "services": list(self.services),
        }


Check = Callable[[Intake, dt.date], bool]

#: An office rule's outcome in words, after what it found.
_OFFICE_VERDICT = {
    ELIGIBLE: "eligible by the office's policy",
    NEEDS_REVIEW: "a coordinator reviews the case (office policy)",
    INELIGIBLE: "not eligible by the office's policy",
}


@dataclass(frozen=True)
class Rule:
    """One eligibility rule: when it applies, its one outcome, and where it comes from.

    `reason` is what a finding says, the same words for every case the rule fires on but for
    `{destination}` and `{destination_programme}` (the stored destination): the decision is kept
    in clear, so a reason says no more than the rule id. A programme rule's reason is whole; an
    office rule's says what was found, and its outcome (which the office may change) is added
    in words.
    """

    id: str
    programme: str
    outcome: Outcome
    source: Source
    text: str
    reason: str
    applies: Check
    citation: str | None = None

    def outcome_under(self, policy: OfficePolicy) -> Outcome:
        """Return the rule's outcome under `policy` (a programme rule's never changes)."""
        if self.source is Source.OFFICE:
            return policy.outcomes.get(self.id, self.outcome)
        return self.outcome

    def finding(self, case: Intake, today: dt.date, policy: OfficePolicy) -> Finding | None:
        """Return the rule's finding on `case`, or None when it does not apply."""
        if not self.applies(case, today):
            return None
        outcome = self.outcome_under(policy)
        reason = self.reason.format(
            destination=case.destination_country,
            destination_programme=_programme_of(case.destination_country),
        )
        if self.source is Source.OFFICE:
            reason = f"{reason}: {_OFFICE_VERDICT[outcome]}"
        return Finding(self.id, outcome, reason)


def _programme_of(country: str) -> str:
    return next((p.value for p, c in PROGRAMME_COUNTRY.items() if c == country), "")


# -- what the rules look at ------------------------------------------------------------------------

NRM_POSITIVE = frozenset({Basis.NRM_CONCLUSIVE_GROUNDS, Basis.NRM_REASONABLE_GROUNDS})
#: Identified as a victim, on any basis but exploitation not referred to the NRM.
IDENTIFIED = frozenset(Basis) - {Basis.EXPLOITATION_NOT_NRM}


def _basis_is(*bases: Basis) -> Check:
    return lambda case, today: case.identification.basis in bases


def _not_to(country: str) -> Check:
    return lambda case, today: case.destination_country != country


def _unidentified(case: Intake, today: dt.date) -> bool:
    return case.identification.basis is Basis.EXPLOITATION_NOT_NRM


def _czech(case: Intake) -> bool:
    return case.beneficiary.nationality == "CZ"


def _has_evidence(case: Intake) -> bool:
    return case.identification.evidence_provided


def _adhoc_to_another_country(case: Intake, today: dt.date) -> bool:
    return case.destination_country != "GB" and not _programme_of(case.destination_country)


# -- the rule table --------------------------------------------------------------------------------

#: Words of the programme descriptions (docs/programme-rules.md: the source document).
_CITE_RECEIVING = "partner programmes run by the agency's missions in each receiving country"
_CITE_BG_NRM = (
    "referrals confirmed officially through the UK National Referral Mechanism (NRM: a positive "
    "Reasonable or Conclusive Grounds decision)"
)
_CITE_RO = (
    "must provide evidence of having been identified as a VoT in the destination country (the "
    "country of exploitation: here the UK)"
)
_UNIDENTIFIED_TEXT = "exploited in the UK but not identified as a victim (not referred to the NRM)"


def _destination_rule(programme: Programme) -> Rule:
    country = PROGRAMME_COUNTRY[programme]
    return Rule(
        id=f"{programme.value.lower()}-destination",
        programme=programme.value,
        outcome=INELIGIBLE,
        source=Source.PROGRAMME,
        text=f"The destination is not {_COUNTRY_NAME[country]}: the {programme} programme, run "
        f"with the receiving mission there, returns people to {country} only.",
        reason=f"the {programme} programme returns people to {country} only; the destination "
        "given is {destination}",
        applies=_not_to(country),
        citation=_CITE_RECEIVING,
    )


RULES: tuple[Rule, ...] = (
    # -- every programme
    Rule(
        id="voluntary-return",
        programme=ALL,
        outcome=INELIGIBLE,
        source=Source.PROGRAMME,
        text="The person has not consented to return voluntarily.",
        reason="the person has not consented to return voluntarily: no consent to return, "
        "no return",
        applies=lambda case, today: not case.consent.voluntary_return,
        citation="Return is always voluntary: no consent to return, no return.",
    ),
    Rule(
        id="minor",
        programme=ALL,
        outcome=NEEDS_REVIEW,
        source=Source.OFFICE,
        text="The person is under 18 on the intake date. (An escort is required whatever the "
        "outcome.)",
        reason="the person is under 18 on the intake date (an escort is required)",
        applies=lambda case, today: case.age_on(today) < ADULT_AGE,
    ),
    Rule(
        id="high-risk",
        programme=ALL,
        outcome=NEEDS_REVIEW,
        source=Source.OFFICE,
        text="The risk level is high.",
        reason="the risk level is high",
        applies=lambda case, today: case.risk_level is RiskLevel.HIGH,
    ),
    # -- Bulgaria
    _destination_rule(Programme.BG),
    Rule(
        id="bg-nrm-conclusive",
        programme="BG",
        outcome=ELIGIBLE,
        source=Source.PROGRAMME,
        text="A positive Conclusive Grounds decision of the UK National Referral Mechanism "
        "(an official referral).",
        reason="BG: a positive conclusive-grounds NRM decision, a referral confirmed officially "
        "through the NRM",
        applies=_basis_is(Basis.NRM_CONCLUSIVE_GROUNDS),
        citation=_CITE_BG_NRM,
    ),
    Rule(
        id="bg-nrm-reasonable",
        programme="BG",
        outcome=ELIGIBLE,
        source=Source.PROGRAMME,
        text="A positive Reasonable Grounds decision of the UK National Referral Mechanism "
        "(an official referral).",
        reason="BG: a positive reasonable-grounds NRM decision, a referral confirmed officially "
        "through the NRM",
        applies=_basis_is(Basis.NRM_REASONABLE_GROUNDS),
        citation=_CITE_BG_NRM,
    ),
    Rule(
        id="bg-police-ngo",
        programme="BG",
        outcome=ELIGIBLE,
        source=Source.PROGRAMME,
        text="A referral by the police or by an NGO (an unofficial referral).",
        reason="BG: a referral by the police or an NGO, an unofficial referral",
        applies=_basis_is(Basis.POLICE_REFERRAL, Basis.NGO_REFERRAL),
        citation="unofficial referrals by police or NGOs",
    ),
    Rule(
        id="bg-consular",
        programme="BG",
        outcome=ELIGIBLE,
        source=Source.OFFICE,
        text="Identification by the Bulgarian consulate in the UK: a basis the programme "
        "description does not name.",
        reason="BG: identification by the Bulgarian consulate in the UK, a basis the programme "
        "description does not name",
        applies=_basis_is(Basis.CONSULAR_IDENTIFICATION),
    ),
    Rule(
        id="bg-unidentified",
        programme="BG",
        outcome=NEEDS_REVIEW,
        source=Source.PROGRAMME,
        text=f"The person was {_UNIDENTIFIED_TEXT}: the programme takes them case by case.",
        reason="BG: exploitation in the UK not referred to the NRM (not identified as a victim): "
        "the programme takes it case by case",
        applies=_unidentified,
        citation="victims of exploitation in the UK who were not identified as VoTs: case by case",
    ),
    # -- Czech Republic
    _destination_rule(Programme.CZ),
    Rule(
        id="cz-czech-citizen",
        programme="CZ",
        outcome=ELIGIBLE,
        source=Source.PROGRAMME,
        text="A Czech citizen returning to the Czech Republic, identified as a victim (an NRM "
        "decision, a police or NGO referral, or consular identification).",
        reason="CZ: a Czech citizen returning to the Czech Republic, identified as a victim (an "
        "NRM decision, a police or NGO referral, or consular identification)",
        applies=lambda case, today: _czech(case) and case.identification.basis in IDENTIFIED,
        citation="Czech citizens returning to the Czech Republic",
    ),
    Rule(
        id="cz-not-czech",
        programme="CZ",
        outcome=NEEDS_REVIEW,
        source=Source.OFFICE,
        text="The person is not a Czech citizen. The programme is for Czech citizens and also "
        "returns foreign citizens to their origin; the office reviews whether it takes this "
        "person.",
        reason="CZ: the person is not a Czech citizen (the programme is for Czech citizens "
        "returning to the Czech Republic)",
        applies=lambda case, today: not _czech(case),
    ),
    Rule(
        id="cz-unidentified",
        programme="CZ",
        outcome=NEEDS_REVIEW,
        source=Source.OFFICE,
        text=f"The person was {_UNIDENTIFIED_TEXT}; the programme names no basis of "
        "identification (RO finds such a case ineligible).",
        reason="CZ: exploitation in the UK not referred to the NRM (not identified as a victim)",
        applies=_unidentified,
    ),
    # -- Romania
    _destination_rule(Programme.RO),
    Rule(
        id="ro-identified",
        programme="RO",
        outcome=ELIGIBLE,
        source=Source.PROGRAMME,
        text="Identified as a victim in the UK, the country of exploitation (an NRM decision, a "
        "police referral or consular identification), with evidence provided.",
        reason="RO: identified as a victim in the UK (an NRM decision, a police referral or "
        "consular identification), with evidence",
        applies=lambda case, today: (
            _has_evidence(case) and case.identification.basis in IDENTIFIED - {Basis.NGO_REFERRAL}
        ),
        citation=_CITE_RO,
    ),
    Rule(
        id="ro-no-evidence",
        programme="RO",
        outcome=INELIGIBLE,
        source=Source.PROGRAMME,
        text="No evidence of identification as a victim in the UK was provided.",
        reason="RO: no evidence of identification as a victim in the UK (the country of "
        "exploitation) was provided; the programme requires it",
        applies=lambda case, today: not _has_evidence(case),
        citation=_CITE_RO,
    ),
    Rule(
        id="ro-unidentified",
        programme="RO",
        outcome=INELIGIBLE,
        source=Source.PROGRAMME,
        text="The person was exploited in the UK but not referred to the NRM: no "
        "identification as a victim in the UK.",
        reason="RO: exploitation in the UK not referred to the NRM is no identification as a "
        "victim in the UK, which the programme requires",
        applies=_unidentified,
        citation=_CITE_RO,
    ),
    Rule(
        id="ro-ngo",
        programme="RO",
        outcome=NEEDS_REVIEW,
        source=Source.OFFICE,
        text="An NGO referral, with evidence: the office reviews whether it is evidence of "
        "identification as a victim.",
        reason="RO: an NGO referral, with evidence, as the evidence of identification",
        applies=lambda case, today: (
            _has_evidence(case) and case.identification.basis is Basis.NGO_REFERRAL
        ),
    ),
    # -- Hungary
    _destination_rule(Programme.HU),
    Rule(
        id="hu-individual-needs",
        programme="HU",
        outcome=ELIGIBLE,
        source=Source.PROGRAMME,
        text="Identified as a victim (an NRM decision, a police or NGO referral, or consular "
        f"identification): assistance on individual needs, and the in-kind grant of CHF "
        f"{HU_BASE_GRANT_CHF:,}.",
        reason="HU: identified as a victim (an NRM decision, a police or NGO referral, or "
        "consular identification): assistance on an individual-needs basis; every beneficiary "
        f"gets an in-kind grant of CHF {HU_BASE_GRANT_CHF:,}",
        applies=lambda case, today: case.identification.basis in IDENTIFIED,
        citation="assistance on an individual-needs basis",
    ),
    Rule(
        id="hu-unidentified",
        programme="HU",
        outcome=NEEDS_REVIEW,
        source=Source.OFFICE,
        text=f"The person was {_UNIDENTIFIED_TEXT}; the programme names no basis of "
        "identification.",
        reason="HU: exploitation in the UK not referred to the NRM (not identified as a victim)",
        applies=_unidentified,
    ),
    # -- other countries
    Rule(
        id="adhoc-not-uk",
        programme="ADHOC",
        outcome=INELIGIBLE,
        source=Source.PROGRAMME,
        text="The destination is the UK: a return goes from the UK to the country of origin.",
        reason="the destination must not be the UK",
        applies=lambda case, today: case.destination_country == "GB",
        citation="from the UK to their country of origin",
    ),
    Rule(
        id="adhoc-own-programme",
        programme="ADHOC",
        outcome=INELIGIBLE,
        source=Source.PROGRAMME,
        text="The destination is BG, CZ, RO or HU: the country has its own programme, and ad "
        "hoc returns are for other countries.",
        reason="{destination} has its own programme: take the case in under "
        "{destination_programme}",
        applies=lambda case, today: bool(_programme_of(case.destination_country)),
        citation="other countries (ad hoc)",
    ),
    Rule(
        id="adhoc-case-by-case",
        programme="ADHOC",
        outcome=NEEDS_REVIEW,
        source=Source.PROGRAMME,
        text="Any other destination: the return is agreed case by case with the receiving mission.",
        reason="ad hoc returns are agreed case by case with the receiving mission",
        applies=_adhoc_to_another_country,
        citation="agreed per case with the receiving mission",
    ),
)


@dataclass(frozen=True)
class EmbassyLiaison:
    """Whether the receiving country's embassy in London is told of each return (stage 5)."""

    programme: Programme
    source: Source
    text: str
    citation: str | None = None
    notifies: bool = True

    @property
    def id(self) -> str:
        return f"{self.programme.value.lower()}-embassy-liaison"

    def notifies_under(self, policy: OfficePolicy) -> bool:
        """Return whether the embassy is told under `policy` (a programme's own rule holds)."""
        if self.source is Source.OFFICE:
            return policy.embassy_liaison.get(self.programme, self.notifies)
        return self.notifies


def _office_liaison(programme: Programme) -> EmbassyLiaison:
    whose = (
        f"The {_ADJECTIVE[programme.value]}"
        if programme in PROGRAMME_COUNTRY
        else "The destination country's"
    )
    return EmbassyLiaison(
        programme,
        Source.OFFICE,
        f"{whose} embassy in London is told of each return; the programme description does "
        "not name embassy liaison.",
    )


EMBASSY_LIAISON: dict[Programme, EmbassyLiaison] = {
    Programme.BG: _office_liaison(Programme.BG),
    Programme.CZ: _office_liaison(Programme.CZ),
    Programme.RO: EmbassyLiaison(
        Programme.RO,
        Source.PROGRAMME,
        "The Romanian Embassy in London is told of each return.",
        citation="liaison with the Romanian Embassy in the UK",
    ),
    Programme.HU: _office_liaison(Programme.HU),
    Programme.ADHOC: _office_liaison(Programme.ADHOC),
}
#: What an embassy liaison rule results in, as the rule listing shows it.
EMBASSY_NOTIFIED, EMBASSY_NOT_NOTIFIED = "embassy-notified", "embassy-not-notified"

#: What the office policy file may set, and what it may not.
SETTABLE = Settable(
    office_rules=frozenset(r.id for r in RULES if r.source is Source.OFFICE),
    programme_rules=frozenset(r.id for r in RULES if r.source is Source.PROGRAMME),
    embassy_office=frozenset(p for p, e in EMBASSY_LIAISON.items() if e.source is Source.OFFICE),
    embassy_programme=frozenset(
        p for p, e in EMBASSY_LIAISON.items() if e.source is Source.PROGRAMME
    ),
)


def policy_in_force(settings: Settings | None = None) -> OfficePolicy:
    """Return the office policy: the file SAFEPASSAGE_OFFICE_POLICY names, else the defaults.

    The file is read each time (it is a few lines): a changed policy holds from the next
    decision on, and each decision records the version it was made under. A bad file raises
    ConfigurationError naming the key at fault.
    """
    path = (settings or get_settings()).office_policy
    return DEFAULT_POLICY if path is None else read_office_policy(path, SETTABLE)


def rules_for(programme: Programme) -> tuple[Rule, ...]:
    """Return the rules a case of `programme` is decided by, in the order they are listed."""
    return tuple(r for r in RULES if r.programme in {ALL, programme.value})


def decide(case: Intake, *, today: dt.date, policy: OfficePolicy | None = None) -> Decision:
    """Apply the rules to a case taken in on `today` and return the decision.

    `policy` is the office policy to decide under; None means the one in force.
    """
    policy = policy_in_force() if policy is None else policy
    found = (rule.finding(case, today, policy) for rule in rules_for(case.programme))
    findings = tuple(f for f in found if f is not None)
    outcome = max((f.outcome for f in findings), key=_SEVERITY.__getitem__, default=ELIGIBLE)
    return Decision(
        outcome=outcome,
        findings=findings,
        rules_version=RULES_VERSION,
        escort_required=escort_required(case, today),
        services=PROGRAMME_SERVICES[case.programme],
        office_policy_version=policy.version,
    )


def notifies_embassy(programme: Programme | str, *, policy: OfficePolicy | None = None) -> bool:
    """Return whether the embassy is told of a return under `programme` (stage 5).

    Romania's programme names embassy liaison itself; for the others it is the office's
    policy (by default: yes, as before). `policy` None means the one in force.
    """
    policy = policy_in_force() if policy is None else policy
    return EMBASSY_LIAISON[Programme(programme)].notifies_under(policy)


@dataclass(frozen=True)
class RuleRow:
    """One rule as `safepassage rules` lists it, with its outcome under the policy in force."""

    id: str
    programme: str
    outcome: str
    default_outcome: str
    source: str
    text: str
    citation: str | None

    def as_dict(self) -> dict[str, str | None]:
        """Return the row as the JSON the CLI prints."""
        return {
            "id": self.id,
            "programme": self.programme,
            "outcome": self.outcome,
            "default_outcome": self.default_outcome,
            "source": self.source,
            "text": self.text,
            "citation": self.citation,
        }


def rule_rows(policy: OfficePolicy, programme: Programme | None = None) -> list[RuleRow]:
    """Return every rule (eligibility, then embassy liaison), or those a programme's cases meet."""
    rows = [
        RuleRow(
            rule.id,
            rule.programme,
            rule.outcome_under(policy).value,
            rule.outcome.value,
            rule.source.value,
            rule.text,
            rule.citation,
        )
        for rule in (RULES if programme is None else rules_for(programme))
    ]
    for liaison in EMBASSY_LIAISON.values():
        if programme is not None and liaison.programme is not programme:
            continue
        rows.append(
            RuleRow(
                liaison.id,
                liaison.programme.value,
                _embassy_outcome(liaison.notifies_under(policy)),
                _embassy_outcome(liaison.notifies),
                liaison.source.value,
                liaison.text,
                liaison.citation,
            )
        )
    return rows


def _embassy_outcome(notifies: bool) -> str:
    return EMBASSY_NOTIFIED if notifies else EMBASSY_NOT_NOTIFIED


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
