"""Accounts and mission tokens on SQLite and PostgreSQL, through the services the CLI and the
gateway call: adding and resetting, signing in (password and a current code, each code once,
five failures lock), and every sign-in, failure, lock and sign-out in the audit chain."""

from __future__ import annotations

import datetime as dt
import json

import pyotp
import pytest
from sqlalchemy import select

from safepassage.models.errors import AccountInvalid, AccountNotFound
from safepassage.models.store.db import Store
from safepassage.models.store.orm import Account, CaseEvent, MissionToken
from safepassage.models.store.signin import NO_SUCH_ACCOUNT
from safepassage.models.store.verification import verify_store as verify
from safepassage.services.accounts import (
    AccountView,
    Credentials,
    Refusal,
    SignInRefused,
    add_user,
    authenticate,
    authenticate_token,
    create_token,
    disable_user,
    list_tokens,
    list_users,
    reset_user,
    revoke_token,
    sign_out,
)

NOW = dt.datetime(2026, 12, 4, 9, tzinfo=dt.UTC)
OPERATOR = "cli:operator"


def code_at(credentials: Credentials, at: dt.datetime) -> str:
    """The code the person's authenticator app shows at `at`."""
    secret = pyotp.parse_uri(credentials.totp_uri).secret
    return pyotp.TOTP(secret).at(at)


def intact(store: Store) -> bool:
    """Whether the whole audit chain, its anchor and the cases' seals verify."""
    with store.transaction() as session:
        return verify(session, store.master_key, store.anchor).intact


def log(store: Store) -> list[tuple[str, str, dict[str, object]]]:
    """The store-wide entries of the event log (no case reference): kind, actor, detail."""
    with store.transaction() as session:
        events = session.scalars(
            select(CaseEvent).where(CaseEvent.reference.is_(None)).order_by(CaseEvent.seq)
        )
        return [(e.kind, e.actor, e.detail) for e in events]


def test_add_list_disable_and_reset(store: Store) -> None:
    made = add_user(" Ana.Petrova ", "mission", "ro", actor=OPERATOR, store=store, now=NOW)
    assert (made.name, made.role, made.mission) == ("ana.petrova", "mission", "RO")
    assert made.totp_uri.startswith("otpauth://totp/SafePassage:ana.petrova?")
    assert "issuer=SafePassage" in made.totp_uri
    assert made.password not in repr(made)
    assert "secret" not in repr(made)
    add_user("bob", "coordinator", actor=OPERATOR, store=store, now=NOW)

    assert [(u.name, u.role, u.mission, u.disabled) for u in list_users(store=store)] == [
        ("ana.petrova", "mission", "RO", False),
        ("bob", "coordinator", None, False),
    ]
    later = NOW + dt.timedelta(hours=1)
    assert disable_user("bob", actor=OPERATOR, store=store, now=later) is True
    assert disable_user("bob", actor=OPERATOR, store=store, now=later) is False
    bob = next(u for u in list_users(store=store) if u.name == "bob")
    assert bob.disabled
    assert bob.updated_at == later

    again = reset_user("bob", actor=OPERATOR, store=store, now=later)
    assert again.password != made.password
    assert not next(u for u in list_users(store=store) if u.name == "bob").disabled
    assert [(k, a, d) for k, a, d in log(store) if k.startswith("account-")] == [
        ("account-added", OPERATOR, {"account": "ana.petrova", "role": "mission", "mission": "RO"}),
        ("account-added", OPERATOR, {"account": "bob", "role": "coordinator", "mission": None}),
        ("account-disabled", OPERATOR, {"account": "bob"}),
        ("account-reset", OPERATOR, {"account": "bob", "enabled": True}),
    ]
    assert intact(store)


def test_the_store_keeps_an_argon2id_hash_and_a_sealed_totp_secret(store: Store) -> None:
    made = add_user("ana", "auditor", actor=OPERATOR, store=store, now=NOW)
    secret = pyotp.parse_uri(made.totp_uri).secret
    with store.transaction() as session:
        row = session.scalars(select(Account)).one()
        assert row.password_hash.startswith("$argon2id$")
        assert made.password not in row.password_hash
        assert secret.encode() not in row.totp_secret
        assert row.last_totp_step is None
        assert row.failed_attempts == 0


@pytest.mark.parametrize(
    ("role", "mission", "named"),
    [
        ("chief", None, "--role"),
        ("mission", None, "--mission is needed"),
        ("coordinator", "RO", "--mission goes only with --role mission"),
        ("mission", "XX", "--mission must be"),
        ("mission", "ROU", "--mission must be"),
    ],
)
def test_bad_account_fields_are_refused_naming_the_option(
    store: Store, role: str, mission: str | None, named: str
) -> None:
    with pytest.raises(AccountInvalid, match=named):
        add_user("ana", role, mission, actor=OPERATOR, store=store)
    assert list_users(store=store) == []


