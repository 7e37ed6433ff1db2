"""The coordinator's view of a case: its stage timeline, checkpoints and progress, as data.

`read_view` derives it from the case store's clear columns and event log (it never decrypts
anything), so it holds pseudonymous facts and absolute times only, never "3 days ago": the
same case gives the same text until something happens. orchestration/case_view.py publishes
it on the case's flow run in the Prefect UI (a `stage:` tag, a Markdown and a progress
artifact).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.sla import FROM_BOOKED_DEPARTURE, Limits, asked_again_due, describe_limit
from safepassage.models.store.cases import get_case
from safepassage.models.store.events import case_events
from safepassage.models.store.orm import Case, OutboxItem
from safepassage.models.vocabulary import FINAL_STAGES, Stage

#: The way a case goes, start to end; the progress bar is the position on it.
PATH = [
    Stage.IDENTIFICATION,
    Stage.TRAVEL_DOCUMENT,
    Stage.RECEPTION,
    Stage.TICKETING,
    Stage.EMBASSY_LIAISON,
    Stage.DEPARTURE,
    Stage.ARRIVAL,
    Stage.REINTEGRATION,
    Stage.FOLLOW_UP,
    Stage.CLOSED,
]
STAGE_TAG = "stage:"
_TIME = "%Y-%m-%d %H:%M UTC"


def artifact_key(reference: str) -> str:
    """Return the key of a case's Markdown artifact (`case-ro-7q2k-4mxd`)."""
    return f"case-{reference.lower()}"


def progress_key(reference: str) -> str:
    """Return the key of a case's progress artifact."""
    return f"{artifact_key(reference)}-progress"


def stage_tags(existing: list[str], stage: str) -> list[str]:
    """Return the run's tags with the `stage:` tag replaced, every other tag kept in order."""
    return [t for t in existing if not t.startswith(STAGE_TAG)] + [f"{STAGE_TAG}{stage}"]


@dataclass(frozen=True)
class Stay:
    """A stage the case entered, and when it left it (None while it is there)."""

    stage: str
    entered: dt.datetime
    left: dt.datetime | None


@dataclass(frozen=True)
class Ask:
    """One ask of a checkpoint: when it opened, when it was answered, how often refused."""

    checkpoint: str
    attempt: int
    opened: dt.datetime
    answered: dt.datetime | None = None
    refused: int = 0


@dataclass(frozen=True)
class CaseView:
    """What the Prefect UI shows of a case: pseudonymous facts and times, nothing personal."""

    reference: str
    programme: str
    country: str
    stage: str
    status: str
    decision: str
    waiting_for: str | None
    waiting_since: dt.datetime | None
    waiting_attempt: int | None
    limit: str | None
    due_at: dt.datetime | None
    stays: list[Stay] = field(default_factory=list)
    asks: list[Ask] = field(default_factory=list)
    failed_deliveries: int = 0

    @property
    def progress(self) -> float:
        """Return how far along its path the case is, in percent (where it stopped, if ended)."""
        reached = [s.stage for s in self.stays if s.stage in {p.value for p in PATH}]
        if self.stage == Stage.CLOSED.value:
            return 100.0
        if not reached:
            return 0.0
        position = max(PATH.index(Stage(s)) for s in reached)
        return round(100.0 * position / (len(PATH) - 1), 1)

    @property
    def progress_text(self) -> str:
        """Return the progress bar's caption."""
        if self.stage in {s.value for s in FINAL_STAGES} and self.stage != Stage.CLOSED.value:
            last = next((s.stage for s in reversed(self.stays) if s.stage != self.stage), None)
            return f"Case {self.reference}: ended {self.stage}" + (f" at {last}" if last else "")
        return f"Case {self.reference}: {self.stage}"

    def markdown(self) -> str:
        """Return the Markdown artifact's text."""
        lines = [
            f"## Case `{self.reference}`",
            "",
            f"Programme **{self.programme}**, receiving mission **{self.country.lower()}**; "
            f"stage **{self.stage}** ({self.status}); eligibility: {self.decision}.",
            "",
        ]
        lines += self._waiting_lines()
        lines += [
            "### Stage timeline",
            "",
            "| stage | entered | left | days |",
            "|---|---|---|---|",
        ]
        for stay in self.stays:
            left = f"{stay.left:{_TIME}}" if stay.left else "now"
            days = f"{(stay.left - stay.entered) / dt.timedelta(days=1):.1f}" if stay.left else ""
            lines.append(f"| {stay.stage} | {stay.entered:{_TIME}} | {left} | {days} |")
        if self.asks:
            lines += ["", "### Checkpoints", ""]
            lines += ["| checkpoint | attempt | opened | answered | refused answers |"]
            lines += ["|---|---|---|---|---|"]
            for ask in self.asks:
                answered = f"{ask.answered:{_TIME}}" if ask.answered else "waiting"
                lines.append(
                    f"| {ask.checkpoint} | {ask.attempt} | {ask.opened:{_TIME}} | {answered} "
                    f"| {ask.refused} |"
                )
        if self.failed_deliveries:
            lines += [
                "",
                f"**{self.failed_deliveries} notification(s) could not be delivered**: "
                f"`safepassage notifications {self.reference} --failed`, then "
                f"`safepassage notifications retry {self.reference}`.",
            ]
        lines += [
            "",
            f"Personal data stays in the case store: `safepassage case {self.reference}`.",
        ]
        return "\n".join(lines) + "\n"

    def _waiting_lines(self) -> list[str]:
        if self.waiting_for is None or self.waiting_since is None:
            return []
        lines = [
            f"**Waiting for:** `{self.waiting_for}` (attempt {self.waiting_attempt or 1}), "
            f"since {self.waiting_since:{_TIME}}.",
        ]
        if self.limit:
            due = f", due by {self.due_at:{_TIME}}" if self.due_at else ""
            lines[-1] += f" Time limit: {self.limit}{due}."
        lines += [
            "",
            "**To answer:** this run's menu (⋮, top right) → **Resume**: the form says what to "
            f"enter and where it comes from. Or `safepassage resume {self.reference} "
            "--input ANSWER.json`.",
            "",
        ]
        return lines


