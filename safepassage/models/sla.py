"""Time limits (SLA): how long a case may wait at a checkpoint before coordinators are alerted.

A checkpoint is where a case waits for a person (an embassy, the travel desk, the mission), and
`cases.waiting_for`/`waiting_since` say which and since when. Each checkpoint has a limit in days
(DEFAULT_LIMIT_DAYS, each overridable with SAFEPASSAGE_SLA_DAYS). The clock starts when the
checkpoint opened, with one exception:

- `departure` opens as soon as the journey is booked, often weeks before the flight, so its
  clock starts at the *booked departure*. That time is sealed in the ticket answer; it is read
  here in memory, for the system's own use, and nothing derived from it leaves this module but
  "over the limit" (no due date is shown for it anywhere, since it would reveal the flight).
- `reception` is the receiving mission's to answer: besides the coordinators' alert past the
  limit, the mission gets one reminder once half of it has passed (REMINDED, `reminder_due`).
- `arrival` ("2 days after the flight") needs no sealed time: its checkpoint opens when the
  departure is confirmed, which coordinators do on the day of the flight, so its clock starts
  at `waiting_since` like the others (a late confirmation makes it lenient by that delay).

Plain functions over a session: no Prefect here, so the rules are tested in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.checkpoints import Checkpoint, TicketAnswer
from safepassage.models.crypto import MasterKey
from safepassage.models.errors import ConfigurationError, KeyUnavailable
from safepassage.models.settings import Settings
from safepassage.models.store.orm import Case, CaseEvent
from safepassage.models.store.workflow import read_answer_for_stage
from safepassage.models.stored_forms import read_stored
from safepassage.models.vocabulary import FINAL_STAGES

#: The office's limits, in days, per checkpoint (the issue's figures; change them per office
#: with SAFEPASSAGE_SLA_DAYS='{"travel-document": 28}').
DEFAULT_LIMIT_DAYS: dict[Checkpoint, float] = {
    Checkpoint.IDENTIFICATION_REVIEW: 5,
    # A best-interests determination and the guardian's consent take weeks, not days.
    Checkpoint.CHILD_SAFEGUARDING: 21,
    Checkpoint.CONSENT: 7,
    Checkpoint.TRAVEL_DOCUMENT: 21,
    # Counselling and a fit-to-travel check; "not yet" runs to its own date (ASKED_AGAIN_ON).
    Checkpoint.PRE_DEPARTURE: 14,
    # A mission answers from what it already knows (its shelters, its staff): three days.
    Checkpoint.RECEPTION: 3,
    # The coordinators hold every fact (the mission's answer) and the person waits in the UK on
    # the decision: two days, shorter than a review's five, which needs the evidence read.
    Checkpoint.RECEPTION_DECISION: 2,
    Checkpoint.TICKET: 7,
    Checkpoint.DEPARTURE: 2,
    Checkpoint.ARRIVAL: 2,
    # The mission's needs analysis and plan, after arrival: a month, as the programmes plan
    # reintegration; the coordinators then decide on uncovered needs within a working week.
    Checkpoint.REINTEGRATION_PLAN: 30,
    Checkpoint.PLAN_REVIEW: 5,
    Checkpoint.GRANT_APPROVAL: 14,
}

#: The checkpoint whose clock starts at the booked departure instead of its opening.
FROM_BOOKED_DEPARTURE = frozenset({Checkpoint.DEPARTURE})

#: The checkpoints whose "not yet" answer names the day to ask again: a later ask of them is
#: due on that day (the end of that day, UTC), not a whole limit after it opened.
ASKED_AGAIN_ON = frozenset({Checkpoint.PRE_DEPARTURE})

#: The checkpoints whose answerer (the mission, not a coordinator) is reminded once, when this
#: share of the limit has passed; past the whole limit the coordinators are alerted as for any.
REMINDED = frozenset({Checkpoint.RECEPTION})
REMIND_AT = 0.5

#: Checkpoints absent from the limits (a risk review, a follow-up report: the follow-ups table
#: has its own windows) have no limit unless SAFEPASSAGE_SLA_DAYS gives one.
Limits = Mapping[Checkpoint, dt.timedelta]


def limits(settings: Settings) -> dict[Checkpoint, dt.timedelta]:
    """Return each checkpoint's limit: the defaults, overridden by SAFEPASSAGE_SLA_DAYS."""
    days = dict(DEFAULT_LIMIT_DAYS)
    for name, value in settings.sla_days.items():
        try:
            checkpoint = Checkpoint(name)
        except ValueError:
            choices = ", ".join(c.value for c in Checkpoint)
            raise ConfigurationError(
                f"SAFEPASSAGE_SLA_DAYS names {name!r}, which is no checkpoint: use {choices}"
            ) from None
        if value <= 0:
            raise ConfigurationError(
                f"SAFEPASSAGE_SLA_DAYS gives {name} {value} days: a limit must be above 0"
            )
        days[checkpoint] = value
    return {checkpoint: dt.timedelta(days=value) for checkpoint, value in days.items()}


