"""The notification events, who hears of each, and what each recipient is expected to do next.

These tables are the policy: change who is told what here, and nowhere else. Event names are
part of the interface (titles, the outbox, the CLI's JSON), so rename none lightly.
"""

from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    """Something in a case that a recipient must hear of."""

    CASE_ACCEPTED = "case-accepted"
    REVIEW_NEEDED = "review-needed"
    CASE_INELIGIBLE = "case-ineligible"
    SAFEGUARDING_PENDING = "safeguarding-pending"
    NOT_IN_BEST_INTERESTS = "return-not-in-best-interests"
    CHILD_PROTECTION_HANDOVER = "child-protection-handover"
    EMBASSY_CONSENT_DECLINED = "embassy-consent-declined"
    TRAVEL_DOCUMENT_REQUESTED = "travel-document-requested"
    TRAVEL_DOCUMENT_ISSUED = "travel-document-issued"
    PRE_DEPARTURE_READY = "pre-departure-assistance"
    RECEPTION_REQUESTED = "reception-requested"
    RECEPTION_REMINDER = "reception-reminder"
    RECEPTION_DECLINED = "reception-declined"
    TICKET_BOOKED = "ticket-booked"
    EMBASSY_LIAISON = "embassy-liaison"
    DEPARTED = "departed"
    ARRIVAL_CONFIRMED = "arrival-confirmed"
    REINTEGRATION_PLAN = "reintegration-plan"
    PLAN_REVIEW_NEEDED = "plan-review-needed"
    PLAN_AGREED = "plan-agreed"
    GRANT_PLANNED = "grant-planned"
    GRANT_INCREASE_REQUESTED = "grant-increase-requested"
    GRANT_APPROVED = "grant-approved"
    GRANT_INCREASE_DECLINED = "grant-increase-declined"
    FOLLOWUP_NOTICE = "followup-notice"
    FOLLOWUP_DUE = "followup-due"
    FOLLOWUP_REMINDER = "followup-reminder"
    FOLLOWUP_OVERDUE = "followup-overdue"
    FOLLOWUP_ADDED = "followup-added"
    FOLLOWUP_CONTACT_DECLINED = "followup-contact-declined"
    CLOSURE_WITHHELD = "closure-withheld"
    RISK_ALERT = "risk-alert"
    BOOKING_CANCELLED = "booking-cancelled"
    TRAVEL_RESCHEDULED = "travel-rescheduled"
    SLA_BREACHED = "sla-breached"
    CASE_WITHDRAWN = "case-withdrawn"
    RETURN_STOPPED = "return-stopped"
    CASE_CLOSED = "case-closed"
    DELIVERY_FAILED = "delivery-failed"


class Audience(StrEnum):
    """A kind of recipient; missions and embassies are per country, coordinators are one."""

    MISSION = "mission"
    EMBASSY = "embassy"
    COORDINATORS = "coordinators"


E = Event

#: Who is told of what. One row per audience, as the programme agreements read.
AUDIENCE_EVENTS: dict[Audience, frozenset[Event]] = {
    Audience.MISSION: frozenset({
        E.CASE_ACCEPTED, E.TRAVEL_DOCUMENT_REQUESTED, E.TRAVEL_DOCUMENT_ISSUED,
        E.RECEPTION_REQUESTED, E.RECEPTION_REMINDER, E.TICKET_BOOKED, E.DEPARTED,
        E.ARRIVAL_CONFIRMED, E.REINTEGRATION_PLAN, E.GRANT_APPROVED, E.FOLLOWUP_DUE,
        E.PLAN_AGREED, E.GRANT_PLANNED, E.GRANT_INCREASE_DECLINED,
        E.FOLLOWUP_OVERDUE, E.BOOKING_CANCELLED, E.CASE_WITHDRAWN, E.RETURN_STOPPED, E.CASE_CLOSED,
        E.FOLLOWUP_NOTICE, E.FOLLOWUP_REMINDER, E.FOLLOWUP_ADDED, E.FOLLOWUP_CONTACT_DECLINED,
        E.NOT_IN_BEST_INTERESTS, E.CHILD_PROTECTION_HANDOVER, E.PRE_DEPARTURE_READY,
        E.TRAVEL_RESCHEDULED,
    }),
    Audience.EMBASSY: frozenset({
        E.TRAVEL_DOCUMENT_REQUESTED, E.EMBASSY_LIAISON, E.BOOKING_CANCELLED, E.CASE_WITHDRAWN,
        E.RETURN_STOPPED, E.TRAVEL_RESCHEDULED,
    }),
    Audience.COORDINATORS: frozenset({
        E.REVIEW_NEEDED, E.CASE_INELIGIBLE, E.RECEPTION_DECLINED, E.FOLLOWUP_OVERDUE,
        E.FOLLOWUP_CONTACT_DECLINED, E.CLOSURE_WITHHELD,
        E.RISK_ALERT, E.SLA_BREACHED, E.BOOKING_CANCELLED, E.DELIVERY_FAILED,
        E.SAFEGUARDING_PENDING, E.NOT_IN_BEST_INTERESTS, E.EMBASSY_CONSENT_DECLINED,
        E.PLAN_REVIEW_NEEDED, E.GRANT_INCREASE_REQUESTED,
    }),
}  # fmt: skip

