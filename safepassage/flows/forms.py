"""The Resume forms the Prefect UI shows a coordinator, and the words above each.

Each form is the checkpoint's domain model with Prefect's RunInput mixed in, so the UI renders
the same fields, titles and choices the domain validates. No answer's required field has a
default (only who entered it, which the gateway fills in, and optional notes do): a replayed
run whose stored answer was deleted must fail loudly, never proceed on a default value.
Descriptions carry the case reference and instructions only, never a personal detail.
"""

from __future__ import annotations

from prefect.input import RunInput

from safepassage.models.checkpoints import (
    ArrivalAnswer,
    Checkpoint,
    ChildSafeguardingAnswer,
    ConsentAnswer,
    DepartureAnswer,
    FollowUpReportAnswer,
    GrantApprovalAnswer,
    IdentificationReviewAnswer,
    PlanReviewAnswer,
    PreDepartureAnswer,
    ReceptionAnswer,
    ReceptionDecisionAnswer,
    ReintegrationPlanAnswer,
    RiskReviewAnswer,
    TicketAnswer,
    TravelDocumentAnswer,
)
from safepassage.models.settings import get_settings
from safepassage.models.sla import REMINDED, describe_limit, limits


class IdentificationReviewForm(RunInput, IdentificationReviewAnswer):
    pass


class ChildSafeguardingForm(RunInput, ChildSafeguardingAnswer):
    pass


class ConsentForm(RunInput, ConsentAnswer):
    pass


class TravelDocumentForm(RunInput, TravelDocumentAnswer):
    pass


class PreDepartureForm(RunInput, PreDepartureAnswer):
    pass


class ReceptionForm(RunInput, ReceptionAnswer):
    pass


class ReceptionDecisionForm(RunInput, ReceptionDecisionAnswer):
    pass


class TicketForm(RunInput, TicketAnswer):
    pass


class DepartureForm(RunInput, DepartureAnswer):
    pass


class ArrivalForm(RunInput, ArrivalAnswer):
    pass


class ReintegrationPlanForm(RunInput, ReintegrationPlanAnswer):
    pass


class PlanReviewForm(RunInput, PlanReviewAnswer):
    pass


class GrantApprovalForm(RunInput, GrantApprovalAnswer):
    pass


class RiskReviewForm(RunInput, RiskReviewAnswer):
    pass


class FollowUpReportForm(RunInput, FollowUpReportAnswer):
    pass


RUN_INPUTS: dict[Checkpoint, type[RunInput]] = {
    Checkpoint.IDENTIFICATION_REVIEW: IdentificationReviewForm,
    Checkpoint.CHILD_SAFEGUARDING: ChildSafeguardingForm,
    Checkpoint.CONSENT: ConsentForm,
    Checkpoint.TRAVEL_DOCUMENT: TravelDocumentForm,
    Checkpoint.PRE_DEPARTURE: PreDepartureForm,
    Checkpoint.RECEPTION: ReceptionForm,
    Checkpoint.RECEPTION_DECISION: ReceptionDecisionForm,
    Checkpoint.TICKET: TicketForm,
    Checkpoint.DEPARTURE: DepartureForm,
    Checkpoint.ARRIVAL: ArrivalForm,
    Checkpoint.REINTEGRATION_PLAN: ReintegrationPlanForm,
    Checkpoint.PLAN_REVIEW: PlanReviewForm,
    Checkpoint.GRANT_APPROVAL: GrantApprovalForm,
    Checkpoint.RISK_REVIEW: RiskReviewForm,
    Checkpoint.FOLLOWUP_REPORT: FollowUpReportForm,
}

