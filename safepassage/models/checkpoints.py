"""The coordinator's checkpoint forms and the domain rules their answers must satisfy.

The Prefect UI renders each form from its JSON schema, so everything a form can check by itself
(types, choices, formats) is declared on the fields. What needs the case's history (a departure
after the travel document expires, an arrival before the departure) is checked by
`problems_with`, after the answer is read and before it is accepted; a refused answer is asked
for again with the problems stated. Messages name fields, never the values entered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from safepassage.models.errors import FieldProblem
from safepassage.models.intake import LanguageCode, LongText, Text
from safepassage.models.sustainability import SustainabilityIndicators
from safepassage.models.vocabulary import Need


class Checkpoint(StrEnum):
    """A decision or fact only a person can supply; the names are part of the interface."""

    IDENTIFICATION_REVIEW = "identification-review"
    CHILD_SAFEGUARDING = "child-safeguarding"
    CONSENT = "consent"
    TRAVEL_DOCUMENT = "travel-document"
    PRE_DEPARTURE = "pre-departure"
    RECEPTION = "reception"
    RECEPTION_DECISION = "reception-decision"
    TICKET = "ticket"
    DEPARTURE = "departure"
    ARRIVAL = "arrival"
    REINTEGRATION_PLAN = "reintegration-plan"
    PLAN_REVIEW = "plan-review"
    GRANT_APPROVAL = "grant-approval"
    RISK_REVIEW = "risk-review"
    FOLLOWUP_REPORT = "followup-report"


#: The checkpoints of the journey itself: a raised risk holds the case at each of them.
JOURNEY = frozenset(
    {
        Checkpoint.IDENTIFICATION_REVIEW,
        Checkpoint.CHILD_SAFEGUARDING,
        Checkpoint.CONSENT,
        Checkpoint.TRAVEL_DOCUMENT,
        Checkpoint.PRE_DEPARTURE,
        Checkpoint.RECEPTION,
        Checkpoint.RECEPTION_DECISION,
        Checkpoint.TICKET,
        Checkpoint.DEPARTURE,
    }
)

#: The checkpoints the receiving mission answers itself (in the gateway's portal or API); a
#: coordinator may still answer them in the Prefect UI, on the mission's behalf.
MISSION_CHECKPOINTS = frozenset(
    {
        Checkpoint.RECEPTION,
        Checkpoint.ARRIVAL,
        Checkpoint.REINTEGRATION_PLAN,
        Checkpoint.FOLLOWUP_REPORT,
    }
)


#: Who answered. Optional: the gateway overwrites it with the signed-in account's name (or the
#: mission token's), whatever the request said, and `safepassage resume` with the operator's.
EnteredBy = Annotated[
    Text | None,
    Field(
        default=None,
        title="Entered by",
        description="Filled in for you with the name you signed in with.",
    ),
]
DocumentNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{2,29}$")
]
BookingReference = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,19}$")
]
IataCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z]{3}$")]


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IdentificationReviewAnswer(_Form):
    """A coordinator's review of a case the rules could not decide alone."""

    entered_by: EnteredBy
    approved: bool = Field(title="Approved", description="Approve the return under this programme.")
    reason: LongText = Field(
        title="Reason", description="Why; no names or places (the reason is stored encrypted)."
    )


class ChildSafeguardingAnswer(_Form):
    """A child's return: who holds responsibility, their consent, the best-interests
    determination, and who receives the child at the destination (all sealed)."""

    entered_by: EnteredBy
    guardian_type: Literal["parent", "legal_guardian", "ictg", "local_authority"] = Field(
        title="Who holds parental responsibility or guardianship",
        description="`ictg`: an Independent Child Trafficking Guardian.",
    )
    guardian_consent: bool = Field(
        title="Their consent to the return",
        description="Whether they consented. The child's own wish is not consent on its own.",
    )
    consent_date: dt.date | None = Field(
        default=None, title="Consent given on", description="Required when they consented."
    )
    best_interests: Literal["return", "not_in_best_interests", "pending"] = Field(
        title="Best-interests determination",
        description="`return` is in the child's best interests, `not_in_best_interests` ends "
        "the return, `pending` waits for the determination.",
    )
    bid_reference: Text | None = Field(
        default=None,
        title="Determination reference",
        description="Required once the determination is made (stored encrypted).",
    )
    receiving_authority: Text | None = Field(
        default=None,
        title="Receiving child-protection authority",
        description="The authority or service that receives the child at the destination; "
        "required for a return (stored encrypted).",
    )