#: One line on what happened, for every message of the event.
EVENT_SUMMARY: dict[Event, str] = {
    E.CASE_ACCEPTED: "The case was accepted for a voluntary return under the programme.",
    E.REVIEW_NEEDED: "The eligibility rules could not decide the case on their own.",
    E.CASE_INELIGIBLE: "The case was found not eligible for the programme.",
    E.SAFEGUARDING_PENDING: "A child's return cannot go on yet: the best-interests "
    "determination is pending, or the guardian's consent is missing.",
    E.NOT_IN_BEST_INTERESTS: "The best-interests determination found that return is not in "
    "the child's best interests: the return ends.",
    E.CHILD_PROTECTION_HANDOVER: "A child's return was safeguarded: the child travels with an "
    "escort and is handed over to the child-protection authority at the destination.",
    E.EMBASSY_CONSENT_DECLINED: "The person declined to share their details with the embassy: "
    "no travel document request goes to it.",
    E.PRE_DEPARTURE_READY: "Pre-departure assistance was given and the person is fit to travel.",
    E.TRAVEL_RESCHEDULED: "The journey was rescheduled: the booked travel will not take place "
    "on the booked date, and a new booking follows.",
    E.TRAVEL_DOCUMENT_REQUESTED: "An emergency travel document was requested.",
    E.TRAVEL_DOCUMENT_ISSUED: "The travel document was issued.",
    E.RECEPTION_REQUESTED: "Before any booking, the receiving mission is asked to confirm that "
    "it can receive the person.",
    E.RECEPTION_REMINDER: "Half the time to confirm reception has passed without an answer.",
    E.RECEPTION_DECLINED: "The receiving mission answered that it cannot receive the person.",
    E.TICKET_BOOKED: "The journey was booked.",
    E.EMBASSY_LIAISON: "The return is notified to the embassy, under the programme rules.",
    E.DEPARTED: "The person has departed from the UK.",
    E.ARRIVAL_CONFIRMED: "The arrival and handover were confirmed.",
    E.REINTEGRATION_PLAN: "The receiving mission is asked for the person's reintegration plan.",
    E.PLAN_REVIEW_NEEDED: "The mission's reintegration plan has needs the programme does not "
    "cover.",
    E.PLAN_AGREED: "The reintegration plan was agreed.",
    E.GRANT_PLANNED: "The in-kind reintegration grant was planned with the agreed plan.",
    E.GRANT_INCREASE_REQUESTED: "An increase of the in-kind reintegration grant was requested, "
    "with the service provider's recommendation.",
    E.GRANT_APPROVED: "An increase of the in-kind reintegration grant was approved.",
    E.GRANT_INCREASE_DECLINED: "An increase of the in-kind reintegration grant was not approved.",
    E.FOLLOWUP_NOTICE: "A follow-up with the person falls due soon.",
    E.FOLLOWUP_DUE: "A follow-up with the person is due.",
    E.FOLLOWUP_REMINDER: "A follow-up report has not come in and its deadline is today.",
    E.FOLLOWUP_OVERDUE: "A follow-up report is overdue.",
    E.FOLLOWUP_ADDED: "An extra follow-up with the person was planned.",
    E.FOLLOWUP_CONTACT_DECLINED: "The person declined further contact: the follow-ups still "
    "to come are cancelled, and the case closes on the last one's due date.",
    E.CLOSURE_WITHHELD: "The last follow-up is done, but the case stays open: a report raised "
    "a risk, or the mission could not reach the person.",
    E.RISK_ALERT: "A raised risk was reported for the case.",
    E.BOOKING_CANCELLED: "The booked journey was cancelled.",
    E.SLA_BREACHED: "A stage has taken longer than its agreed time.",
    E.CASE_WITHDRAWN: "The person withdrew from the return; everything pending stops.",
    E.RETURN_STOPPED: "The return was stopped and will not go ahead.",
    E.CASE_CLOSED: "The case was closed.",
    E.DELIVERY_FAILED: "A notification of this case could not be delivered.",
}