def read_view(session: Session, reference: str, *, limits: Limits) -> CaseView:
    """Return a case's view from its clear columns and event log (nothing is decrypted)."""
    case = get_case(session, reference)
    stays: list[Stay] = []
    asks: dict[tuple[str, int], Ask] = {}
    for event in case_events(session, reference):
        detail = event.detail
        if event.kind == "case-taken-in":
            stays = [Stay(event.stage or Stage.IDENTIFICATION.value, event.at, None)]
        elif event.kind == "stage-changed" and event.stage:
            if stays:
                stays[-1] = Stay(stays[-1].stage, stays[-1].entered, event.at)
            stays.append(Stay(event.stage, event.at, None))
        elif event.kind.startswith("checkpoint-"):
            _note_ask(asks, event.kind, event.at, detail)
    if stays and stays[-1].stage != case.stage:  # ended at intake: no stage-changed entry
        stays[-1] = Stay(stays[-1].stage, stays[-1].entered, case.updated_at)
        stays.append(Stay(case.stage, case.updated_at, None))
    waiting_attempt = None
    limit = due_at = None
    if case.waiting_for:
        opened = [a for a in asks.values() if a.checkpoint == case.waiting_for]
        waiting_attempt = opened[-1].attempt if opened else 1
        limit, due_at = _limit_of(session, case, limits, waiting_attempt)
    return CaseView(
        reference=case.reference,
        programme=case.programme,
        country=case.destination_country,
        stage=case.stage,
        status=case.status,
        decision=case.decision_outcome,
        waiting_for=case.waiting_for,
        waiting_since=case.waiting_since,
        waiting_attempt=waiting_attempt,
        limit=limit,
        due_at=due_at,
        stays=stays,
        asks=list(asks.values()),
        failed_deliveries=_failed(session, case),
    )


def _note_ask(
    asks: dict[tuple[str, int], Ask], kind: str, at: dt.datetime, detail: dict[str, Any]
) -> None:
    # Only the checkpoint's name and attempt are read from the detail: never a summary value.
    key = (str(detail.get("checkpoint")), int(detail.get("attempt", 1)))
    ask = asks.get(key)
    if kind == "checkpoint-opened" and ask is None:
        asks[key] = Ask(key[0], key[1], at)
    elif ask is not None and kind == "checkpoint-answered":
        asks[key] = Ask(ask.checkpoint, ask.attempt, ask.opened, at, ask.refused)
    elif ask is not None and kind == "checkpoint-answer-refused":
        asks[key] = Ask(ask.checkpoint, ask.attempt, ask.opened, None, ask.refused + 1)


def _limit_of(
    session: Session, case: Case, rules: Limits, attempt: int
) -> tuple[str | None, dt.datetime | None]:
    try:
        checkpoint = Checkpoint(case.waiting_for or "")
    except ValueError:
        return None, None
    asked_again = asked_again_due(session, case.reference, checkpoint, attempt)
    if asked_again is not None:
        return f"until the end of {asked_again.date() - dt.timedelta(days=1)}", asked_again
    limit = rules.get(checkpoint)
    if limit is None:
        return None, None
    if checkpoint in FROM_BOOKED_DEPARTURE or case.waiting_since is None:
        return describe_limit(checkpoint, limit), None  # its due time would reveal the flight
    return describe_limit(checkpoint, limit), case.waiting_since + limit


def _failed(session: Session, case: Case) -> int:
    query = select(func.count()).where(OutboxItem.case_id == case.id, OutboxItem.state == "failed")
    return session.scalar(query) or 0