class ConsentAnswer(_Form):
    """The person's consent to share their details with the embassy for a travel document."""

    entered_by: EnteredBy
    share_with_embassy: bool = Field(
        title="Agrees to share with the embassy",
        description="Whether the person agreed that the embassy receives their details to "
        "issue a travel document.",
    )
    recorded_on: dt.date = Field(title="Recorded on", description="The day they answered.")
    language: LanguageCode = Field(
        title="Language", description="ISO 639-1 code of the language consent was given in."
    )
    interpreter_used: bool = Field(title="An interpreter was used")


class PreDepartureAnswer(_Form):
    """Pre-departure assistance: counselling, fitness to travel, airport and transit help."""

    entered_by: EnteredBy
    counselled_on: dt.date = Field(
        title="Counselled on", description="The day return counselling was given."
    )
    interpreter_language: LanguageCode | None = Field(
        default=None,
        title="Interpreter language",
        description="ISO 639-1 code, if counselling went through an interpreter.",
    )
    fit_to_travel: Literal["yes", "medical_escort", "not_yet"] = Field(
        title="Fit to travel",
        description="`medical_escort`: fit with a medical escort, which the ticket must then "
        "include; `not_yet`: asked again on the date below.",
    )
    airport_assistance: bool = Field(title="Airport assistance needed")
    transit_assistance: bool = Field(title="Transit assistance needed")
    ask_again_on: dt.date | None = Field(
        default=None,
        title="Ask again on",
        description="With `not_yet`: when to check fitness to travel again.",
    )
    notes: LongText | None = Field(
        default=None, title="Notes", description="No names or places (stored encrypted)."
    )


class TravelDocumentAnswer(_Form):
    """The travel document the person will travel on."""

    entered_by: EnteredBy
    document_type: Literal["passport", "emergency_travel_document"] = Field(title="Document type")
    document_number: DocumentNumber = Field(title="Document number")
    valid_until: dt.date = Field(title="Valid until")


class ReceptionAnswer(_Form):
    """The receiving mission's answer: can it receive the person (before any booking)?"""

    entered_by: EnteredBy
    accepted: bool = Field(
        title="We can receive the person",
        description="Whether the mission can receive the person and arrange the handover.",
    )
    notes: LongText | None = Field(
        default=None,
        title="Notes",
        description="Conditions or reasons; no names or places (stored encrypted).",
    )


class ReceptionDecisionAnswer(_Form):
    """A coordinator's decision after the mission could not receive the person."""

    entered_by: EnteredBy
    decision: Literal["retry", "stop"] = Field(
        title="Decision",
        description="`retry` asks the mission again; `stop` ends the return (outcome stopped).",
    )
    reason: LongText = Field(
        title="Reason", description="Why; no names or places (the reason is stored encrypted)."
    )


class TicketAnswer(_Form):
    """The booking the agency's travel desk made."""

    entered_by: EnteredBy
    booking_reference: BookingReference = Field(title="Booking reference")
    carrier: Text = Field(title="Carrier", description="Airline or coach company.")
    departure_at: AwareDatetime = Field(
        title="Departure", description="ISO 8601 with an offset, e.g. 2026-12-14T09:40:00+00:00."
    )
    arrival_at: AwareDatetime = Field(title="Arrival", description="ISO 8601 with an offset.")
    arrival_airport: IataCode = Field(title="Arrival airport", description="IATA code, e.g. OTP.")
    escort: bool = Field(title="Escort booked")


NotBoardedReason = Literal["rescheduled", "no_show", "denied_boarding", "medical", "other"]


class DepartureAnswer(_Form):
    """Whether the person boarded, as the coordinator or airport assistance saw it; if not,
    why (a journey moved on purpose is `rescheduled`, not a person who failed to board)."""

    entered_by: EnteredBy
    boarded: bool = Field(title="Boarded")
    departed_at: AwareDatetime | None = Field(
        default=None, title="Departed at", description="ISO 8601 with an offset; when boarded."
    )
    reason: NotBoardedReason | None = Field(
        default=None,
        title="Why not boarded",
        description="When not boarded: `rescheduled` (the journey moves to a new date), "
        "`no_show`, `denied_boarding`, `medical` or `other`. Every reason books anew.",
    )
    rescheduled_to: dt.date | None = Field(
        default=None,
        title="New travel date",
        description="With `rescheduled`, if known: a date past the travel document's expiry "
        "asks for a new document first.",
    )
    notes: LongText | None = Field(default=None, title="Notes")