M, B, C = Audience.MISSION, Audience.EMBASSY, Audience.COORDINATORS

#: The next action expected of the recipient, in plain words, per (event, audience).
NEXT_ACTION: dict[tuple[Event, Audience], str] = {
    (E.CASE_ACCEPTED, M): "Confirm you can receive the person and start planning reception.",
    (E.TRAVEL_DOCUMENT_REQUESTED, M): "No action yet; we will tell you when it is issued.",
    (E.TRAVEL_DOCUMENT_REQUESTED, B): "Process the emergency travel document request.",
    (E.TRAVEL_DOCUMENT_ISSUED, M): "No action yet; we will ask you to confirm reception.",
    (E.RECEPTION_REQUESTED, M): "Confirm by the due date whether you can receive the person "
    "(in the mission portal, at the link, or to the UK office). Nothing is booked before.",
    (E.RECEPTION_REMINDER, M): "Please confirm by the due date whether you can receive the "
    "person (in the mission portal, at the link, or to the UK office).",
    (E.RECEPTION_DECLINED, C): "Decide at the case's reception-decision checkpoint: ask the "
    "mission again (retry) or stop the return.",
    (E.TICKET_BOOKED, M): "Arrange the meeting at arrival, onward transport and accommodation.",
    (E.DEPARTED, M): "Meet the person on arrival as arranged.",
    (E.ARRIVAL_CONFIRMED, M): "Start the needs analysis for the reintegration plan.",
    (E.REINTEGRATION_PLAN, M): "Send the reintegration plan from your needs analysis: each "
    "need with the service and provider that meet it, the start date and the cost (in the "
    "mission portal, or to the UK office).",
    (E.PLAN_REVIEW_NEEDED, C): "Decide at the case's plan-review checkpoint: approve the plan "
    "as it is, or ask the mission to adapt it.",
    (E.PLAN_AGREED, M): "Start the services as planned; the follow-ups are scheduled from the "
    "arrival.",
    (E.GRANT_PLANNED, M): "Deliver the grant in kind as planned and record each delivery; ask "
    "for an increase with the provider's recommendation if the plan needs one.",
    (E.GRANT_INCREASE_REQUESTED, C): "Decide at the case's grant-approval checkpoint (at most "
    "the recommendation, within the programme's ceiling).",
    (E.GRANT_APPROVED, M): "Deliver the increase in kind and record each delivery.",
    (E.GRANT_INCREASE_DECLINED, M): "Deliver the grant as approved so far; ask the UK office "
    "if you need the reasons.",
    (E.FOLLOWUP_NOTICE, M): "Plan to check on the person from the due date; send the "
    "follow-up report by the report-by date.",
    (E.FOLLOWUP_DUE, M): "Check on the person and send the follow-up report by the report-by "
    "date.",
    (E.FOLLOWUP_REMINDER, M): "Send the follow-up report today, the report-by date.",
    (E.FOLLOWUP_ADDED, M): "Check on the person again from the new due date; you will be told "
    "ahead of it.",
    (E.FOLLOWUP_CONTACT_DECLINED, M): "Do not contact the person for follow-ups any more; no "
    "report is expected.",
    (E.FOLLOWUP_CONTACT_DECLINED, C): "No action needed: the case closes on the last "
    "follow-up's due date.",
    (E.CLOSURE_WITHHELD, C): "Decide the case: add a follow-up (`safepassage followups add`) "
    "or close it (`safepassage close`).",
    (E.FOLLOWUP_OVERDUE, M): "Send the overdue follow-up report as soon as you can.",
    (E.FOLLOWUP_OVERDUE, C): "Contact the receiving mission about the overdue follow-up.",
    (E.EMBASSY_LIAISON, B): "Acknowledge the return and tell the UK office of any requirement.",
    (E.BOOKING_CANCELLED, M): "Stand down the arrival arrangements until a new booking.",
    (E.BOOKING_CANCELLED, B): "No action; a new date will follow if the return goes ahead.",
    (E.BOOKING_CANCELLED, C): "Decide whether to rebook, and record the reason.",
    (E.CASE_WITHDRAWN, M): "Stop all arrangements for this case.",
    (E.CASE_WITHDRAWN, B): "Stop processing for this case.",
    (E.RETURN_STOPPED, M): "Stop all arrangements for this case.",
    (E.RETURN_STOPPED, B): "Stop processing for this case.",
    (E.CASE_CLOSED, M): "No further action; thank you.",
    (E.SAFEGUARDING_PENDING, C): "Obtain the best-interests determination and the guardian's "
    "consent; nothing is requested or booked until both are recorded.",
    (E.NOT_IN_BEST_INTERESTS, M): "Stop all arrangements for this case.",
    (E.NOT_IN_BEST_INTERESTS, C): "Plan the child's care in the UK with the guardian and the "
    "local authority.",
    (E.CHILD_PROTECTION_HANDOVER, M): "Arrange the handover at arrival to the child-protection "
    "authority named in the case (ask the UK office if it is not shown here).",
    (E.EMBASSY_CONSENT_DECLINED, C): "Obtain a travel document another way and enter it at the "
    "case's travel-document checkpoint.",
    (E.PRE_DEPARTURE_READY, M): "Prepare the assistance listed here for the arrival; the "
    "booking follows.",
    (E.TRAVEL_RESCHEDULED, M): "Hold the arrival arrangements; you will be asked to confirm "
    "reception for the new date.",
    (E.TRAVEL_RESCHEDULED, B): "No action; the new date follows with the new booking.",
    (E.REVIEW_NEEDED, C): "Review the eligibility decision in SafePassage.",
    (E.CASE_INELIGIBLE, C): "Tell the referrer and discuss other support with them.",
    (E.RISK_ALERT, C): "Assess the risk now and decide whether travel can go ahead.",
    (E.SLA_BREACHED, C): "Look at the stage that is late and unblock it.",
    (E.DELIVERY_FAILED, C): "Check the target's configuration and reach the recipient another way.",
}  # fmt: skip

