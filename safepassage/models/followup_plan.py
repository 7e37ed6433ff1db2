"""When the receiving mission checks on a person after arrival: the follow-up plan.

The agency found no fixed rule, so the plan is configurable per programme; the default is 1, 3, 6
and 12 calendar months after the actual arrival, each with a 14-day window for the report.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

DEFAULT_OFFSETS_MONTHS = (1, 3, 6, 12)
DEFAULT_WINDOW_DAYS = 14


@dataclass(frozen=True)
class FollowUpPlan:
    """The follow-up offsets (months after arrival) and the report window of one programme."""

    offsets_months: tuple[int, ...] = DEFAULT_OFFSETS_MONTHS
    window_days: int = DEFAULT_WINDOW_DAYS


def add_months(day: dt.date, months: int) -> dt.date:
    """Return the same day `months` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_dates(arrived_on: dt.date, plan: FollowUpPlan) -> list[dt.date]:
    """Return the due date of each follow-up, in order."""
    return [add_months(arrived_on, months) for months in plan.offsets_months]
