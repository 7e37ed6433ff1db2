"""The closed vocabularies of a case: programmes, bases of identification, needs, stages."""

from __future__ import annotations

from enum import StrEnum


class Programme(StrEnum):
    """A return programme run with a receiving mission."""

    BG = "BG"
    CZ = "CZ"
    RO = "RO"
    HU = "HU"
    ADHOC = "ADHOC"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNDISCLOSED = "undisclosed"


class IdentificationBasis(StrEnum):
    """How the person came to be identified as a (potential) victim of trafficking."""

    NRM_CONCLUSIVE_GROUNDS = "nrm_conclusive_grounds"
    NRM_REASONABLE_GROUNDS = "nrm_reasonable_grounds"
    POLICE_REFERRAL = "police_referral"
    NGO_REFERRAL = "ngo_referral"
    CONSULAR_IDENTIFICATION = "consular_identification"
    EXPLOITATION_NOT_NRM = "exploitation_not_nrm"


class Need(StrEnum):
    SHELTER = "shelter"
    MEDICAL = "medical"
    DENTAL = "dental"
    PSYCHOLOGICAL = "psychological"
    COUNSELLING = "counselling"
    HOUSING = "housing"
    TRAINING = "training"
    WORK_THERAPY = "work_therapy"
    SOCIO_LEGAL = "socio_legal"
    TRANSLATION = "translation"
    WITNESS_PROTECTION = "witness_protection"
    ESCORT = "escort"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Stage(StrEnum):
    """Where a case stands; the names are part of the CLI's JSON interface."""

    IDENTIFICATION = "identification"
    CHILD_SAFEGUARDING = "child-safeguarding"
    CONSENT = "consent"
    TRAVEL_DOCUMENT = "travel-document"
    PRE_DEPARTURE = "pre-departure"
    RECEPTION = "reception"
    TICKETING = "ticketing"
    EMBASSY_LIAISON = "embassy-liaison"
    DEPARTURE = "departure"
    ARRIVAL = "arrival"
    REINTEGRATION = "reintegration"
    FOLLOW_UP = "follow-up"
    CLOSED = "closed"
    INELIGIBLE = "ineligible"
    WITHDRAWN = "withdrawn"
    #: Eligible, but the return will not go ahead: a coordinator stopped it after a raised risk,
    #: or because the receiving mission could not receive the person. Not `ineligible`, which
    #: is the rules' or a review's finding about the person, and the report counts apart.
    STOPPED = "stopped"
    #: A child's return ended by a best-interests determination that return is not in the
    #: child's best interests: neither ineligible nor stopped, and counted apart from both.
    NOT_IN_BEST_INTERESTS = "not-in-best-interests"


#: The stages before the person has left the UK: travel can still be stopped or withdrawn.
BEFORE_DEPARTURE = (
    Stage.IDENTIFICATION,
    Stage.CHILD_SAFEGUARDING,
    Stage.CONSENT,
    Stage.TRAVEL_DOCUMENT,
    Stage.PRE_DEPARTURE,
    Stage.RECEPTION,
    Stage.TICKETING,
    Stage.EMBASSY_LIAISON,
    Stage.DEPARTURE,
)

#: Stages after which nothing more happens to a case.
FINAL_STAGES = frozenset(
    {Stage.CLOSED, Stage.INELIGIBLE, Stage.WITHDRAWN, Stage.STOPPED, Stage.NOT_IN_BEST_INTERESTS}
)


class Outcome(StrEnum):
    """An eligibility decision; the order of severity is ineligible > needs_review > eligible."""

    ELIGIBLE = "eligible"
    NEEDS_REVIEW = "needs_review"
    INELIGIBLE = "ineligible"


class ErasureReason(StrEnum):
    """Why a case was erased: a code, never free text, because the event log keeps it for good.

    A free-text reason was found to carry the person's name, birth date or a relative's phone
    number past any filter; a code cannot. Detail goes in the erasure's note (`--note`), which
    is kept apart from the log and deleted after a while (models/store/erasure.py).
    """

    PERSON_REQUEST = "person-request"
    CONSENT_WITHDRAWN = "consent-withdrawn"
    RETENTION = "retention"
    DUPLICATE = "duplicate"
    LEGAL_OBLIGATION = "legal-obligation"
