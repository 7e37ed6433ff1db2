"""The demo's own accounts and mission tokens: who can sign in to try the gateway afterwards.

A coordinator, one mission officer per mission the examples return people to, an auditor, and
one API token per mission, which the demo's missions use to send their answers. All are made
through the same services as `safepassage users add` and `safepassage tokens create`, with
"demo" as the actor. They are throwaway accounts in the demo's own SAFEPASSAGE_HOME.

A second demo in the same home resets the accounts it made before (a new password and TOTP
secret each), because a newcomer expects the sign-in printed at the end to work, and a
password is shown only once. The earlier demo's tokens are revoked and new ones made under the
next free name (a revoked token keeps its name, for the audit trail): the demo needs a token
it knows to send the missions' answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from safepassage.services.accounts import (
    Credentials,
    NewToken,
    add_user,
    create_token,
    list_tokens,
    list_users,
    reset_user,
    revoke_token,
)

#: The actor the audit trail shows for what the demo sets up.
ACTOR = "demo"
COORDINATOR = "demo-coordinator"
AUDITOR = "demo-auditor"


def officer_name(country: str) -> str:
    """Return the demo's mission officer account for `country`'s mission."""
    return f"demo-officer-{country.lower()}"


def system_name(country: str) -> str:
    """Return the first name of the demo's API token for `country`'s mission system."""
    return f"demo-system-{country.lower()}"


@dataclass(frozen=True)
class DemoAccess:
    """The demo's accounts (with their new passwords) and its mission tokens, by country."""

    accounts: list[Credentials]
    tokens: dict[str, NewToken] = field(repr=False)
    #: Whether the accounts existed from an earlier demo, and were reset.
    reset: bool = False


def issue_demo_access(countries: Iterable[str]) -> DemoAccess:
    """Make (or reset) the demo's accounts and make a fresh token per mission in `countries`."""
    missions = sorted({c.upper() for c in countries})
    wanted: list[tuple[str, str, str | None]] = [
        (COORDINATOR, "coordinator", None),
        *((officer_name(c), "mission", c) for c in missions),
        (AUDITOR, "auditor", None),
    ]
    existing = {view.name for view in list_users()}
    accounts = [
        reset_user(name, actor=ACTOR)
        if name in existing
        else add_user(name, role, mission, actor=ACTOR)
        for name, role, mission in wanted
    ]
    return DemoAccess(
        accounts,
        _fresh_tokens(missions),
        reset=any(name in existing for name, _, _ in wanted),
    )


def _fresh_tokens(missions: list[str]) -> dict[str, NewToken]:
    tokens = list_tokens()
    taken = {token.name for token in tokens}
    made = {}
    for country in missions:
        first = system_name(country)
        for earlier in tokens:  # a token the demo no longer knows is a secret nobody needs
            if _is_demo_token(earlier.name, first) and earlier.revoked_at is None:
                revoke_token(earlier.name, actor=ACTOR)
        name, number = first, 1
        while name in taken:
            number += 1
            name = f"{first}-{number}"
        made[country] = create_token(country, name, actor=ACTOR)
    return made


def _is_demo_token(name: str, first: str) -> bool:
    return name == first or (name.startswith(f"{first}-") and name[len(first) + 1 :].isdigit())