class ArrivalAnswer(_Form):
    """The arrival and handover the receiving mission reported."""

    entered_by: EnteredBy
    arrived_at: AwareDatetime = Field(title="Arrived at", description="ISO 8601 with an offset.")
    onward_transport: bool = Field(title="Onward transport arranged")
    accommodation: Literal["shelter", "family", "independent", "other"] = Field(
        title="Accommodation"
    )
    recommended_grant_chf: Decimal | None = Field(
        default=None,
        ge=0,
        le=100000,
        title="Recommended grant (CHF, Hungary only)",
        description="The service provider's recommended in-kind grant, if above CHF 1,500.",
    )


class RiskReviewAnswer(_Form):
    """A coordinator's ruling on a raised risk: travel may go on, or it stops here."""

    entered_by: EnteredBy
    approved: bool = Field(
        title="Travel may continue", description="Approve the return again despite the risk."
    )
    reason: LongText = Field(
        title="Reason", description="Why; no names or places (the reason is stored encrypted)."
    )


class FollowUpReportAnswer(_Form):
    """The receiving mission's report at a follow-up after arrival, as a coordinator enters it."""

    entered_by: EnteredBy
    contacted: bool = Field(
        title="Person contacted", description="Whether the mission reached the person."
    )
    wellbeing: Literal["stable", "improving", "struggling", "unreachable"] = Field(
        title="Wellbeing", description="As the mission judged it; `unreachable` if not contacted."
    )
    services_received: list[Need] = Field(
        title="Services received",
        description="Reintegration services the person received since the last report.",
    )
    risk_of_retrafficking: Literal["none", "low", "raised"] = Field(
        title="Risk of re-trafficking",
        description="`raised` alerts the coordinators at once and keeps the case open.",
    )
    next_steps: LongText = Field(
        title="Next steps", description="What the mission will do next (stored encrypted)."
    )
    indicators: SustainabilityIndicators | None = Field(
        default=None,
        title="Sustainability indicators",
        description="Every indicator when the person was contacted (as they answered, on the "
        "scale each names, higher is better), none when not. Stored encrypted; scored by "
        "SafePassage (docs/sustainability.md).",
    )


Chf = Annotated[Decimal, Field(ge=0, le=100000, max_digits=8, decimal_places=2)]


class PlanItem(_Form):
    """One need of the person, and the service and provider that meet it."""

    need: Need = Field(title="Need")
    service: Text = Field(title="Service", description="What is provided, e.g. `shelter place`.")
    provider: Text = Field(
        title="Provider", description="The organisation that provides it (stored encrypted)."
    )
    starts_on: dt.date = Field(title="Starts on")
    cost_chf: Chf = Field(title="Cost (CHF)")


#: A plan longer than this is a plan to split, not to type into one form.
MAX_PLAN_ITEMS = 20


class ReintegrationPlanAnswer(_Form):
    """The receiving mission's reintegration plan, from its own needs analysis."""

    entered_by: EnteredBy
    items: list[PlanItem] = Field(
        min_length=1,
        max_length=MAX_PLAN_ITEMS,
        title="Plan items",
        description="Each need with the service and provider that meet it, the start date and "
        "the cost in CHF. SafePassage works out which the programme covers.",
    )
    notes: LongText | None = Field(
        default=None, title="Notes", description="No names or places (stored encrypted)."
    )


#: The sealed record of the agreed plan (one per case: the plan the services follow), and the
#: ledger action that agrees it (its detail: counts and cost only).
AGREED_PLAN = "reintegration-plan"
PLAN_AGREED = "reintegration-planned"


class PlanReviewAnswer(_Form):
    """A coordinator's decision on a plan with needs the programme does not cover."""

    entered_by: EnteredBy
    decision: Literal["approve", "adapt"] = Field(
        title="Decision",
        description="`approve` agrees the plan as it is (the uncovered items funded otherwise); "
        "`adapt` asks the mission for a new plan.",
    )
    reason: LongText = Field(
        title="Reason", description="Why; no names or places (the reason is stored encrypted)."
    )


class GrantApprovalAnswer(_Form):
    """A coordinator's decision on an increase of Hungary's in-kind grant, as recommended."""

    entered_by: EnteredBy
    approved: bool = Field(title="Approved")
    amount_chf: Chf = Field(
        title="Increase approved (CHF)",
        description="At most the provider's recommendation, and within the programme's ceiling.",
    )
    reason: LongText | None = Field(
        default=None, title="Reason", description="Why; no names or places (stored encrypted)."
    )


