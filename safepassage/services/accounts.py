"""Accounts and mission tokens: what the command line and the gateway call.

The command line manages them (`safepassage users ...`, `safepassage tokens ...`); the gateway
signs people and mission systems in with `authenticate` and `authenticate_token`. Each takes
an open `store` (the gateway keeps one for its lifetime) or opens the configured one for the
call. Every change and every sign-in is an event in the store's hash-chained log, written
in the store's functions: nothing here writes an event itself.
"""

from __future__ import annotations

import datetime as dt

from safepassage.models.clock import utcnow
from safepassage.models.roles import checked_country, checked_mission, checked_name, checked_role
from safepassage.models.store import accounts as account_rows
from safepassage.models.store import gateway_sessions as session_rows
from safepassage.models.store import mission_tokens as token_rows
from safepassage.models.store import office_actions, signin
from safepassage.models.store.accounts import AccountView, Credentials
from safepassage.models.store.db import Store, store_or_opened
from safepassage.models.store.gateway_sessions import IDLE_LIMIT, LiveSession, NewSession
from safepassage.models.store.mission_tokens import NewToken, TokenHolder, TokenView
from safepassage.models.store.signin import Refusal, SignInRefused

__all__ = [
    "IDLE_LIMIT",
    "AccountView",
    "Credentials",
    "LiveSession",
    "NewSession",
    "NewToken",
    "Refusal",
    "SignInRefused",
    "Store",
    "TokenHolder",
    "TokenView",
    "add_user",
    "authenticate",
    "authenticate_token",
    "create_token",
    "disable_user",
    "end_session",
    "list_tokens",
    "list_users",
    "live_session",
    "login_form_key",
    "record_run_action",
    "reset_user",
    "revoke_token",
    "sign_out",
    "start_session",
]


def add_user(
    name: str,
    role: str,
    mission: str | None = None,
    *,
    actor: str,
    store: Store | None = None,
    now: dt.datetime | None = None,
) -> Credentials:
    """Add an account; return its initial password and TOTP enrolment URI, to be shown once.

    Raises AccountInvalid naming NAME, --role or --mission when one is wrong or the name is
    taken (by an account or a mission token).
    """
    account_name = checked_name(name, field="NAME")
    account_role = checked_role(role)
    country = checked_mission(account_role, mission)
    with store_or_opened(store) as opened, opened.transaction() as session:
        return account_rows.add_account(
            session, opened.master_key, name=account_name, role=account_role, mission=country,
            actor=actor, now=now or utcnow(),
        )  # fmt: skip


def list_users(*, store: Store | None = None) -> list[AccountView]:
    """Return every account, by name (never a hash or a secret)."""
    with store_or_opened(store) as opened, opened.transaction() as session:
        return account_rows.list_accounts(session)


def disable_user(
    name: str, *, actor: str, store: Store | None = None, now: dt.datetime | None = None
) -> bool:
    """Disable an account at once; return False if it was disabled already."""
    with store_or_opened(store) as opened, opened.transaction() as session:
        return account_rows.disable_account(
            session, name=checked_name(name, field="NAME"), actor=actor, now=now or utcnow()
        )


def reset_user(
    name: str, *, actor: str, store: Store | None = None, now: dt.datetime | None = None
) -> Credentials:
    """Give an account a new password and TOTP secret (shown once); unlock and enable it."""
    with store_or_opened(store) as opened, opened.transaction() as session:
        return account_rows.reset_account(
            session, opened.master_key, name=checked_name(name, field="NAME"), actor=actor,
            now=now or utcnow(),
        )  # fmt: skip


def authenticate(
    name: str,
    password: str,
    code: str,
    now: dt.datetime | None = None,
    *,
    store: Store | None = None,
) -> AccountView | SignInRefused:
    """Sign a person in: the password and a current TOTP code, each code once per account.

    Returns the account, or the refusal (its reason is for the audit trail: tell the person
    only that the sign-in failed). Five refusals in a row lock the account for 15 minutes,
    during which even the right password and code are refused.
    """
    with store_or_opened(store) as opened:
        return signin.sign_in(
            opened.sessions, opened.master_key, name=name, password=password, code=code,
            now=now or utcnow(),
        )  # fmt: skip


def sign_out(name: str, *, store: Store | None = None, now: dt.datetime | None = None) -> None:
    """Record that a signed-in person signed out (or that their session was ended)."""
    with store_or_opened(store) as opened, opened.transaction() as session:
        signin.sign_out(session, name=name, now=now or utcnow())


def create_token(
    mission: str,
    name: str,
    *,
    actor: str,
    store: Store | None = None,
    now: dt.datetime | None = None,
) -> NewToken:
    """Make an API token for a mission's own system; return it, to be shown once."""
    token_name, country = checked_name(name, field="--name"), checked_country(mission)
    with store_or_opened(store) as opened, opened.transaction() as session:
        return token_rows.create_token(
            session, name=token_name, mission=country, actor=actor, now=now or utcnow()
        )


def list_tokens(*, store: Store | None = None) -> list[TokenView]:
    """Return every mission token, revoked ones included (never a token or its hash)."""
    with store_or_opened(store) as opened, opened.transaction() as session:
        return token_rows.list_tokens(session)


def revoke_token(
    name: str, *, actor: str, store: Store | None = None, now: dt.datetime | None = None
) -> bool:
    """Revoke a mission token at once; return False if it was revoked already."""
    with store_or_opened(store) as opened, opened.transaction() as session:
        return token_rows.revoke_token(
            session, name=checked_name(name, field="NAME"), actor=actor, now=now or utcnow()
        )


def authenticate_token(token: str, *, store: Store | None = None) -> TokenHolder | None:
    """Return the name and mission a bearer token speaks for, or None if it is no live token."""
    with store_or_opened(store) as opened, opened.transaction() as session:
        return token_rows.token_holder(session, token)


def start_session(name: str, *, store: Store, now: dt.datetime | None = None) -> NewSession:
    """Start a gateway session for `name`, who has just signed in (see `authenticate`)."""
    with store.transaction() as session:
        return session_rows.start_session(session, name=name, now=now or utcnow())


def live_session(
    session_id: str, *, store: Store, now: dt.datetime | None = None
) -> LiveSession | None:
    """Return who a live gateway session speaks for, marking it seen; None if it is not live
    (unknown, signed out, idle for 30 minutes, or its account disabled)."""
    with store.transaction() as session:
        return session_rows.live_session(session, session_id, now=now or utcnow())


def end_session(session_id: str, *, store: Store, now: dt.datetime | None = None) -> bool:
    """Sign out: end the gateway session and record the sign-out; False if it was not live."""
    at = now or utcnow()
    with store.transaction() as session:
        name = session_rows.end_session(session, session_id, now=at)
        if name is not None:
            signin.sign_out(session, name=name, now=at)
        return name is not None


def login_form_key(*, store: Store) -> bytes:
    """Return the key the gateway signs its sign-in form's CSRF tokens with.

    Derived from the office's key ring, so every gateway process of the office agrees on it
    and a restart does not void a form someone has open.
    """
    return store.master_key.derived_key("safepassage gateway: sign-in form v1")


def record_run_action(name: str, action: str, target: str, *, store: Store) -> None:
    """Record in the audit chain that `name` cancelled a run or started one (through the UI)."""
    with store.transaction() as session:
        office_actions.record_run_action(
            session, actor=name, action=action, target=target, now=utcnow()
        )
