"""What the gateway says to people, in one place, so a later translation changes no code."""

from __future__ import annotations

SIGN_IN_FAILED = "The name, password or code is not right, or the account is locked."
FORM_EXPIRED = "This form had expired. Please sign in again."
REFUSED = "This request was refused because it did not come from this site's own pages."
TOO_LARGE = "This request was too large."
OPEN_PREFECT_UI = "Open the coordinators' Prefect UI"
OPEN_PREFECT_UI_V2 = "or its newer version (V2)"
OPEN_AUDIT = "Check the audit trail"
AUDIT_NOT_FOR_YOUR_ROLE = "The audit pages are for auditors and coordinators."
AUDIT_TITLE = "The audit trail"
AUDIT_INTACT = (
    "The event log verifies: {events} events, the chain intact and anchored, and every case's "
    "consent and stage as SafePassage wrote them."
)
AUDIT_BROKEN = "The event log does NOT verify. Tell the office's data protection officer."
AUDIT_BROKEN_AT = "The chain breaks at event {seq}: {problem}."
AUDIT_FORGED = "Case {reference}: its consent or stage was changed outside SafePassage."
AUDIT_ANCHOR = "Anchor: {problem}"
AUDIT_LOOK_UP = "A case's audit trail"
AUDIT_REFERENCE = "Case reference"
AUDIT_SHOW = "Show"
AUDIT_UNKNOWN = "There is no case with that reference."
AUDIT_EMPTY = "Nothing was disclosed about this case yet."
AUDIT_COLUMNS = ("When", "What", "Who", "About")

# -- the mission portal and the mission API ---------------------------------------------------

OPEN_MISSION_PORTAL = "Open your mission's cases"
NOT_FOR_YOUR_ROLE = "This part of SafePassage is for mission officers. It is not for your role."
NO_SUCH_CASE = "There is no such case for your mission."
NOT_WAITING = (
    "This case is not waiting for that answer from your mission. It may have been answered already."
)
UNAVAILABLE = (
    "SafePassage cannot pass your answer on just now. Nothing was recorded. Please try again "
    "in a few minutes."
)
SENT = "Thank you. Your answer was received, and the case moves on."
CHECK_THESE = "Please check these answers. Nothing was recorded yet."
#: One answer at fault: the field's label, and what SafePassage expects there (never the value).
PROBLEM = "{field} This answer {message}."
SEND = "Send"
SIGN_OUT = "Sign out"
BACK_TO_CASES = "Back to your cases"
BACK_TO_CASE = "Back to the case"
SIGNED_IN_AS = "Signed in as {name}, for the mission in {country}."
YES = "Yes"
NO = "No"
NOT_GIVEN = "Not given"
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"

CASES_TITLE = "Your mission's cases"
CASES_INTRO = (
    "These are the people returning to your country. Each case shows its stage and what "
    "SafePassage is waiting for from your mission, with the deadline."
)
NO_CASES = "There are no cases for your mission at the moment."
COLUMN_CASE = "Case"
COLUMN_STAGE = "Stage"
COLUMN_WAITING = "Waiting for your mission"
COLUMN_DUE = "Deadline"
NOTHING_WAITING = "Nothing at the moment"
NO_DEADLINE = "No deadline"

CASE_TITLE = "Case {reference}"
DETAILS_TITLE = "The person's details for reception"
DETAILS_CONSENTED = (
    "You see these details because the person agreed to share them with your mission. "
    "Each time this page is opened, it is recorded under your name."
)
DETAILS_NOT_CONSENTED = (
    "The person did not agree to share their details with your mission, so none are shown."
)
ANSWER_NOW = "Answer now"
FOLLOWUPS_WAITING = "Follow-up reports waiting"
FOLLOWUP_DUE = "Follow-up {number}, due by {due}"

#: What SafePassage waits for from the mission, by checkpoint.
WAITING_FOR = {
    "reception": "Confirm you can receive the person",
    "arrival": "Confirm arrival and handover",
    "reintegration-plan": "Send the reintegration plan",
    "followup-report": "Follow-up report",
}
#: The stages of a case, by their name in SafePassage.
STAGES = {
    "identification": "Identification",
    "child-safeguarding": "Child safeguarding",
    "consent": "Consent",
    "travel-document": "Travel document",
    "pre-departure": "Pre-departure assistance",
    "reception": "Reception",
    "ticketing": "Ticket booking",
    "embassy-liaison": "Embassy liaison",
    "departure": "Departure",
    "arrival": "Arrival",
    "reintegration": "Reintegration",
    "follow-up": "Follow-up",
    "closed": "Closed",
    "withdrawn": "Withdrawn",
    "stopped": "Stopped",
    "not-in-best-interests": "Ended: not in the child's best interests",
}
#: The details a mission needs for reception (models/details.py `reception`), by their key.
DETAILS = {
    "name": "Name",
    "date of birth": "Date of birth",
    "nationality": "Nationality",
    "language": "Language",
    "needs": "Needs",
    "onward destination": "Onward destination",
}

