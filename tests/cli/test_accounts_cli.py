"""`safepassage users` and `safepassage tokens`, typed as an operator would on the embedded
default: secrets printed once, in the JSON shapes the issue gives; lists without a secret; bad
input refused with exit code 2 naming the option, never echoing what was typed."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest

from tests.cli.helpers import run_cli


def test_users_add_prints_the_password_and_totp_uri_once_and_list_shows_neither(
    home: Path,
) -> None:
    added = run_cli("users", "add", "ana.petrova", "--role", "mission", "--mission", "ro", "--json")
    assert added.code == 0, added.stderr
    made = added.json()
    assert set(made) == {"name", "role", "mission", "password", "totp_uri"}
    assert (made["name"], made["role"], made["mission"]) == ("ana.petrova", "mission", "RO")
    secret = pyotp.parse_uri(made["totp_uri"]).secret
    people = run_cli("users", "add", "bob", "--role", "coordinator")
    assert people.code == 0, people.stderr
    assert "password: " in people.stdout
    assert "otpauth://totp/SafePassage:bob" in people.stdout

    for listing in (run_cli("users", "list"), run_cli("users", "list", "--json")):
        assert listing.code == 0, listing.stderr
        assert "ana.petrova" in listing.stdout
        assert "bob" in listing.stdout
        for secret_text in (made["password"], secret, "argon2", "otpauth"):
            assert secret_text not in listing.stdout + listing.stderr
    users = run_cli("users", "list", "--json").json()["users"]
    assert [(u["name"], u["role"], u["mission"]) for u in users] == [
        ("ana.petrova", "mission", "RO"),
        ("bob", "coordinator", None),
    ]

    assert run_cli("users", "disable", "bob").code == 0
    assert run_cli("users", "list", "--json").json()["users"][1]["disabled"] is True
    reset = run_cli("users", "reset", "ana.petrova", "--json")
    assert reset.code == 0, reset.stderr
    assert set(reset.json()) == set(made)
    assert reset.json()["password"] != made["password"]


def test_tokens_create_prints_the_token_once_and_list_and_revoke_never_show_it(
    home: Path,
) -> None:
    created = run_cli("tokens", "create", "--mission", "RO", "--name", "ro-system", "--json")
    assert created.code == 0, created.stderr
    made = created.json()
    assert set(made) == {"name", "mission", "token"}
    assert (made["name"], made["mission"]) == ("ro-system", "RO")

    listed = run_cli("tokens", "list", "--json")
    assert listed.code == 0, listed.stderr
    assert made["token"] not in listed.stdout
    assert "hash" not in listed.stdout
    assert listed.json()["tokens"][0]["revoked_at"] is None
    assert made["token"] not in run_cli("tokens", "list").stdout

    assert run_cli("tokens", "revoke", "ro-system").code == 0
    assert run_cli("tokens", "list", "--json").json()["tokens"][0]["revoked_at"] is not None


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["users", "add", "ana", "--role", "chief"], "--role must be coordinator, mission or"),
        (["users", "add", "ana", "--role", "mission"], "--mission is needed with --role mission"),
        (["users", "add", "ana", "--role", "auditor", "--mission", "RO"], "--mission goes only"),
        (["users", "add", "ana", "--role", "mission", "--mission", "QQ"], "--mission must be"),
        (["users", "add", "Maria Ionescu", "--role", "auditor"], "NAME must be"),
        (["users", "disable", "maria.ionescu"], "no account has that NAME"),
        (["users", "reset", "maria.ionescu"], "no account has that NAME"),
        (["tokens", "create", "--mission", "Romania", "--name", "ro-x"], "--mission must be"),
        (["tokens", "revoke", "maria.ionescu"], "no mission token has that NAME"),
    ],
)
def test_bad_input_exits_2_naming_the_option_and_never_echoing_it(
    home: Path, args: list[str], says: str
) -> None:
    result = run_cli(*args)
    assert result.code == 2, (result.stdout, result.stderr)
    assert says in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    for typed in ("chief", "QQ", "Maria", "maria", "Romania"):
        assert typed not in result.stderr


def test_a_duplicate_name_exits_2_without_printing_a_secret(home: Path) -> None:
    first = run_cli("users", "add", "ana", "--role", "coordinator", "--json")
    assert first.code == 0, first.stderr
    again = run_cli("users", "add", "ana", "--role", "auditor", "--json")
    assert again.code == 2
    assert "NAME is taken by an account already" in again.stderr
    assert again.stdout == ""
    clash = run_cli("tokens", "create", "--mission", "RO", "--name", "ana")
    assert clash.code == 2
    assert "--name is taken" in clash.stderr
    assert clash.stdout == ""