FORMS: dict[Checkpoint, type[_Form]] = {
    Checkpoint.IDENTIFICATION_REVIEW: IdentificationReviewAnswer,
    Checkpoint.CHILD_SAFEGUARDING: ChildSafeguardingAnswer,
    Checkpoint.CONSENT: ConsentAnswer,
    Checkpoint.TRAVEL_DOCUMENT: TravelDocumentAnswer,
    Checkpoint.PRE_DEPARTURE: PreDepartureAnswer,
    Checkpoint.RECEPTION: ReceptionAnswer,
    Checkpoint.RECEPTION_DECISION: ReceptionDecisionAnswer,
    Checkpoint.TICKET: TicketAnswer,
    Checkpoint.DEPARTURE: DepartureAnswer,
    Checkpoint.ARRIVAL: ArrivalAnswer,
    Checkpoint.REINTEGRATION_PLAN: ReintegrationPlanAnswer,
    Checkpoint.PLAN_REVIEW: PlanReviewAnswer,
    Checkpoint.GRANT_APPROVAL: GrantApprovalAnswer,
    Checkpoint.RISK_REVIEW: RiskReviewAnswer,
    Checkpoint.FOLLOWUP_REPORT: FollowUpReportAnswer,
}


@dataclass(frozen=True)
class History:
    """What the case store knows that an answer must agree with (read inside a task)."""

    consent_recorded_on: dt.date
    escort_required: bool
    programme: str
    document_valid_until: dt.date | None = None
    ticket: TicketAnswer | None = None
    departure: DepartureAnswer | None = None
    recommended_grant_chf: Decimal | None = None
    #: The most a grant increase may still approve: the programme's ceiling less the grant so far.
    grant_headroom_chf: Decimal | None = None
    #: When the person arrived, for a plan's start dates.
    arrived_on: dt.date | None = None
    #: The end of the person's recovery period: no travel before it.
    earliest_departure: dt.date | None = None
    #: The day the answer is judged, for the dates that must not lie in the future.
    today: dt.date | None = None


Problems = list[FieldProblem]


def _travel_document(answer: TravelDocumentAnswer, history: History) -> Problems:
    if answer.valid_until < history.consent_recorded_on:
        return [FieldProblem("valid_until", "is before consent was recorded: check the expiry")]
    return []


def _ticket(answer: TicketAnswer, history: History) -> Problems:
    problems = []
    if answer.arrival_at <= answer.departure_at:
        problems.append(FieldProblem("arrival_at", "must be after departure_at"))
    if answer.departure_at.date() < history.consent_recorded_on:
        problems.append(FieldProblem("departure_at", "is before the person consented to return"))
    earliest = history.earliest_departure
    if earliest is not None and answer.departure_at.date() < earliest:
        problems.append(
            FieldProblem(
                "departure_at",
                "is before the person's earliest departure (the end of the recovery period): "
                "book a later date",
            )
        )
    valid_until = history.document_valid_until
    if valid_until is not None and answer.departure_at.date() > valid_until:
        problems.append(
            FieldProblem("departure_at", "is after the travel document expires: rebook or renew")
        )
    if history.escort_required and not answer.escort:
        problems.append(FieldProblem("escort", "must be true: this person travels with an escort"))
    return problems


def _departure(answer: DepartureAnswer, history: History) -> Problems:
    if not answer.boarded:
        problems = []
        if answer.reason is None:
            problems.append(FieldProblem("reason", "is required when the person did not board"))
        if answer.departed_at is not None:  # a departure time says they left: which is it?
            problems.append(FieldProblem("departed_at", "applies only when the person boarded"))
        if answer.rescheduled_to is not None and answer.reason != "rescheduled":
            problems.append(FieldProblem("rescheduled_to", "applies to a rescheduled journey only"))
        if answer.rescheduled_to is not None and _in_past(answer.rescheduled_to, history):
            problems.append(FieldProblem("rescheduled_to", "must not be in the past"))
        return problems
    if answer.departed_at is None:
        return [FieldProblem("departed_at", "is required when the person boarded")]
    misplaced = [
        FieldProblem(name, "applies only when the person did not board")
        for name in ("reason", "rescheduled_to")
        if getattr(answer, name) is not None
    ]
    if misplaced:
        return misplaced
    ticket = history.ticket
    # A flight leaves late, never half a day early: an earlier time is a typing mistake.
    if ticket and answer.departed_at < ticket.departure_at - EARLIEST_DEPARTURE:
        return [FieldProblem("departed_at", "is before the booked departure: check the date")]
    return []


def _in_future(day: dt.date, history: History) -> bool:
    return history.today is not None and day > history.today


def _in_past(day: dt.date, history: History) -> bool:
    return history.today is not None and day < history.today


