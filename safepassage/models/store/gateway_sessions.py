"""The gateway's sessions: started at sign-in, ended by signing out, idling or disabling.

A session id is random and handed to the browser once; the table keeps its SHA-256 only. A
session is live while it has not ended, its account is enabled, and it was seen in the last
30 minutes; the first request that finds it otherwise ends it, so it is never live again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from safepassage.models.errors import AccountNotFound
from safepassage.models.store.events import append_event
from safepassage.models.store.orm import Account, GatewaySession

IDLE_LIMIT = dt.timedelta(minutes=30)
#: Longer than any id this module makes: anything longer is refused before hashing.
_MAX_ID_LENGTH = 100


@dataclass(frozen=True)
class NewSession:
    """A session just started: its id goes into the browser's cookie, once."""

    session_id: str = field(repr=False)  # never in a log or a traceback's locals
    csrf_token: str = field(repr=False)


@dataclass(frozen=True)
class LiveSession:
    """Who a live session speaks for, and the CSRF token its forms must carry."""

    name: str
    role: str
    mission: str | None
    csrf_token: str = field(repr=False)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(session: Session, *, name: str, now: dt.datetime) -> NewSession:
    """Start a session for the account `name` (just signed in); return its id and CSRF token."""
    # (Not accounts.find_account: accounts.py imports this module, to end sessions.)
    account_id = session.scalar(select(Account.id).where(Account.name == name))
    if account_id is None:
        raise AccountNotFound("no account has that NAME: see `safepassage users list`")
    new = NewSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    session.add(
        GatewaySession(
            id_hash=_digest(new.session_id), account_id=account_id, csrf_token=new.csrf_token,
            created_at=now, last_seen_at=now,
        )
    )  # fmt: skip
    return new


def live_session(session: Session, session_id: str, *, now: dt.datetime) -> LiveSession | None:
    """Return the live session `session_id` names, marking it seen now; else None.

    An idle session, or one whose account was disabled, is ended here (the idle end is a
    sign-out in the log: the person did not sign out, the gateway did it for them).
    """
    if not session_id or len(session_id) > _MAX_ID_LENGTH:
        return None
    row = session.execute(
        select(GatewaySession, Account)
        .join(Account, Account.id == GatewaySession.account_id)
        .where(GatewaySession.id_hash == _digest(session_id), GatewaySession.ended_at.is_(None))
    ).one_or_none()
    if row is None:
        return None
    stored, account = row
    if account.disabled:
        stored.ended_at = now  # disabling ends sessions too; this catches one begun meanwhile
        return None
    if now - stored.last_seen_at > IDLE_LIMIT:
        stored.ended_at = now
        append_event(
            session, reference=None, kind="sign-out", actor=account.name, at=now,
            detail={"ended": "idle"},
        )  # fmt: skip
        return None
    stored.last_seen_at = now
    return LiveSession(account.name, account.role, account.mission, stored.csrf_token)


def end_session(session: Session, session_id: str, *, now: dt.datetime) -> str | None:
    """End the session `session_id` names; return its account's name, or None if none was live."""
    if not session_id or len(session_id) > _MAX_ID_LENGTH:
        return None
    stored = session.scalar(
        select(GatewaySession).where(
            GatewaySession.id_hash == _digest(session_id), GatewaySession.ended_at.is_(None)
        )
    )
    if stored is None:
        return None
    stored.ended_at = now
    return session.scalar(select(Account.name).where(Account.id == stored.account_id))


def end_account_sessions(session: Session, account: Account, *, now: dt.datetime) -> None:
    """End every session of `account` at once (it was disabled, or given new credentials)."""
    session.execute(
        update(GatewaySession)
        .where(GatewaySession.account_id == account.id, GatewaySession.ended_at.is_(None))
        .values(ended_at=now)
    )
