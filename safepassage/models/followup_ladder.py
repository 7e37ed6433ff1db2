"""When the mission is told of a follow-up, reminded of it, and the report is escalated.

A follow-up's report is expected by its deadline (the due date plus the plan's window,
`followup_plan.report_by`). Around it runs a fixed ladder of notices, the setting
`SAFEPASSAGE_FOLLOWUP_LADDER` (JSON; the defaults below):

- `notice`: `notice_days_before` days before the due date, to the mission, with the deadline;
- `reminder`: `reminder_days_after` days after the deadline (0: on it), to the mission;
- `overdue`: `overdue_days_after` days after the deadline, to the mission and the coordinators;
- `breach`: `breach_days_after` days after the deadline, to the coordinators, as a time-limit
  breach (`sla-breached`).

Each rung is sent once per follow-up (the ledger's `followup-<rung>`), by the daily reconcile.
A late reconcile sends only the rung due now: the last one after the deadline whose day has
come (an earlier one it missed is passed over, not sent late), and the notice only before the
due date (on it, the follow-up's own run tells the mission). Pure functions: no store, no clock.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from safepassage.models.followup_plan import report_by


class Rung(StrEnum):
    """A step of the ladder; its ledger action is `followup-<value>`."""

    NOTICE = "notice"
    REMINDER = "reminder"
    OVERDUE = "overdue"
    BREACH = "breach"

    @property
    def action(self) -> str:
        """Return the ledger action that records this rung (attempt: the follow-up number)."""
        return f"followup-{self.value}"


#: The rungs after the deadline, in order.
AFTER_DEADLINE = (Rung.REMINDER, Rung.OVERDUE, Rung.BREACH)
RUNG_ACTIONS = tuple(rung.action for rung in Rung)


class FollowUpLadder(BaseModel):
    """The day of each rung: the notice before the due date, the others after the deadline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notice_days_before: int = Field(
        default=7, ge=1, le=60, description="Days before the due date the mission is told."
    )
    reminder_days_after: int = Field(
        default=0, ge=0, le=90, description="Days after the deadline the mission is reminded."
    )
    overdue_days_after: int = Field(
        default=7,
        ge=0,
        le=180,
        description="Days after the deadline the mission and the coordinators are told.",
    )
    breach_days_after: int = Field(
        default=14,
        ge=0,
        le=365,
        description="Days after the deadline the coordinators get a time-limit breach.",
    )

    @model_validator(mode="after")
    def _in_order(self) -> FollowUpLadder:
        if not (self.reminder_days_after < self.overdue_days_after < self.breach_days_after):
            raise ValueError(
                "the rungs after the deadline must come in order: reminder_days_after < "
                "overdue_days_after < breach_days_after (defaults 0, 7, 14)"
            )
        return self

    def day_of(self, rung: Rung, due_on: dt.date, window_days: int) -> dt.date:
        """Return the day `rung` falls on for a follow-up due on `due_on`."""
        if rung is Rung.NOTICE:
            return due_on - dt.timedelta(days=self.notice_days_before)
        after = {
            Rung.REMINDER: self.reminder_days_after,
            Rung.OVERDUE: self.overdue_days_after,
            Rung.BREACH: self.breach_days_after,
        }[rung]
        return report_by(due_on, window_days) + dt.timedelta(days=after)

    def due_now(self, due_on: dt.date, window_days: int, today: dt.date) -> Rung | None:
        """Return the rung due `today` for a follow-up still without its report, if any."""
        if today < due_on:
            return Rung.NOTICE if today >= self.day_of(Rung.NOTICE, due_on, window_days) else None
        reached = [r for r in AFTER_DEADLINE if today >= self.day_of(r, due_on, window_days)]
        return reached[-1] if reached else None


DEFAULT_LADDER = FollowUpLadder()