def _child_safeguarding(answer: ChildSafeguardingAnswer, history: History) -> Problems:
    problems = []
    if answer.guardian_consent and answer.consent_date is None:
        problems.append(FieldProblem("consent_date", "is required when consent was given"))
    if answer.consent_date is not None and _in_future(answer.consent_date, history):
        problems.append(FieldProblem("consent_date", "must not be in the future"))
    if answer.best_interests != "pending" and answer.bid_reference is None:
        problems.append(FieldProblem("bid_reference", "is required once the determination is made"))
    if answer.best_interests == "return" and answer.receiving_authority is None:
        problems.append(
            FieldProblem(
                "receiving_authority",
                "is required for a return: name who receives the child at the destination",
            )
        )
    return problems


def _consent(answer: ConsentAnswer, history: History) -> Problems:
    if _in_future(answer.recorded_on, history):
        return [FieldProblem("recorded_on", "must not be in the future")]
    return []


def _pre_departure(answer: PreDepartureAnswer, history: History) -> Problems:
    problems = []
    if _in_future(answer.counselled_on, history):
        problems.append(FieldProblem("counselled_on", "must not be in the future"))
    if answer.fit_to_travel == "not_yet":
        if answer.ask_again_on is None:
            problems.append(FieldProblem("ask_again_on", "is required when not yet fit to travel"))
        elif history.today is not None and answer.ask_again_on <= history.today:
            problems.append(FieldProblem("ask_again_on", "must be after today"))
    elif answer.ask_again_on is not None:
        problems.append(FieldProblem("ask_again_on", "applies only when not yet fit to travel"))
    return problems


def _arrival(answer: ArrivalAnswer, history: History) -> Problems:
    problems = []
    departure = history.departure
    departed_at = departure.departed_at if departure is not None else None
    if departed_at is not None and answer.arrived_at <= departed_at:
        problems.append(FieldProblem("arrived_at", "must be after the departure"))
    if answer.recommended_grant_chf is not None and history.programme != "HU":
        problems.append(
            FieldProblem("recommended_grant_chf", "applies to the Hungarian programme only")
        )
    return problems


def _grant(answer: GrantApprovalAnswer, history: History) -> Problems:
    if not answer.approved:
        return []
    problems = []
    if answer.amount_chf <= 0:
        problems.append(FieldProblem("amount_chf", "an approved increase must be above CHF 0"))
    recommended = history.recommended_grant_chf
    if recommended is not None and answer.amount_chf > recommended:
        problems.append(FieldProblem("amount_chf", "must not exceed the provider's recommendation"))
    headroom = history.grant_headroom_chf
    if headroom is not None and answer.amount_chf > headroom:
        problems.append(
            FieldProblem("amount_chf", "would take the grant above the programme's ceiling")
        )
    return problems


def _plan(answer: ReintegrationPlanAnswer, history: History) -> Problems:
    arrived = history.arrived_on
    if arrived is None:
        return []
    return [
        FieldProblem(f"items.{n}.starts_on", "must not be before the person arrived")
        for n, item in enumerate(answer.items)
        if item.starts_on < arrived
    ]


def _followup_report(answer: FollowUpReportAnswer, history: History) -> Problems:
    # A person the mission did not reach cannot be judged well or struggling, and vice versa:
    # the two fields must tell one story, or the report's risk reading is unreliable.
    if not answer.contacted and answer.wellbeing != "unreachable":
        return [FieldProblem("wellbeing", "must be unreachable when the person was not contacted")]
    if answer.contacted and answer.wellbeing == "unreachable":
        return [FieldProblem("contacted", "must be false when wellbeing is unreachable")]
    # The scores compare follow-ups over time: a report of a person reached answers them all.
    if answer.contacted and answer.indicators is None:
        return [FieldProblem("indicators", "are required when the person was contacted")]
    if not answer.contacted and answer.indicators is not None:
        return [FieldProblem("indicators", "must be left out when the person was not contacted")]
    return []


EARLIEST_DEPARTURE = dt.timedelta(hours=12)
_CHECKS: dict[type[_Form], Callable[[Any, History], Problems]] = {
    ChildSafeguardingAnswer: _child_safeguarding,
    ConsentAnswer: _consent,
    PreDepartureAnswer: _pre_departure,
    TravelDocumentAnswer: _travel_document,
    TicketAnswer: _ticket,
    DepartureAnswer: _departure,
    ArrivalAnswer: _arrival,
    GrantApprovalAnswer: _grant,
    ReintegrationPlanAnswer: _plan,
    FollowUpReportAnswer: _followup_report,
}


def problems_with(answer: _Form, history: History) -> Problems:
    """Return what is inconsistent between `answer` and the case's history (empty when none)."""
    for form, check in _CHECKS.items():
        if isinstance(answer, form):
            return check(answer, history)
    return []
