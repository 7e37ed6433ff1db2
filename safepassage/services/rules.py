"""The eligibility rules as a person reads them: every rule, its source and its outcome now.

Reads the office policy in force (SAFEPASSAGE_OFFICE_POLICY), so the listing shows what a case
taken in now would be decided by; a bad policy file is named here, as it would be at intake.
"""

from __future__ import annotations

from dataclasses import dataclass

from safepassage.models.rules import RULES_VERSION, RuleRow, policy_in_force, rule_rows
from safepassage.models.vocabulary import Programme


@dataclass(frozen=True)
class RuleListing:
    """The rules under the policy in force, with the versions a decision would record."""

    rules_version: str
    office_policy_version: str
    rows: list[RuleRow]


def list_rules(programme: Programme | None = None) -> RuleListing:
    """Return every rule, or those a case of `programme` meets, under the office policy in force."""
    policy = policy_in_force()
    return RuleListing(
        rules_version=RULES_VERSION,
        office_policy_version=policy.version,
        rows=rule_rows(policy, programme),
    )
