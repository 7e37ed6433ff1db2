"""Who may sign in as what: the roles, and the names and mission countries accounts carry.

The messages name the command line's option or argument (`NAME`, `--role`, `--mission`),
since the operator's tool on the server is where accounts and tokens are made, and never
repeat what was typed: a name could be anyone's.
"""

from __future__ import annotations

import re
from enum import StrEnum

import pycountry

from safepassage.models.errors import AccountInvalid


class Role(StrEnum):
    """What an account may do in the gateway."""

    COORDINATOR = "coordinator"  # the Prefect UI and every office action
    MISSION = "mission"  # its own country's cases, in the mission portal
    AUDITOR = "auditor"  # the audit trail and `audit verify`; never personal data, never acts


#: Lower case, so "Ana" and "ana" are one account; no ":" or spaces, so no account can be named
#: like the actors SafePassage writes itself (`cli:<login>`, `(no such account)`).
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
NAME_RULE = (
    "2 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or a digit"
)


def normalised_name(text: str) -> str | None:
    """Return `text` as an account or token name, or None if it cannot be one."""
    name = text.strip().lower()
    return name if _NAME.fullmatch(name) else None


def checked_name(text: str, *, field: str) -> str:
    """Return `text` as a name, or raise AccountInvalid naming `field` and the rule."""
    name = normalised_name(text)
    if name is None:
        raise AccountInvalid(f"{field} must be {NAME_RULE}")
    return name


def checked_role(text: str) -> Role:
    """Return the role `text` names, or raise AccountInvalid listing the roles."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        *others, last = (r.value for r in Role)
        raise AccountInvalid(f"--role must be {', '.join(others)} or {last}") from None


def checked_country(text: str) -> str:
    """Return `text` as an ISO 3166-1 alpha-2 code (upper case), or raise AccountInvalid."""
    code = text.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise AccountInvalid(
            "--mission must be the mission's ISO 3166-1 alpha-2 country code, for example RO"
        )
    return code


def checked_mission(role: Role, mission: str | None) -> str | None:
    """Return the account's mission country: required for a mission, refused for the others."""
    if role is Role.MISSION:
        if mission is None or not mission.strip():
            raise AccountInvalid(
                "--mission is needed with --role mission: give the mission's country code, "
                "for example --mission RO"
            )
        return checked_country(mission)
    if mission is not None:
        raise AccountInvalid(
            f"--mission goes only with --role mission: leave it out for --role {role.value}"
        )
    return None
