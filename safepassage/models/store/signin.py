"""Signing in: the password and a current TOTP code; each code once; five failures lock.

Checking a password is slow on purpose (argon2id), so it is done between two transactions:
one reads the account, the other records the outcome. The chain head, which every writer of
the log takes, is held for a row update and an event, not for the hashing (and on SQLite,
where every transaction takes the write lock, no writer waits for it either). The outcome is
decided on the row as it is once locked, so two sign-ins at once cannot both use one code,
and credentials reset between the check and the record are refused.

Every sign-in, failure, lock and sign-out is an event in the log, with the account's name as
the actor. A name that is no account is recorded as such, never as typed: it could be anyone's
name, or a password typed in the wrong box.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from safepassage.models.credentials import (
    hash_password,
    matched_step,
    needs_rehash,
    password_matches,
    spend_a_password_check,
)
from safepassage.models.crypto import MasterKey
from safepassage.models.roles import normalised_name
from safepassage.models.store.accounts import AccountView, find_account, totp_secret
from safepassage.models.store.events import append_event, chain_head
from safepassage.models.store.orm import Account

MAX_FAILURES = 5
LOCKED_FOR = dt.timedelta(minutes=15)
#: The actor of a failed sign-in under a name that is no account (no account can be named so:
#: names have no spaces or brackets, roles.py).
NO_SUCH_ACCOUNT = "(no such account)"


class Refusal(StrEnum):
    """Why a sign-in was refused: for the audit trail, never to be told to the person."""

    NO_SUCH_ACCOUNT = "no-such-account"
    DISABLED = "disabled"
    LOCKED = "locked"
    WRONG_PASSWORD = "wrong-password"  # noqa: S105 - a reason, not a password
    WRONG_CODE = "wrong-code"
    CODE_USED = "code-used-before"


#: The refusals that count towards a lock: guesses. A locked or disabled account's refusals do
#: not, or each attempt would push a lock further out.
_COUNTED = frozenset({Refusal.WRONG_PASSWORD, Refusal.WRONG_CODE, Refusal.CODE_USED})


@dataclass(frozen=True)
class SignInRefused:
    """A refused sign-in: why (for the audit and the tests) and until when it is locked."""

    reason: Refusal
    locked_until: dt.datetime | None = None


@dataclass(frozen=True)
class _Checked:
    """What was checked outside the lock, and against which credentials."""

    account: Account  # as read, detached
    password_ok: bool
    step: int | None  # the TOTP step the code matched, if the password was right


def sign_in(
    sessions: sessionmaker[Session],
    master_key: MasterKey,
    *,
    name: str,
    password: str,
    code: str,
    now: dt.datetime,
) -> AccountView | SignInRefused:
    """Sign `name` in with `password` and a TOTP `code`; return the account or the refusal."""
    typed = normalised_name(name)
    checked = (
        _check(sessions, master_key, name=typed, password=password, code=code, now=now)
        if typed
        else None
    )
    if checked is None:
        if typed is None:
            spend_a_password_check(password)  # as long as a real check: see _check
        with sessions.begin() as session:
            append_event(
                session, reference=None, kind="sign-in-failed", actor=NO_SUCH_ACCOUNT, at=now,
                detail={"reason": Refusal.NO_SUCH_ACCOUNT.value},
            )  # fmt: skip
        return SignInRefused(Refusal.NO_SUCH_ACCOUNT)
    with sessions.begin() as session:
        chain_head(session)  # the lock order of every account change: chain head, then the row
        account = find_account(session, checked.account.name, lock=True)
        return _record(session, account, checked, password, now)


def _check(
    sessions: sessionmaker[Session],
    master_key: MasterKey,
    *,
    name: str,
    password: str,
    code: str,
    now: dt.datetime,
) -> _Checked | None:
    with sessions.begin() as session:
        account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        # A name that is no account takes as long as one that is: timing alone must not tell
        # which names have accounts.
        spend_a_password_check(password)
        return None
    password_ok = password_matches(account.password_hash, password)
    # The code is looked at only with the right password: a refusal must not tell a guesser
    # which of the two was wrong, and the log records which one it was.
    step = matched_step(totp_secret(master_key, account), code, now) if password_ok else None
    return _Checked(account, password_ok, step)


def _refusal(account: Account, checked: _Checked, now: dt.datetime) -> Refusal | None:
    """Return why the sign-in is refused, judged on the locked row, or None to let it in."""
    if account.disabled:
        return Refusal.DISABLED
    if account.locked_until is not None and now < account.locked_until:
        return Refusal.LOCKED  # even with the right password and code: that is the point
    unchanged = (account.password_hash, account.data_key) == (
        checked.account.password_hash,
        checked.account.data_key,
    )
    if not (checked.password_ok and unchanged):
        return Refusal.WRONG_PASSWORD
    if checked.step is None:
        return Refusal.WRONG_CODE
    if account.last_totp_step is not None and checked.step <= account.last_totp_step:
        return Refusal.CODE_USED
    return None


def _record(
    session: Session, account: Account, checked: _Checked, password: str, now: dt.datetime
) -> AccountView | SignInRefused:
    refusal = _refusal(account, checked, now)
    if refusal is None:
        account.failed_attempts, account.locked_until = 0, None
        account.last_totp_step, account.signed_in_at = checked.step, now
        if needs_rehash(account.password_hash):  # hashed under older, weaker parameters
            account.password_hash = hash_password(password)
        append_event(
            session, reference=None, kind="sign-in", actor=account.name, at=now,
            detail={"role": account.role},
        )  # fmt: skip
        return AccountView.of(account)
    append_event(
        session, reference=None, kind="sign-in-failed", actor=account.name, at=now,
        detail={"reason": refusal.value},
    )  # fmt: skip
    if refusal is Refusal.LOCKED:
        return SignInRefused(refusal, account.locked_until)
    if refusal not in _COUNTED:
        return SignInRefused(refusal)
    account.failed_attempts += 1
    if account.failed_attempts < MAX_FAILURES:
        return SignInRefused(refusal)
    # Counted afresh after the lock: five more guesses per lock, at most 480 a day.
    account.failed_attempts, account.locked_until = 0, now + LOCKED_FOR
    append_event(
        session, reference=None, kind="account-locked", actor=account.name, at=now,
        detail={"failures": MAX_FAILURES, "until": account.locked_until.isoformat()},
    )  # fmt: skip
    return SignInRefused(refusal, account.locked_until)


def sign_out(session: Session, *, name: str, now: dt.datetime) -> None:
    """Record that `name` signed out (or that the gateway ended their session)."""
    account = find_account(session, name)
    append_event(session, reference=None, kind="sign-out", actor=account.name, at=now)
