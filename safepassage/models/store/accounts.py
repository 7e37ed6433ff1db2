"""Accounts in the case store: adding, listing, disabling and resetting them.

Signing in is in signin.py. Every change here is an event in the hash-chained log, with the
operator as its actor; the log's `detail` names the account and its role, never a secret.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.credentials import hash_password, new_password, new_totp_secret, totp_uri
from safepassage.models.crypto import CaseCipher, MasterKey
from safepassage.models.errors import AccountInvalid, AccountNotFound
from safepassage.models.roles import Role
from safepassage.models.store.events import append_event, chain_head
from safepassage.models.store.gateway_sessions import end_account_sessions
from safepassage.models.store.orm import Account, MissionToken

TOTP_PURPOSE = "totp-secret"


def key_binding(name: str) -> str:
    """Return what an account's data key is bound to when wrapped: a key copied into another
    account's row does not open there."""
    return f"account:{name}"


@dataclass(frozen=True)
class AccountView:
    """An account as an operator may see it: never a hash or a secret."""

    name: str
    role: str
    mission: str | None
    disabled: bool
    locked_until: dt.datetime | None
    signed_in_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, account: Account) -> AccountView:
        """Return the view of a stored account."""
        return cls(
            name=account.name, role=account.role, mission=account.mission,
            disabled=account.disabled, locked_until=account.locked_until,
            signed_in_at=account.signed_in_at, created_at=account.created_at,
            updated_at=account.updated_at,
        )  # fmt: skip


@dataclass(frozen=True)
class Credentials:
    """What an operator hands a person, once: the password and the TOTP enrolment URI."""

    name: str
    role: str
    mission: str | None
    password: str = field(repr=False)  # never in a log or a traceback's locals
    totp_uri: str = field(repr=False)


def name_in_use(session: Session, name: str) -> str | None:
    """Return what holds `name` already ("an account", "a mission token"), or None.

    Accounts and tokens share one set of names: both are who the audit trail says acted.
    """
    if session.scalar(select(Account.id).where(Account.name == name)) is not None:
        return "an account"
    if session.scalar(select(MissionToken.id).where(MissionToken.name == name)) is not None:
        return "a mission token"
    return None


def find_account(session: Session, name: str, *, lock: bool = False) -> Account:
    """Return the account named `name`, or raise AccountNotFound (not repeating the name)."""
    query = select(Account).where(Account.name == name)
    account = session.scalar(query.with_for_update() if lock else query)
    if account is None:
        raise AccountNotFound("no account has that NAME: see `safepassage users list`")
    return account


def totp_secret(master_key: MasterKey, account: Account) -> str:
    """Return an account's TOTP secret, opened from its sealed form."""
    cipher = master_key.case_cipher(key_binding(account.name), account.data_key)
    return cipher.open(TOTP_PURPOSE, account.totp_secret).decode()


def _new_secrets(master_key: MasterKey, name: str) -> tuple[str, str, bytes, bytes]:
    """Return a new password, its hash, a new wrapped data key, and a new TOTP secret sealed
    under that key (read back from the row for the URI)."""
    password = new_password()
    cipher, wrapped = master_key.new_case_key(key_binding(name))
    return password, hash_password(password), wrapped, _sealed_totp(cipher)


def _sealed_totp(cipher: CaseCipher) -> bytes:
    return cipher.seal(TOTP_PURPOSE, new_totp_secret().encode())


def add_account(
    session: Session,
    master_key: MasterKey,
    *,
    name: str,
    role: Role,
    mission: str | None,
    actor: str,
    now: dt.datetime,
) -> Credentials:
    """Store a new account with a random password and TOTP secret; return them, once."""
    # The chain head first: a key retirement holds it while it destroys a version, so the data
    # key below is never wrapped under a version being destroyed (store/keys.py retire).
    chain_head(session)
    if (holder := name_in_use(session, name)) is not None:
        raise AccountInvalid(f"NAME is taken by {holder} already: choose another name")
    password, password_hash, wrapped, sealed = _new_secrets(master_key, name)
    account = Account(
        name=name, role=role.value, mission=mission, password_hash=password_hash,
        data_key=wrapped, totp_secret=sealed, disabled=False, failed_attempts=0,
        created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(account)
    session.flush()
    append_event(
        session, reference=None, kind="account-added", actor=actor, at=now,
        detail={"account": name, "role": role.value, "mission": mission},
    )  # fmt: skip
    return _credentials(master_key, account, password)


def _credentials(master_key: MasterKey, account: Account, password: str) -> Credentials:
    uri = totp_uri(totp_secret(master_key, account), account.name)
    return Credentials(account.name, account.role, account.mission, password, uri)


def list_accounts(session: Session) -> list[AccountView]:
    """Return every account, by name."""
    return [AccountView.of(a) for a in session.scalars(select(Account).order_by(Account.name))]


def disable_account(session: Session, *, name: str, actor: str, now: dt.datetime) -> bool:
    """Disable an account (its sign-ins are refused from now on); False if it was already."""
    chain_head(session)  # the lock order of every account change: chain head, then the row
    account = find_account(session, name, lock=True)
    if account.disabled:
        return False
    account.disabled, account.updated_at = True, now
    end_account_sessions(session, account, now=now)  # at once, not at their next request
    append_event(
        session, reference=None, kind="account-disabled", actor=actor, at=now,
        detail={"account": name},
    )  # fmt: skip
    return True


def reset_account(
    session: Session, master_key: MasterKey, *, name: str, actor: str, now: dt.datetime
) -> Credentials:
    """Give an account a new password and TOTP secret; return them, once.

    It also ends a lock and enables a disabled account: the operator who hands out new
    credentials means the person to sign in with them. The old password and authenticator
    entry stop working at once, and so do the account's gateway sessions.
    """
    chain_head(session)  # before wrapping a new data key, as in add_account
    account = find_account(session, name, lock=True)
    was_disabled = account.disabled
    password, account.password_hash, account.data_key, account.totp_secret = _new_secrets(
        master_key, name
    )
    account.disabled, account.failed_attempts, account.locked_until = False, 0, None
    account.last_totp_step, account.updated_at = None, now
    # New credentials mean the old ones may be known to someone else: sign everyone out.
    end_account_sessions(session, account, now=now)
    append_event(
        session, reference=None, kind="account-reset", actor=actor, at=now,
        detail={"account": name, "enabled": was_disabled},
    )  # fmt: skip
    return _credentials(master_key, account, password)