del M, B, C

#: The countries with a standing programme: each must have a mission target at start-up.
PROGRAMME_COUNTRIES = ("BG", "CZ", "RO", "HU")

#: The tag that clears a target to receive personal details (with the person's consent).
SECURE_TAG = "secure"


def audiences_for(event: Event) -> list[Audience]:
    """Return the audiences told of `event`, in the table's order."""
    return [audience for audience, events in AUDIENCE_EVENTS.items() if event in events]


def tag_for(audience: Audience, country: str) -> str:
    """Return the Apprise tag of `audience` for a case going to `country` (ISO alpha-2)."""
    if audience is Audience.COORDINATORS:
        return "coordinators"
    return f"{audience.value}-{country.lower()}"


def next_action(event: Event, audience: Audience) -> str:
    """Return what the recipient is expected to do next, in plain words."""
    return NEXT_ACTION.get((event, audience), "No action needed; for your information.")


def _check_tables() -> None:
    # Every (event, audience) pair the routing table sends needs its next action in plain words:
    # catching a gap at import beats a message that says nothing useful.
    missing = [
        (event.value, audience.value)
        for audience, events in AUDIENCE_EVENTS.items()
        for event in events
        if (event, audience) not in NEXT_ACTION
    ]
    unreachable = [event.value for event in Event if not audiences_for(event)]
    if missing or unreachable or set(EVENT_SUMMARY) != set(Event):
        raise RuntimeError(
            f"notification tables are incomplete: next action missing for {missing}, "
            f"no audience for {unreachable}"
        )


_check_tables()
