"""Changes of the person's consent to share data with the receiving mission and the embassy.

The flags on the case row are what every send consults, so a withdrawal of consent applies to
the next send at once. Pending detailed notifications for the audience that lost consent also
lose their sealed detailed body here, in the same transaction: they can only ever go out
minimal now (reference, stage, next action), and the event log lists them by message id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.errors import CaseErased
from safepassage.models.store.events import append_event
from safepassage.models.store.orm import Case, OutboxItem

#: Outbox states that may still be sent (a failed item can be requeued by a coordinator).
UNSENT = ("pending", "failed")


@dataclass(frozen=True)
class ConsentChange:
    """The consent now in force, and the queued detailed notifications it turned minimal."""

    reference: str
    share_with_mission: bool
    share_with_embassy: bool
    changed: bool
    sent_minimal_instead: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the change as JSON-ready values."""
        return asdict(self)


def _audience_kinds(audience_column: str) -> set[str]:
    """Return the recipient kinds an outbox item's audience names ("mission-ro+embassy-ro")."""
    return {tag.split("-", 1)[0] for tag in audience_column.split("+")}


def change_consent(
    session: Session,
    case: Case,
    *,
    share_with_mission: bool | None,
    share_with_embassy: bool | None,
    actor: str,
    now: dt.datetime,
) -> ConsentChange:
    """Record the person's consent as given now; an unchanged consent writes nothing."""
    if case.erased_at is not None:
        raise CaseErased(f"case {case.reference} was erased: there is nothing left to share")
    before = {"mission": case.share_with_mission, "embassy": case.share_with_embassy}
    after = {
        "mission": before["mission"] if share_with_mission is None else share_with_mission,
        "embassy": before["embassy"] if share_with_embassy is None else share_with_embassy,
    }
    if after == before:
        return ConsentChange(case.reference, after["mission"], after["embassy"], changed=False)
    case.share_with_mission, case.share_with_embassy = after["mission"], after["embassy"]
    case.updated_at = now
    withdrawn = {kind for kind in before if before[kind] and not after[kind]}
    downgraded: list[str] = []
    if withdrawn:
        unsent = session.scalars(
            select(OutboxItem).where(
                OutboxItem.case_id == case.id,
                OutboxItem.state.in_(UNSENT),
                OutboxItem.sealed_body.is_not(None),
            )
        )
        for item in unsent:
            if _audience_kinds(item.audience) & withdrawn:
                item.sealed_body = None
                item.updated_at = now
                downgraded.append(item.uuid)
    append_event(
        session,
        reference=case.reference,
        kind="consent-changed",
        actor=actor,
        at=now,
        stage=case.stage,
        detail={
            "share_with_mission": after["mission"],
            "share_with_embassy": after["embassy"],
            "before": {
                "share_with_mission": before["mission"],
                "share_with_embassy": before["embassy"],
            },
            "queued_detailed_sent_minimal": downgraded,
        },
    )
    session.flush()
    return ConsentChange(
        case.reference, after["mission"], after["embassy"], changed=True,
        sent_minimal_instead=downgraded,
    )  # fmt: skip
