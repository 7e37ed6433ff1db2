"""What each programme covers of a plan, and the office's grant ceiling: rules as data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from safepassage.models.errors import ConfigurationError
from safepassage.models.grant import Entry, GrantLedger
from safepassage.models.office_policy import DEFAULT_POLICY, parse_office_policy
from safepassage.models.rules import SETTABLE, uncovered_needs
from safepassage.models.vocabulary import Need


def test_a_need_is_covered_only_where_the_programme_lists_its_service() -> None:
    plan = [Need.MEDICAL, Need.WITNESS_PROTECTION, Need.DENTAL]
    assert uncovered_needs("BG", plan) == [Need.DENTAL]  # Witness Protection Programme listed
    assert uncovered_needs("CZ", plan) == [Need.WITNESS_PROTECTION, Need.DENTAL]
    assert uncovered_needs("HU", plan) == [Need.WITNESS_PROTECTION]  # dental care listed
    assert uncovered_needs("ADHOC", plan) == plan  # agreed per case: nothing in advance


def _policy(**tables: Any) -> Any:
    return parse_office_policy({"version": "2027-01", **tables}, SETTABLE)


def test_the_grant_ceiling_defaults_to_three_times_the_base_and_the_office_may_set_it() -> None:
    assert DEFAULT_POLICY.grant_ceiling("HU") == Decimal(4500)
    assert DEFAULT_POLICY.grant_ceiling("RO") is None  # no grant: no ceiling
    assert _policy(grant_ceiling_chf={"HU": 2500}).grant_ceiling("HU") == Decimal(2500)


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ({"HU": 1000}, "grant_ceiling_chf.HU: must be at least the programme's base grant"),
        ({"HU": "lots"}, "grant_ceiling_chf.HU: must be a number of CHF"),
        ({"RO": 3000}, "grant_ceiling_chf.<unknown key>: no programme with a grant"),
        ({"Jane Doe": 3000}, "grant_ceiling_chf.<unknown key>: no programme with a grant"),
        ("3000", "grant_ceiling_chf: must be a table"),
    ],
)
def test_a_bad_ceiling_is_refused_by_its_key_without_its_value(table: Any, said: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        _policy(grant_ceiling_chf=table)
    assert said in str(refused.value)
    assert "Jane" not in str(refused.value)
    assert "lots" not in str(refused.value)


def test_the_ledger_adds_up_planned_approved_declined_and_delivered() -> None:
    ledger = GrantLedger.of([
        Entry("grant-planned", 1, {"amount_chf": "1500"}),
        Entry("grant-increase-requested", 1, {"amount_chf": "900"}),
        Entry("grant-increase-started", 1, {"flow_run_id": "run-1"}),
        Entry("grant-increase-decided", 1, {"approved": True, "amount_chf": "600"}),
        Entry("grant-increase-requested", 2, {"amount_chf": "400"}),
        Entry("grant-increase-decided", 2, {"approved": False, "amount_chf": "0"}),
        Entry("grant-increase-requested", 3, {"amount_chf": "300"}),
        Entry("grant-delivered", 1, {"amount_chf": "1000"}),
    ])  # fmt: skip
    amounts = (ledger.total, ledger.delivered_total, ledger.undelivered())
    assert amounts == (Decimal(2100), Decimal(1000), Decimal(1100))
    assert (ledger.pending, ledger.unstarted, ledger.next_request()) == ([3], [3], 4)
    assert ledger.headroom(Decimal(4500)) == 2400
    assert ledger.headroom(Decimal(2000)) == 0