def describe_limit(checkpoint: Checkpoint, limit: dt.timedelta | None) -> str:
    """Return a limit in words, e.g. `7 days` or `2 days after the booked departure`."""
    if limit is None:
        return "none"
    days = limit / dt.timedelta(days=1)
    text = f"{days:g} day" + ("" if days == 1 else "s")
    if checkpoint in FROM_BOOKED_DEPARTURE:
        return f"{text} after the booked departure"
    return text


def ledger_attempt(checkpoint: Checkpoint, attempt: int) -> int:
    """Return the ledger attempt of one wait: one number per checkpoint and ask, for ever.

    Derived from the checkpoint's name, not its place in the enum, so that adding a checkpoint
    never renumbers the breaches already in the ledger.
    """
    return (zlib.crc32(checkpoint.value.encode()) % 100_000) * 1000 + attempt


@dataclass(frozen=True)
class Wait:
    """A case waiting at a checkpoint, and when its limit runs out. No personal data is shown.

    `due_at` is derived from the booked departure for `departure`: use it to compare, never to
    display (`shows_due` says whether it may be shown).
    """

    reference: str
    programme: str
    stage: str
    checkpoint: Checkpoint
    attempt: int
    since: dt.datetime
    limit: dt.timedelta | None
    due_at: dt.datetime | None
    #: For an ASKED_AGAIN_ON wait: the day the last "not yet" named, whose end it is due at.
    asked_again_on: dt.date | None = None

    @property
    def shows_due(self) -> bool:
        """Return whether the due time may be shown (it reveals no flight time)."""
        return self.due_at is not None and self.checkpoint not in FROM_BOOKED_DEPARTURE

    @property
    def limit_text(self) -> str:
        """Return the limit in words."""
        if self.asked_again_on is not None:  # not a number of days: "20.5799 days" says nothing
            return f"the end of {self.asked_again_on.isoformat()}, the day set to ask again"
        return describe_limit(self.checkpoint, self.limit)

    def waited(self, now: dt.datetime) -> dt.timedelta:
        """Return how long the case has waited at the checkpoint."""
        return max(now - self.since, dt.timedelta(0))

    def over_limit(self, now: dt.datetime) -> bool:
        """Return whether the wait has run past its limit (never, without a limit)."""
        return self.due_at is not None and now > self.due_at

    def reminder_due(self, now: dt.datetime) -> bool:
        """Return whether the answerer is to be reminded: a REMINDED checkpoint, half its
        limit passed. Still true past the limit, so a check that ran late reminds all the same.
        """
        if self.checkpoint not in REMINDED or self.limit is None or self.due_at is None:
            return False
        return now >= self.due_at - self.limit * (1 - REMIND_AT)


