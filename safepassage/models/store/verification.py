"""`audit verify`: the keyed chain, its anchor, and the sealed case state, checked together."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from safepassage.models.crypto import MasterKey
from safepassage.models.store.anchor import Anchor
from safepassage.models.store.events import BrokenLink, keyed_from, verify_chain
from safepassage.models.store.orm import ChainHead
from safepassage.models.store.state_seal import forged_cases


@dataclass(frozen=True)
class StoreCheck:
    """What verification found: the first broken link, forged case rows, anchor problems."""

    events: int
    broken: BrokenLink | None
    forged_cases: list[str] = field(default_factory=list)
    anchor_problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """Return whether the log, its anchor and every case's sealed state verify."""
        return self.broken is None and not self.forged_cases and not self.anchor_problems


def _anchor_problems(anchor: Anchor, db_epoch: int | None) -> tuple[int, list[str]]:
    """Return the epoch to verify with (the anchor's, which the database cannot move) and
    what is wrong with the anchor itself."""
    epoch = anchor.epoch()
    if epoch is None:
        problem = (
            f"the anchor in {anchor.folder} is missing: an older copy of the database, or a log "
            "cut short, cannot be told apart. Restore the anchor folder (SAFEPASSAGE_AUDIT_ANCHOR)"
        )
        return (db_epoch or 1), [problem]
    if db_epoch != epoch:
        return epoch, [
            f"the database says its chain was keyed at event {db_epoch}, the anchor says event "
            f"{epoch}: the database was edited to pass forged entries off as old ones"
        ]
    return epoch, []


def verify_store(session: Session, master_key: MasterKey, anchor: Anchor) -> StoreCheck:
    """Verify the whole log against its key and anchor, and every case's sealed state."""
    epoch, problems = _anchor_problems(anchor, keyed_from(session))
    heads, conflicts = anchor.heads()
    problems += [f"the anchor files disagree about {where}" for where in conflicts]
    broken = verify_chain(session, master_key, epoch=epoch, anchored=heads)
    head = session.get(ChainHead, 1)
    return StoreCheck(
        events=0 if head is None else head.seq,
        broken=broken,
        forged_cases=forged_cases(session, master_key),
        anchor_problems=problems,
    )
