"""A MAC over the clear-text case fields that decide who may see what.

The consent flags, the escort need, the stage, the programme and the destination are kept in
clear, because every stage and the delivery of every message reads them. Editing them by SQL
(say `share_with_mission` to 1) would send detailed messages without consent. Each case row
carries `state_mac`, a MAC of those fields under the audit-chain key the database does not
hold; it is recomputed on every change made through the store, after checking that the row as
loaded still matched its MAC (so a legitimate change never launders a forged one). Delivery
sends detail only for a row whose MAC holds; `audit verify` names every row whose MAC fails.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from safepassage.models.crypto import MasterKey
from safepassage.models.errors import ChainBroken
from safepassage.models.store.orm import Case

#: The fields a forged value of would change who is sent what (or where the person goes).
COVERED = (
    "reference",
    "programme",
    "destination_country",
    "share_with_mission",
    "share_with_embassy",
    "escort_required",
    "stage",
)


def state_mac(master_key: MasterKey, values: Mapping[str, Any]) -> str:
    """Return the MAC of the covered fields' `values`."""
    body = {name: values[name] for name in COVERED}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return master_key.chain_mac(b"case-state:" + text.encode())


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
    return case.state_mac is not None and case.state_mac == state_mac(master_key, _current(case))


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
        if not erasing and case.state_mac != state_mac(master_key, _as_loaded(case)):
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
        if row[0] != state_mac(master_key, values):
            forged.append(str(values["reference"]))
    return forged
