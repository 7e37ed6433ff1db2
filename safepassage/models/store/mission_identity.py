"""Whether a name that entered an answer is the receiving mission itself, as the store knows it.

A mission's own checkpoints (reception, arrival, follow-up reports) may also be answered by a
coordinator on the mission's behalf, and the audit trail must say which. The store decides it:
the name must be an enabled mission account, or a live mission token, of the case's own
country. Nothing the answer says about itself counts.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.roles import Role, normalised_name
from safepassage.models.store.orm import Account, MissionToken


def speaks_for_mission(session: Session, name: str | None, country: str) -> bool:
    """Return whether `name` is an enabled mission account or live token of `country`.

    Checked when the answer is accepted, so a later disabling or revocation leaves what was
    recorded then as it was.
    """
    # Exactly as stored: the gateway writes the account's own name, while a look-alike typed
    # into a form ("Ana" for "ana") was not written by the account.
    account_name = normalised_name(name or "")
    if account_name is None or account_name != name:
        return False
    country = country.upper()
    account = session.scalar(
        select(Account.id).where(
            Account.name == account_name,
            Account.role == Role.MISSION.value,
            Account.mission == country,
            Account.disabled.is_(False),
        )
    )
    if account is not None:
        return True
    token = session.scalar(
        select(MissionToken.id).where(
            MissionToken.name == account_name,
            MissionToken.mission == country,
            MissionToken.revoked_at.is_(None),
        )
    )
    return token is not None