def test_names_are_unique_across_accounts_and_tokens(store: Store) -> None:
    add_user("ana", "coordinator", actor=OPERATOR, store=store)
    with pytest.raises(AccountInvalid, match="NAME is taken by an account"):
        add_user("ANA", "auditor", actor=OPERATOR, store=store)
    with pytest.raises(AccountInvalid, match="--name is taken by an account"):
        create_token("RO", "ana", actor=OPERATOR, store=store)
    create_token("RO", "ro-system", actor=OPERATOR, store=store)
    with pytest.raises(AccountInvalid, match="NAME is taken by a mission token"):
        add_user("ro-system", "coordinator", actor=OPERATOR, store=store)
    with pytest.raises(AccountInvalid, match="NAME must be"):
        add_user("cli:root", "coordinator", actor=OPERATOR, store=store)
    with pytest.raises(AccountNotFound):
        disable_user("nobody", actor=OPERATOR, store=store)
    with pytest.raises(AccountNotFound):
        reset_user("nobody", actor=OPERATOR, store=store)


def test_signing_in_needs_the_password_and_a_current_code(store: Store) -> None:
    made = add_user("ana", "mission", "RO", actor=OPERATOR, store=store, now=NOW)
    code = code_at(made, NOW)

    def attempt(password: str, typed: str) -> AccountView | SignInRefused:
        return authenticate("ana", password, typed, NOW, store=store)

    assert attempt("not-the-password", code) == SignInRefused(Refusal.WRONG_PASSWORD)
    assert attempt(made.password, "000000" if code != "000000" else "111111") == SignInRefused(
        Refusal.WRONG_CODE
    )
    assert attempt(made.password, code_at(made, NOW - dt.timedelta(minutes=5))) == (
        SignInRefused(Refusal.WRONG_CODE)
    )
    assert attempt(made.password, "") == SignInRefused(Refusal.WRONG_CODE)
    signed_in = attempt(made.password, code)
    assert isinstance(signed_in, AccountView)
    assert (signed_in.name, signed_in.role, signed_in.mission) == ("ana", "mission", "RO")
    assert signed_in.signed_in_at == NOW

    sign_out("ana", store=store, now=NOW + dt.timedelta(minutes=1))
    assert [(k, a, d) for k, a, d in log(store) if k != "account-added"] == [
        ("sign-in-failed", "ana", {"reason": "wrong-password"}),
        ("sign-in-failed", "ana", {"reason": "wrong-code"}),
        ("sign-in-failed", "ana", {"reason": "wrong-code"}),
        ("sign-in-failed", "ana", {"reason": "wrong-code"}),
        ("sign-in", "ana", {"role": "mission"}),
        ("sign-out", "ana", {}),
    ]
    assert intact(store)


def test_a_code_is_accepted_once(store: Store) -> None:
    made = add_user("ana", "coordinator", actor=OPERATOR, store=store, now=NOW)
    code = code_at(made, NOW)
    assert isinstance(authenticate("ana", made.password, code, NOW, store=store), AccountView)

    replayed = authenticate("ana", made.password, code, NOW + dt.timedelta(seconds=5), store=store)
    assert replayed == SignInRefused(Refusal.CODE_USED)
    # The step before, still inside the drift allowed, is older than the one used: refused too.
    earlier = code_at(made, NOW - dt.timedelta(seconds=30))
    assert authenticate("ana", made.password, earlier, NOW, store=store) == SignInRefused(
        Refusal.CODE_USED
    )
    later = NOW + dt.timedelta(seconds=60)
    signed_in = authenticate("ana", made.password, code_at(made, later), later, store=store)
    assert isinstance(signed_in, AccountView)