RECEPTION_TITLE = "Can your mission receive the person?"
ARRIVAL_TITLE = "Confirm arrival and handover"
FOLLOWUP_TITLE = "Follow-up report {number}"
PLAN_TITLE = "The reintegration plan"
PLAN_INTRO = (
    "From your needs analysis: each need on a line of its own, with the service and the "
    "provider that meet it, when it starts and what it costs. Leave the lines you do not need "
    "empty. The UK office sees which needs the programme covers and decides on the others."
)
PLAN_LINE = "Plan, line {line}: {field}"
GRANT_TITLE = "The reintegration grant"
GRANT_INCREASE_TITLE = "Ask for an increase of the grant"
GRANT_INCREASE_INTRO = (
    "With the service provider's recommendation, based on the agreed plan. The UK office "
    "decides on it (at most the recommendation, within the programme's ceiling) and tells you."
)
GRANT_DELIVERY_TITLE = "Record a delivery of the grant"
GRANT_DELIVERY_INTRO = "What was delivered in kind, when, by which provider, and its value."
GRANT_NOT_NOW = (
    "This case's grant cannot take that now: the plan is not agreed yet, an increase already "
    "waits for its decision, or the case has ended. Ask the UK office if unsure."
)
#: The plan lines' columns.
PLAN_LABELS = {
    "need": "Need",
    "service": "Service",
    "provider": "Provider",
    "starts_on": "Starts on",
    "cost_chf": "Cost (CHF)",
}
NO_NAMES = "Please do not write names or places here."

#: Each answer field's label and, where it helps, a hint (by the field's name in the form).
LABELS = {
    "accepted": "Can your mission receive the person and arrange the handover?",
    "notes": "Notes",
    "arrived_at": "When did the person arrive?",
    "onward_transport": "Was onward transport arranged?",
    "accommodation": "Where is the person staying?",
    "recommended_grant_chf": "Recommended grant in CHF",
    "contacted": "Did your mission reach the person?",
    "wellbeing": "How is the person doing?",
    "services_received": "Services the person received since the last report",
    "risk_of_retrafficking": "Risk of being trafficked again",
    "next_steps": "What your mission will do next",
    "indicators": "How the person's life is going (each question below)",
    "items": "The plan's lines",
    "amount_chf": "Amount in CHF",
    "provider": "Service provider",
    "recommendation": "The provider's recommendation",
    "what": "What was delivered",
    "delivered_on": "Delivered on",
}
HINTS = {
    "notes": "Conditions or reasons, if any. " + NO_NAMES,
    "arrived_at": "The local date and time, and the time zone's offset from UTC, e.g. +02:00.",
    "recommended_grant_chf": (
        "Hungary only: the service provider's recommendation, if above CHF 1,500."
    ),
    "risk_of_retrafficking": "Raised alerts the coordinators at once.",
    "next_steps": NO_NAMES,
    "indicators": (
        "Ask the person each question and mark their answer. Answer every question when your "
        "mission reached the person; leave them all empty when it did not."
    ),
}
OFFSET_LABEL = "Offset from UTC"
#: The choices of the answer fields, by field and value.
CHOICES = {
    "accommodation": {
        "shelter": "A shelter",
        "family": "With family",
        "independent": "Their own home",
        "other": "Somewhere else",
    },
    "wellbeing": {
        "stable": "Stable",
        "improving": "Improving",
        "struggling": "Struggling",
        "unreachable": "Could not be reached",
    },
    "risk_of_retrafficking": {"none": "None", "low": "Low", "raised": "Raised"},
    "services_received": {
        "shelter": "Shelter",
        "medical": "Medical care",
        "dental": "Dental care",
        "psychological": "Psychological care",
        "counselling": "Counselling",
        "housing": "Housing",
        "training": "Training",
        "work_therapy": "Work therapy",
        "socio_legal": "Socio-legal advice",
        "translation": "Translation",
        "witness_protection": "Witness protection",
        "escort": "Escort",
    },
}

API_TITLE = "SafePassage mission API"
API_DESCRIPTION = (
    "For a receiving mission's own system: the mission's cases, and its answers at reception, "
    "arrival and each follow-up. Send the mission's token as `Authorization: Bearer <token>`. "
    "What a token submits is recorded under the token's name."
)
API_UNAUTHENTICATED = "A valid mission token is needed: send it as 'Authorization: Bearer <token>'."
API_INVALID = "Some fields are not right; each is named below. Values are never repeated back."