def open_attempts(session: Session, references: list[str]) -> dict[tuple[str, str], int]:
    """Return the attempt of the latest opening of each (case, checkpoint), from the event log."""
    if not references:
        return {}
    rows = session.execute(
        select(CaseEvent.reference, CaseEvent.detail)
        .where(CaseEvent.kind == "checkpoint-opened", CaseEvent.reference.in_(references))
        .order_by(CaseEvent.seq)
    )
    found: dict[tuple[str, str], int] = {}
    for reference, detail in rows:
        found[(str(reference), str(detail.get("checkpoint")))] = int(detail.get("attempt", 1))
    return found


def waiting_cases(
    session: Session,
    master_key: MasterKey,
    *,
    limits: Limits,
    programme: str | None = None,
    country: str | None = None,
) -> list[Wait]:
    """Return every open case that waits at a checkpoint, oldest wait first.

    `programme` or `country` (the destination: a mission's own cases) narrow it down.
    """
    query = select(Case).where(
        Case.waiting_for.is_not(None),
        Case.waiting_since.is_not(None),
        Case.stage.not_in([s.value for s in FINAL_STAGES]),
    )
    if programme is not None:
        query = query.where(Case.programme == programme)
    if country is not None:
        query = query.where(Case.destination_country == country)
    cases = list(session.scalars(query.order_by(Case.waiting_since, Case.id)))
    attempts = open_attempts(session, [c.reference for c in cases])
    waits = []
    for case in cases:
        assert case.waiting_for is not None  # both are set: the query asks for it
        assert case.waiting_since is not None
        try:
            checkpoint = Checkpoint(case.waiting_for)
        except ValueError:  # a wait this version does not know (a newer flow): no limit to apply
            continue
        attempt = attempts.get((case.reference, checkpoint.value), 1)
        limit = limits.get(checkpoint)
        start = case.waiting_since
        if limit is not None and checkpoint in FROM_BOOKED_DEPARTURE:
            start = _booked_departure(session, master_key, case, attempt) or start
        asked_again = asked_again_due(session, case.reference, checkpoint, attempt)
        asked_again_on = None
        if asked_again is not None:
            # The limit becomes the time from the opening to the end of the named day: its last
            # instant, so that the due date shown is the named day (not the midnight after it).
            asked_again_on = asked_again.date() - dt.timedelta(days=1)
            last_instant = asked_again - dt.timedelta(microseconds=1)
            limit = max(last_instant - case.waiting_since, dt.timedelta(seconds=1))
        waits.append(
            Wait(
                reference=case.reference,
                programme=case.programme,
                stage=case.stage,
                checkpoint=checkpoint,
                attempt=attempt,
                since=case.waiting_since,
                limit=limit,
                due_at=None if limit is None else start + limit,
                asked_again_on=asked_again_on,
            )
        )
    return waits


def asked_again_due(
    session: Session, reference: str, checkpoint: Checkpoint, attempt: int
) -> dt.datetime | None:
    """Return when ask `attempt` of an ASKED_AGAIN_ON checkpoint is due: the end of the day the
    previous ask's "not yet" named (from the event log); None for any other wait."""
    if checkpoint not in ASKED_AGAIN_ON or attempt <= 1:
        return None
    rows = session.scalars(
        select(CaseEvent.detail).where(
            CaseEvent.reference == reference, CaseEvent.kind == "checkpoint-answered"
        )
    )
    for detail in rows:
        if detail.get("checkpoint") == checkpoint.value and detail.get("attempt") == attempt - 1:
            day = detail.get("ask_again_on")
            if day:
                named = dt.date.fromisoformat(str(day)) + dt.timedelta(days=1)
                return dt.datetime.combine(named, dt.time(), tzinfo=dt.UTC)
    return None


def _booked_departure(
    session: Session, master_key: MasterKey, case: Case, attempt: int
) -> dt.datetime | None:
    # Read for the comparison only; returned to the caller as a due time it never displays.
    try:
        raw = read_answer_for_stage(session, master_key, case, Checkpoint.TICKET.value, attempt)
    except (KeyError, KeyUnavailable):  # no such booking, or an erased case: count from opening
        return None
    return read_stored(TicketAnswer, raw, what="ticket answer").departure_at