def test_five_failures_lock_the_account_even_against_the_right_password_and_code(
    store: Store,
) -> None:
    made = add_user("ana", "coordinator", actor=OPERATOR, store=store, now=NOW)
    for second in range(5):
        at = NOW + dt.timedelta(seconds=second)
        refused = authenticate("ana", f"guess-{second}", "123456", at, store=store)
        assert isinstance(refused, SignInRefused)
    assert refused.locked_until == NOW + dt.timedelta(seconds=4, minutes=15)
    assert next(iter(list_users(store=store))).locked_until == refused.locked_until

    at = NOW + dt.timedelta(minutes=10)
    locked = authenticate("ana", made.password, code_at(made, at), at, store=store)
    assert locked == SignInRefused(Refusal.LOCKED, refused.locked_until)

    at = NOW + dt.timedelta(minutes=16)
    signed_in = authenticate("ana", made.password, code_at(made, at), at, store=store)
    assert isinstance(signed_in, AccountView)
    kinds = [(k, d.get("reason")) for k, _a, d in log(store) if k != "account-added"]
    assert kinds == [
        *[("sign-in-failed", "wrong-password")] * 5,
        ("account-locked", None),
        ("sign-in-failed", "locked"),
        ("sign-in", None),
    ]
    locks = [d for k, _a, d in log(store) if k == "account-locked"]
    assert locks == [{"failures": 5, "until": refused.locked_until.isoformat()}]


def test_a_reset_unlocks_and_the_old_credentials_stop_working(store: Store) -> None:
    made = add_user("ana", "coordinator", actor=OPERATOR, store=store, now=NOW)
    for _ in range(5):
        authenticate("ana", "wrong", "123456", NOW, store=store)
    fresh = reset_user("ana", actor=OPERATOR, store=store, now=NOW)
    at = NOW + dt.timedelta(seconds=30)
    old = authenticate("ana", made.password, code_at(made, at), at, store=store)
    assert old == SignInRefused(Refusal.WRONG_PASSWORD)
    assert isinstance(authenticate("ana", fresh.password, code_at(fresh, at), at, store=store),
                      AccountView)  # fmt: skip


def test_a_disabled_account_is_refused(store: Store) -> None:
    made = add_user("ana", "auditor", actor=OPERATOR, store=store, now=NOW)
    disable_user("ana", actor=OPERATOR, store=store, now=NOW)
    refused = authenticate("ana", made.password, code_at(made, NOW), NOW, store=store)
    assert refused == SignInRefused(Refusal.DISABLED)


@pytest.mark.parametrize("typed", ["maria.ionescu.1990", "Maria Ionescu, 08/01/1997"])
def test_a_name_that_is_no_account_is_recorded_without_what_was_typed(
    store: Store, typed: str
) -> None:
    add_user("ana", "coordinator", actor=OPERATOR, store=store, now=NOW)
    refused = authenticate(typed, "hunter2-password", "123456", NOW, store=store)
    assert refused == SignInRefused(Refusal.NO_SUCH_ACCOUNT)
    failures = [(a, d) for k, a, d in log(store) if k == "sign-in-failed"]
    assert failures == [(NO_SUCH_ACCOUNT, {"reason": "no-such-account"})]
    everything = json.dumps(log(store))
    for fragment in ("maria", "Maria", "ionescu", "1997", "hunter2"):
        assert fragment not in everything


def test_tokens_are_shown_once_stored_as_a_hash_and_revoked_at_once(store: Store) -> None:
    made = create_token("ro", "RO-System", actor=OPERATOR, store=store, now=NOW)
    assert (made.name, made.mission) == ("ro-system", "RO")
    assert made.token.startswith("spm_")
    assert len(made.token) > 40
    assert made.token not in repr(made)
    with store.transaction() as session:
        row = session.scalars(select(MissionToken)).one()
        assert made.token not in row.token_hash
        assert len(row.token_hash) == 64

    holder = authenticate_token(made.token, store=store)
    assert holder is not None
    assert (holder.name, holder.mission) == ("ro-system", "RO")
    assert authenticate_token(made.token + "x", store=store) is None
    assert authenticate_token("", store=store) is None
    assert authenticate_token("spm_" + "a" * 500, store=store) is None

    assert revoke_token("ro-system", actor=OPERATOR, store=store, now=NOW) is True
    assert revoke_token("ro-system", actor=OPERATOR, store=store, now=NOW) is False
    assert authenticate_token(made.token, store=store) is None
    [view] = list_tokens(store=store)
    assert (view.name, view.mission, view.revoked_at) == ("ro-system", "RO", NOW)
    with pytest.raises(AccountInvalid, match="revoked token keeps its name"):
        create_token("RO", "ro-system", actor=OPERATOR, store=store)
    with pytest.raises(AccountInvalid, match="--mission must be"):
        create_token("Romania", "ro-two", actor=OPERATOR, store=store)
    with pytest.raises(AccountNotFound):
        revoke_token("nothing", actor=OPERATOR, store=store)
    assert [(k, a, d) for k, a, d in log(store)] == [
        ("token-created", OPERATOR, {"token": "ro-system", "mission": "RO"}),
        ("token-revoked", OPERATOR, {"token": "ro-system", "mission": "RO"}),
    ]
