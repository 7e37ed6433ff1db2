"""When the receiving mission checks on a person after arrival: the follow-up plan.

The agency found no fixed rule, so the plan is configurable per programme (the setting
`SAFEPASSAGE_FOLLOWUP_PLANS`); the default is 1, 3, 6 and 12 calendar months after the actual
arrival, each with a 14-day window for the report, and the case closes after the last report
unless that report raised a risk of re-trafficking.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from safepassage.models.vocabulary import Programme

DEFAULT_OFFSETS_MONTHS = (1, 3, 6, 12)
DEFAULT_WINDOW_DAYS = 14


class Closure(StrEnum):
    """When a case closes after its follow-ups (a raised risk always keeps it open)."""

    #: After the last report, unless that report raised a risk.
    LAST_REPORT_CLEAR = "last-report-clear"
    #: After the last report, unless any report of the case raised a risk.
    ALL_REPORTS_CLEAR = "all-reports-clear"


class FollowUpPlan(BaseModel):
    """The follow-ups of one programme: months after arrival, the report window, the closure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    offsets_months: tuple[int, ...] = Field(
        default=DEFAULT_OFFSETS_MONTHS,
        min_length=1,
        max_length=12,
        description="Calendar months after the actual arrival, in increasing order.",
    )
    window_days: int = Field(
        default=DEFAULT_WINDOW_DAYS,
        ge=1,
        le=90,
        description="Days after the due date by which the report is expected; then it is overdue.",
    )
    closure: Closure = Closure.LAST_REPORT_CLEAR

    @field_validator("offsets_months")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(months < 1 or months > 120 for months in value):
            raise ValueError("each offset must be between 1 and 120 months")
        if list(value) != sorted(set(value)):
            raise ValueError("offsets must be strictly increasing, e.g. [1, 3, 6, 12]")
        return value


DEFAULT_PLAN = FollowUpPlan()


def plan_for(programme: str, configured: Mapping[Programme, FollowUpPlan]) -> FollowUpPlan:
    """Return the programme's configured plan, else the default one."""
    return configured.get(Programme(programme), DEFAULT_PLAN)


def add_months(day: dt.date, months: int) -> dt.date:
    """Return the same day `months` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_dates(arrived_on: dt.date, plan: FollowUpPlan) -> list[dt.date]:
    """Return the due date of each follow-up, in order."""
    return [add_months(arrived_on, months) for months in plan.offsets_months]


def report_by(due_on: dt.date, window_days: int) -> dt.date:
    """Return the last day of a follow-up's report window; the day after, it is overdue."""
    return due_on + dt.timedelta(days=window_days)


def is_overdue(due_on: dt.date, window_days: int, today: dt.date) -> bool:
    """Return whether the report window of a follow-up due on `due_on` has passed."""
    return today > report_by(due_on, window_days)


def run_time(due_on: dt.date, hour_utc: int) -> dt.datetime:
    """Return when a follow-up's run is scheduled: its due date at `hour_utc`:00 UTC."""
    return dt.datetime(due_on.year, due_on.month, due_on.day, hour_utc, tzinfo=dt.UTC)
