"""Accounts under the rotating key ring: a rotation re-wraps each account's data key, so a
retired version leaves every TOTP secret readable (and every sign-in working)."""

from __future__ import annotations

import datetime as dt

import pyotp
from sqlalchemy import select

from safepassage.models.crypto import wrapped_version
from safepassage.models.store.db import Store
from safepassage.models.store.keys import retire, rotate
from safepassage.models.store.orm import Account
from safepassage.services.accounts import AccountView, add_user, authenticate, disable_user

NOW = dt.datetime(2026, 12, 4, 9, tzinfo=dt.UTC)


def _versions(store: Store) -> dict[str, int]:
    with store.transaction() as session:
        return {a.name: wrapped_version(a.data_key) for a in session.scalars(select(Account))}


def test_a_rotation_and_retirement_keep_every_accounts_totp_readable(ring_store: Store) -> None:
    made = add_user("ana", "mission", "RO", actor="t", store=ring_store, now=NOW)
    add_user("bob", "coordinator", actor="t", store=ring_store, now=NOW)
    disable_user("bob", actor="t", store=ring_store, now=NOW)  # re-wrapped too: reset revives it
    assert _versions(ring_store) == {"ana": 1, "bob": 1}

    done = rotate(ring_store.sessions, ring_store.master_key, actor="t", now=NOW)
    assert done.unreadable == []
    assert retire(
        ring_store.sessions, ring_store.master_key, backup_days=35, actor="t", now=NOW,
        at_once=True,
    ) == [1]  # fmt: skip
    assert _versions(ring_store) == {"ana": 2, "bob": 2}

    at = NOW + dt.timedelta(minutes=1)
    code = pyotp.TOTP(pyotp.parse_uri(made.totp_uri).secret).at(at)
    assert isinstance(authenticate("ana", made.password, code, at, store=ring_store), AccountView)
