"""A MAC over the clear-text case fields that decide who may see what.

The consent record and its two flags, the escort need, the stage, the programme and the
destination are kept in clear, because every stage and the delivery of every message reads
them. Editing them by SQL (say a consent entry's `agreed` to true) would send detailed messages
without consent. Each case row carries `state_mac`, a MAC of those fields under the audit-chain
key the database does not hold; it is recomputed on every change made through the store, after
checking that the row as loaded still matched its MAC (so a legitimate change never launders a
forged one). Delivery sends detail only for a row whose MAC holds; `audit verify` names every
row whose MAC fails.

A row sealed before the consent record existed (migration 0010, which cannot compute a MAC) has
a MAC of the fields without the record. It still holds while the record is exactly what the
migration filled from the two flags (`ConsentRecord.from_flags`), which the older MAC covers;
the row's next change seals it with the record. Any other record needs the newer MAC.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from safepassage.models.consent_record import ConsentRecord
from safepassage.models.crypto import MasterKey
from safepassage.models.errors import ChainBroken
from safepassage.models.store.orm import Case

#: The fields a forged value of would change who is sent what (or where the person goes).
COVERED = (
    "reference",
    "programme",
    "destination_country",
    "consent",
    "share_with_mission",
    "share_with_embassy",
    "escort_required",
    "stage",
)
#: The fields sealed before the consent record existed (before migration 0010).
_COVERED_BEFORE_RECORD = tuple(name for name in COVERED if name != "consent")


def state_mac(master_key: MasterKey, values: Mapping[str, Any]) -> str:
    """Return the MAC of the covered fields' `values`."""
    return _mac(master_key, values, COVERED)


def _mac(master_key: MasterKey, values: Mapping[str, Any], names: tuple[str, ...]) -> str:
    body = {name: values[name] for name in names}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return master_key.chain_mac(b"case-state:" + text.encode())


def values_hold(master_key: MasterKey, values: Mapping[str, Any], mac: str | None) -> bool:
    """Return whether `mac` vouches for the covered fields' `values` (a row as stored).

    For delivery, which copies a case's columns out of its session rather than its object.
    """
    if mac is None:
        return False
    if hmac.compare_digest(mac, state_mac(master_key, values)):
        return True
    # Sealed before the record existed: holds only for the record the migration filled in.
    migrated = ConsentRecord.from_flags(
        share_with_mission=bool(values["share_with_mission"]),
        share_with_embassy=bool(values["share_with_embassy"]),
    ).stored()
    return values["consent"] == migrated and hmac.compare_digest(
        mac, _mac(master_key, values, _COVERED_BEFORE_RECORD)
    )


def _current(case: Case) -> dict[str, Any]:
    return {name: getattr(case, name) for name in COVERED}


def _as_loaded(case: Case) -> dict[str, Any]:
    state = inspect(case)
    loaded = {}
    for name in COVERED:
        history = state.attrs[name].history
        before = [*history.unchanged, *history.deleted]
        loaded[name] = before[0] if before else getattr(case, name)
    return loaded


def holds(master_key: MasterKey, case: Case) -> bool:
    """Return whether the case's covered fields are as SafePassage last wrote them."""
    return values_hold(master_key, _current(case), case.state_mac)


def reseal(session: Session, master_key: MasterKey) -> None:
    """Seal every new or changed case of `session` (a before-flush hook).

    A changed case must have matched its seal as loaded: otherwise its row was edited outside
    SafePassage, and sealing the edit would make it look legitimate.
    """
    for case in [*session.new, *session.dirty]:
        if not isinstance(case, Case):
            continue
        if case in session.new:
            case.state_mac = state_mac(master_key, _current(case))
            continue
        if not _covered_changed(case):
            continue  # the seal still covers the same values: leave it as it is
        # Erasing a forged row is allowed: it removes the data the forgery could disclose.
        erasing = case.data_key is None and case.erased_at is not None
        if not erasing and not values_hold(master_key, _as_loaded(case), case.state_mac):
            raise ChainBroken(
                f"case {case.reference}'s consent or stage fields were changed outside "
                "SafePassage: nothing was written. Run `safepassage audit verify`"
            )
        case.state_mac = state_mac(master_key, _current(case))


def _covered_changed(case: Case) -> bool:
    state = inspect(case)
    return any(state.attrs[name].history.has_changes() for name in COVERED)


def forged_cases(session: Session, master_key: MasterKey) -> list[str]:
    """Return the references of the cases whose covered fields fail their seal."""
    columns = [getattr(Case, name) for name in COVERED]
    forged = []
    for row in session.execute(select(Case.state_mac, *columns)):
        values = dict(zip(COVERED, row[1:], strict=True))
        if not values_hold(master_key, values, row[0]):
            forged.append(str(values["reference"]))
    return forged