INSTRUCTIONS: dict[Checkpoint, str] = {
    Checkpoint.FOLLOWUP_REPORT: (
        "Follow-up {attempt} of this case is due: the receiving mission was asked to check on "
        "the person. Enter the mission's report as it reads: whether they reached the person, "
        "wellbeing, the services received, the risk of re-trafficking, the next steps and, when "
        "they reached the person, every sustainability indicator (none when not). A "
        "**raised** risk alerts the coordinators at once and keeps the case open. Write no "
        "names or places in the next steps; the report is stored encrypted and removed from "
        "Prefect once read."
    ),
    Checkpoint.IDENTIFICATION_REVIEW: (
        "The programme rules could not decide this case alone (the reasons are in the case's "
        "timeline: `safepassage case {reference}`). Review the referral and the evidence on "
        "file, then approve or reject the return under this programme and say why. "
        "Write no names or places in the reason."
    ),
    Checkpoint.CHILD_SAFEGUARDING: (
        "The person is a **child** (under 18 on the day of travel). Nothing is requested or "
        "booked until the child's return is safeguarded (ask {attempt}). Enter who holds "
        "parental responsibility or guardianship (`ictg`: an Independent Child Trafficking "
        "Guardian), whether they consent and since when, and the best-interests "
        "determination with its reference. The child's own wish is not consent on its own. "
        "**return** goes on, with an escort, and the mission is asked to arrange the handover "
        "to the child-protection authority you name; **not_in_best_interests** ends the "
        "return; **pending**, or no consent, keeps the case here and asks again. The "
        "references and the authority are stored encrypted and removed from Prefect once read."
    ),
    Checkpoint.CONSENT: (
        "The person needs an emergency travel document from the embassy, but has not agreed "
        "to share their details with it. Nothing goes to the embassy until you record their "
        "answer: whether they agree, the day, the language (ISO 639-1, e.g. `ro`) and "
        "whether an interpreter was used. If they decline, the coordinators are told and the "
        "case waits for a document obtained another way, with no request to the embassy."
    ),
    Checkpoint.PRE_DEPARTURE: (
        "Pre-departure assistance before anything is booked (ask {attempt}): the day return "
        "counselling was given (and the interpreter's language, if one was used), whether the "
        "person is fit to travel, and whether they need airport or transit assistance. "
        "**medical_escort** makes a medical escort required at the ticket; **not_yet** asks "
        "again on the date you give. The mission is told what to prepare, not the medical "
        "reasons. Write no names or places in the notes; they are stored encrypted."
    ),
    Checkpoint.TRAVEL_DOCUMENT: (
        "The person holds no valid passport. Enter the document the embassy issued (usually an "
        "emergency travel document) as it reads: type, number and expiry date. The number is "
        "stored encrypted and removed from Prefect once read."
    ),
    Checkpoint.RECEPTION: (
        "Before anything is booked, the receiving mission confirms that it can receive the "
        "person (ask {attempt}). The mission normally answers in its own portal; if it told "
        "you instead (by phone or email), enter its answer here: the audit trail records "
        "that it was entered on the mission's behalf. Tick the box if the mission can receive the "
        "person. If it cannot, the coordinators are alerted and decide whether to ask again "
        "or stop the return. Write no names or places in the notes; they are stored encrypted."
    ),
    Checkpoint.RECEPTION_DECISION: (
        "The receiving mission answered that it cannot receive the person (ask {attempt}; "
        "`safepassage case {reference}` shows when and by whom; ask the mission for its "
        "reasons if you need them). Decide: **retry** asks the mission again (for example "
        "once a shelter place is free), **stop** ends the return: nothing is booked, and the "
        "mission and the embassy are told. Say why; write no names or places in the reason, "
        "which is stored encrypted."
    ),
    Checkpoint.TICKET: (
        "Enter the booking the travel desk made: booking reference, carrier, departure and "
        "arrival with their time-zone offset (e.g. `2026-12-14T09:40:00+00:00`), the arrival "
        "airport's IATA code, and whether an escort is booked. {escort}"
    ),
    Checkpoint.DEPARTURE: (
        "Confirm with airport assistance whether the person boarded booking attempt "
        "{attempt}, and when the flight left. If not, say why: **rescheduled** (the journey "
        "moves to a new date: the mission and embassy are told of the change, not of a missed "
        "flight, and the mission confirms reception for the new date), `no_show`, "
        "`denied_boarding`, `medical` or `other`. Every reason goes back to ticketing for a "
        "new booking; a new date past the travel document's expiry asks for a new document "
        "first."
    ),
    Checkpoint.ARRIVAL: (
        "Enter the arrival and handover as the receiving mission reported them: when the "
        "person arrived, whether onward transport was arranged, and where they are staying. "
        "For Hungary, enter the grant the service provider recommends if it is above the "
        "CHF 1,500 in kind: a coordinator decides on the increase once the plan is agreed."
    ),
    Checkpoint.RISK_REVIEW: (
        "A coordinator raised this case's risk to **high** (`safepassage case {reference}` shows "
        "when and by whom; the reason is in the encrypted case store). Travel is on hold. Decide "
        "whether the return may continue. If not, the case stops: an open booking is cancelled "
        "and the mission is told."
    ),
    Checkpoint.GRANT_APPROVAL: (
        "The mission asks to increase this case's in-kind reintegration grant (request "
        "{attempt}), with the service provider's recommendation (`safepassage grant {reference} "
        "--reveal` shows it, and the grant so far). Decide whether to approve, and the increase "
        "approved: at most the recommendation, and within the programme's ceiling (the office "
        "policy). Write no names or places in the reason; it is stored encrypted."
    ),
    Checkpoint.REINTEGRATION_PLAN: (
        "The person has arrived: the receiving mission sends its reintegration plan from its "
        "needs analysis (ask {attempt}). The mission normally answers in its own portal; if it "
        "sent the plan to you, enter it here on its behalf: each need with the service and "
        "provider that meet it, the start date and the cost in CHF. SafePassage works out "
        "which needs the programme covers; the coordinators decide on the others. The plan "
        "is stored encrypted and removed from Prefect once read."
    ),
    Checkpoint.PLAN_REVIEW: (
        "The mission's reintegration plan (ask {attempt}) has needs the programme's own "
        "services do not cover (`safepassage case {reference} --reveal` shows the plan). "
        "**approve** agrees the plan as it is, the uncovered items funded another way; "
        "**adapt** asks the mission for a new plan. Write no names or places in the reason."
    ),
}


def describe(
    checkpoint: Checkpoint,
    *,
    reference: str,
    attempt: int,
    escort_required: bool,
    problems: list[str],
) -> str:
    """Return the Markdown shown above the Resume form."""
    escort = "**An escort is required** (a minor, or an escort need)." if escort_required else ""
    text = INSTRUCTIONS[checkpoint].format(reference=reference, attempt=attempt, escort=escort)
    lines = [f"### Case `{reference}`: {checkpoint.value}", "", text, ""]
    lines.append(
        "**Entered by** is filled in for the audit trail with the name of the account you "
        "signed in with; you may leave it empty."
    )
    limit = limits(get_settings()).get(checkpoint)
    if limit is not None:
        reminded = "the mission is reminded once halfway, and " if checkpoint in REMINDED else ""
        lines += ["", f"**Time limit:** {describe_limit(checkpoint, limit)}; {reminded}"
                  "coordinators are alerted once if it passes (`safepassage report` lists late "
                  "cases)."]  # fmt: skip
    if problems:
        lines += ["", "**The previous answer was not accepted:**", ""]
        lines += [f"- {problem}" for problem in problems]
    return "\n".join(lines)
