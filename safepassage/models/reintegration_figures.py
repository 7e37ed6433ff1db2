"""The report's reintegration figures: plans agreed and grants planned, approved and delivered.

Read from the action ledger's counts and amounts only (a plan's items and a grant's words are
sealed): statistics may see how many and how much, never what or for whom.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.checkpoints import PLAN_AGREED
from safepassage.models.grant import DELIVERED, INCREASE_DECIDED, PLANNED
from safepassage.models.store.orm import Case, CaseAction


@dataclass
class ReintegrationFigures:
    """One programme's plans and grants (amounts in CHF, as strings for exact sums)."""

    programme: str
    plans: int = 0
    plan_items: int = 0
    items_not_covered: int = 0
    plan_cost_chf: str = "0"
    grants_planned_chf: str = "0"
    increases_approved: int = 0
    increases_declined: int = 0
    increases_approved_chf: str = "0"
    grants_delivered_chf: str = "0"


def reintegration_figures(session: Session) -> list[ReintegrationFigures]:
    """Return each programme's plans and grants, from the ledger."""
    rows = session.execute(
        select(Case.programme, CaseAction.action, CaseAction.detail)
        .join(Case, Case.id == CaseAction.case_id)
        .where(CaseAction.action.in_((PLAN_AGREED, PLANNED, INCREASE_DECIDED, DELIVERED)))
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for programme, action, detail in rows:
        count, total = counts[programme], sums[programme]
        amount = Decimal(str(detail.get("amount_chf", "0")))
        if action == PLAN_AGREED:
            count["plans"] += 1
            count["items"] += int(detail.get("items", 0))
            count["uncovered"] += int(detail.get("uncovered", 0))
            total["cost"] += Decimal(str(detail.get("cost_chf", "0")))
        elif action == PLANNED:
            total["planned"] += amount
        elif action == INCREASE_DECIDED and detail.get("approved"):
            count["approved"] += 1
            total["approved"] += amount
        elif action == INCREASE_DECIDED:
            count["declined"] += 1
        else:
            total["delivered"] += amount
    return [
        ReintegrationFigures(
            programme=programme,
            plans=counts[programme]["plans"],
            plan_items=counts[programme]["items"],
            items_not_covered=counts[programme]["uncovered"],
            plan_cost_chf=str(sums[programme]["cost"]),
            grants_planned_chf=str(sums[programme]["planned"]),
            increases_approved=counts[programme]["approved"],
            increases_declined=counts[programme]["declined"],
            increases_approved_chf=str(sums[programme]["approved"]),
            grants_delivered_chf=str(sums[programme]["delivered"]),
        )
        for programme in sorted(set(counts) | set(sums))
    ]


REINTEGRATION_COLUMNS = [
    "programme", "plans", "items", "not covered", "plan cost", "grants planned",
    "increases approved", "declined", "increase total", "delivered",
]  # fmt: skip


def reintegration_cells(r: ReintegrationFigures) -> tuple[object, ...]:
    """Return one programme's plans and grants as the report's table cells."""
    return (
        r.programme, r.plans, r.plan_items, r.items_not_covered, r.plan_cost_chf,
        r.grants_planned_chf, r.increases_approved, r.increases_declined,
        r.increases_approved_chf, r.grants_delivered_chf,
    )  # fmt: skip
