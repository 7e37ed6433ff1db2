"""The demo's own accounts and mission tokens: made once, reset on a second demo in the same home,
each printed credential working, and each mission's token speaking for that mission only."""

from __future__ import annotations

from pathlib import Path

from safepassage.demo.access import issue_demo_access
from safepassage.services.accounts import (
    AccountView,
    authenticate,
    authenticate_token,
    list_tokens,
    list_users,
)
from tests.gateway.missions import code_now


def test_the_demo_makes_a_coordinator_an_officer_per_mission_an_auditor_and_a_token_each(
    home: Path,
) -> None:
    access = issue_demo_access(["RO", "bg", "RO"])

    assert [(a.name, a.role, a.mission) for a in access.accounts] == [
        ("demo-coordinator", "coordinator", None),
        ("demo-officer-bg", "mission", "BG"),
        ("demo-officer-ro", "mission", "RO"),
        ("demo-auditor", "auditor", None),
    ]
    assert access.reset is False
    officer = access.accounts[2]
    signed_in = authenticate(officer.name, officer.password, code_now(officer))
    assert isinstance(signed_in, AccountView)
    holder = authenticate_token(access.tokens["RO"].token)
    assert holder is not None
    assert (holder.name, holder.mission) == ("demo-system-ro", "RO")


def test_a_second_demo_resets_its_accounts_and_replaces_its_tokens(home: Path) -> None:
    first = issue_demo_access(["RO"])
    second = issue_demo_access(["RO"])

    assert second.reset is True
    assert [a.name for a in second.accounts] == [a.name for a in first.accounts]
    assert len(list_users()) == 3  # reset, not made twice
    coordinator = first.accounts[0]
    code = code_now(coordinator)
    assert not isinstance(authenticate(coordinator.name, coordinator.password, code), AccountView)
    renewed = second.accounts[0]
    code = code_now(renewed)
    assert isinstance(authenticate(renewed.name, renewed.password, code), AccountView)

    assert authenticate_token(first.tokens["RO"].token) is None  # revoked
    holder = authenticate_token(second.tokens["RO"].token)
    assert holder is not None
    assert holder.name == "demo-system-ro-2"
    assert [(t.name, t.revoked_at is None) for t in list_tokens()] == [
        ("demo-system-ro", False),
        ("demo-system-ro-2", True),
    ]
