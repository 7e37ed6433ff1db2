"""Mission API tokens: one per mission system, shown once, stored only as a hash.

Creating and revoking a token are events in the hash-chained log, with the operator as actor.
Using one is not: a mission system calls many times a day, and what it submits is recorded
under the token's name where it lands (the checkpoint answer, its event).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.credentials import TOKEN_PREFIX, new_token, token_digest
from safepassage.models.errors import AccountInvalid, AccountNotFound
from safepassage.models.store.accounts import name_in_use
from safepassage.models.store.events import append_event
from safepassage.models.store.orm import MissionToken

#: Longer than any token this module makes: anything longer is refused before hashing.
_MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class TokenView:
    """A token as an operator may see it: its name and mission, never the token or its hash."""

    name: str
    mission: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, token: MissionToken) -> TokenView:
        """Return the view of a stored token."""
        return cls(token.name, token.mission, token.created_at, token.revoked_at)


@dataclass(frozen=True)
class NewToken:
    """A token just made: shown to the operator once, then only its hash is kept."""

    name: str
    mission: str
    token: str = field(repr=False)  # never in a log or a traceback's locals


@dataclass(frozen=True)
class TokenHolder:
    """Who a valid token speaks for: its name (the `entered_by` of what it submits), its
    mission (the only country whose cases it may see)."""

    name: str
    mission: str


def create_token(
    session: Session, *, name: str, mission: str, actor: str, now: dt.datetime
) -> NewToken:
    """Store a new token for `mission` under `name`; return the token, once."""
    if (holder := name_in_use(session, name)) is not None:
        raise AccountInvalid(
            f"--name is taken by {holder} already (a revoked token keeps its name, for the "
            "audit trail): choose another name"
        )
    token = new_token()
    session.add(
        MissionToken(
            name=name, mission=mission, token_hash=token_digest(token), created_at=now,
            revoked_at=None,
        )
    )  # fmt: skip
    session.flush()
    append_event(
        session, reference=None, kind="token-created", actor=actor, at=now,
        detail={"token": name, "mission": mission},
    )  # fmt: skip
    return NewToken(name, mission, token)


def list_tokens(session: Session) -> list[TokenView]:
    """Return every token, revoked ones included, by name."""
    tokens = session.scalars(select(MissionToken).order_by(MissionToken.name))
    return [TokenView.of(t) for t in tokens]


def revoke_token(session: Session, *, name: str, actor: str, now: dt.datetime) -> bool:
    """Revoke a token at once; False if it was revoked already."""
    query = select(MissionToken).where(MissionToken.name == name).with_for_update()
    token = session.scalar(query)
    if token is None:
        raise AccountNotFound("no mission token has that NAME: see `safepassage tokens list`")
    if token.revoked_at is not None:
        return False
    token.revoked_at = now
    append_event(
        session, reference=None, kind="token-revoked", actor=actor, at=now,
        detail={"token": name, "mission": token.mission},
    )  # fmt: skip
    return True


def token_holder(session: Session, token: str) -> TokenHolder | None:
    """Return who `token` speaks for, or None if it is no live token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > _MAX_TOKEN_LENGTH:
        return None
    query = select(MissionToken).where(
        MissionToken.token_hash == token_digest(token), MissionToken.revoked_at.is_(None)
    )
    found = session.scalar(query)
    return None if found is None else TokenHolder(found.name, found.mission)
