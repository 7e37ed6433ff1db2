"""The reintegration grant as the Hungarian programme describes it, read from the case's ledger.

"Each beneficiary receives an in-kind grant of CHF 1,500, which can later be increased, based
on the reintegration plan and the recommendations of the service provider." So the base grant
is planned with the agreed plan; after the plan the mission may ask for an increase any number
of times, each with the provider's recommendation, each approved (at most as recommended) by a
coordinator at `grant-approval`, the total never above the office's ceiling; and every delivery
in kind is recorded (what, when, by whom, how much).

The ledger is the case store's action ledger (each step once, each an audit event). Only
amounts and numbers are in it: what was delivered, the provider and the recommendation are
sealed beside it. Plain functions: no Prefect, no database here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from safepassage.models.checkpoints import Chf
from safepassage.models.intake import LongText, Text

PLANNED = "grant-planned"
INCREASE_REQUESTED = "grant-increase-requested"
INCREASE_STARTED = "grant-increase-started"
INCREASE_DECIDED = "grant-increase-decided"
DELIVERED = "grant-delivered"
#: Every ledger action of the grant, for reading them in one query.
ACTIONS = (PLANNED, INCREASE_REQUESTED, INCREASE_STARTED, INCREASE_DECIDED, DELIVERED)


def request_record(number: int) -> str:
    """Return the sealed record's kind holding increase request `number`'s words."""
    return f"grant-increase-{number}"


def delivery_record(number: int) -> str:
    """Return the sealed record's kind holding delivery `number`'s what, when and who."""
    return f"grant-delivery-{number}"


class IncreaseRequest(BaseModel):
    """An increase the mission asks for, with the service provider's recommendation."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    amount_chf: Chf = Field(
        gt=0, title="Increase recommended (CHF)", description="Above the grant so far."
    )
    provider: Text = Field(title="Service provider", description="Who recommends it.")
    recommendation: LongText = Field(
        title="Recommendation",
        description="The provider's recommendation, as it reads (stored encrypted).",
    )


class Delivery(BaseModel):
    """A delivery of the grant in kind."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    what: Text = Field(title="What was delivered", description="E.g. `tools for a trade`.")
    delivered_on: dt.date = Field(title="Delivered on")
    provider: Text = Field(title="Provider", description="Who delivered it.")
    amount_chf: Chf = Field(gt=0, title="Amount (CHF)")


@dataclass(frozen=True)
class Entry:
    """One ledger action of the grant: its name, number and detail (amounts only)."""

    action: str
    number: int
    detail: Mapping[str, Any]


@dataclass
class GrantLedger:
    """What a case's grant stands at: planned, increases asked and decided, delivered."""

    planned: Decimal = Decimal(0)
    requested: dict[int, Decimal] = field(default_factory=dict)
    started: dict[int, str] = field(default_factory=dict)
    decided: dict[int, Decimal | None] = field(default_factory=dict)
    delivered: dict[int, Decimal] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Iterable[Entry]) -> GrantLedger:
        """Return the ledger the actions add up to."""
        ledger = cls()
        for entry in entries:
            amount = Decimal(str(entry.detail.get("amount_chf", "0")))
            if entry.action == PLANNED:
                ledger.planned = amount
            elif entry.action == INCREASE_REQUESTED:
                ledger.requested[entry.number] = amount
            elif entry.action == INCREASE_STARTED:
                ledger.started[entry.number] = str(entry.detail.get("flow_run_id", ""))
            elif entry.action == INCREASE_DECIDED:
                ledger.decided[entry.number] = amount if entry.detail.get("approved") else None
            elif entry.action == DELIVERED:
                ledger.delivered[entry.number] = amount
        return ledger

    @property
    def is_planned(self) -> bool:
        """Return whether the base grant was planned (the plan is agreed)."""
        return self.planned > 0

    @property
    def approved_increases(self) -> Decimal:
        """Return the sum of the increases approved."""
        return sum((a for a in self.decided.values() if a is not None), Decimal(0))

    @property
    def total(self) -> Decimal:
        """Return the grant approved so far: the base and every approved increase."""
        return self.planned + self.approved_increases

    @property
    def delivered_total(self) -> Decimal:
        """Return what was delivered so far."""
        return sum(self.delivered.values(), Decimal(0))

    @property
    def pending(self) -> list[int]:
        """Return the increase requests not decided yet."""
        return [n for n in sorted(self.requested) if n not in self.decided]

    @property
    def unstarted(self) -> list[int]:
        """Return the pending requests with no approval run yet (Prefect did not answer)."""
        return [n for n in self.pending if n not in self.started]

    def next_request(self) -> int:
        """Return the number the next increase request gets."""
        return max(self.requested, default=0) + 1

    def next_delivery(self) -> int:
        """Return the number the next delivery gets."""
        return max(self.delivered, default=0) + 1

    def headroom(self, ceiling: Decimal) -> Decimal:
        """Return the most an increase may still add under `ceiling`."""
        return max(ceiling - self.total, Decimal(0))

    def undelivered(self) -> Decimal:
        """Return the part of the approved grant not delivered yet."""
        return max(self.total - self.delivered_total, Decimal(0))

    def as_dict(self) -> dict[str, Any]:
        """Return the amounts as JSON-ready values (no words: those are sealed)."""
        return {
            "planned_chf": str(self.planned),
            "approved_increases_chf": str(self.approved_increases),
            "total_chf": str(self.total),
            "delivered_chf": str(self.delivered_total),
            "increases": [
                {
                    "number": n,
                    "recommended_chf": str(self.requested[n]),
                    "decision": _decision(self.decided, n),
                    "approved_chf": str(self.decided.get(n) or Decimal(0)),
                }
                for n in sorted(self.requested)
            ],
            "deliveries": [
                {"number": n, "amount_chf": str(a)} for n, a in sorted(self.delivered.items())
            ],
        }


def _decision(decided: Mapping[int, Decimal | None], number: int) -> str:
    if number not in decided:
        return "pending"
    return "approved" if decided[number] is not None else "declined"


def amount(value: Decimal) -> str:
    """Return an amount as a notice writes it: `CHF 1,500` (cents only when there are some)."""
    return f"CHF {value:,.2f}".removesuffix(".00")
