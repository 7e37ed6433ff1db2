"""Hungary's grant as the programme reads: planned with the plan, increased twice on the
mission's requests (each decided at grant-approval, within the office's ceiling), delivered.

No Prefect server: the stages run as plain functions and the services against the test store
(SQLite and PostgreSQL); an increase's approval run is recorded as started by a stand-in.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import CaseNotFound, CaseStateError, IntakeInvalid
from safepassage.models.report import build_report
from safepassage.models.settings import get_settings
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.grant import grant_ledger
from safepassage.models.store.workflow import set_stage
from safepassage.models.vocabulary import Stage
from safepassage.services import grant as grant_service
from safepassage.tasks.grant import conclude_increase
from safepassage.tasks.reintegration import conclude_plan, plan_reintegration, request_plan
from tests.factories import TODAY
from tests.stored import STORED_AT, stored_case
from tests.tasks.checkpoint_answers import answer, events, freeze, sample

MISSION = "HU"


@pytest.fixture(autouse=True)
def _frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch)
    for module in ("safepassage.tasks.reintegration", "safepassage.tasks.grant",
                   "safepassage.services.grant"):  # fmt: skip
        monkeypatch.setattr(f"{module}.utcnow", lambda: STORED_AT)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stand in for Prefect: record which cases' approval runs the service started."""
    calls: list[str] = []
    monkeypatch.setattr(grant_service, "connect", lambda settings: None)
    monkeypatch.setattr(
        grant_service, "start_increase_runs", lambda store, reference: calls.append(reference)
    )
    return calls


def _planned(store: Store, *, recommended: int | None = None) -> str:
    """Return a HU case that arrived today and whose plan was agreed."""
    reference = _arrived(store)
    arrival = sample(
        Checkpoint.ARRIVAL, arrived_at=f"{TODAY.isoformat()}T08:00:00+00:00",
        recommended_grant_chf=recommended,
    )  # fmt: skip
    assert answer(reference, Checkpoint.ARRIVAL, **arrival).accepted
    request_plan.fn(reference, 1)
    item = {"need": "training", "service": "Vocational course", "provider": "A provider",
            "starts_on": TODAY.isoformat(), "cost_chf": "900"}  # fmt: skip
    assert answer(reference, Checkpoint.REINTEGRATION_PLAN, items=[item]).accepted
    assert conclude_plan.fn(reference, 1).uncovered == 0
    plan_reintegration.fn(reference, 1)
    return reference


def _arrived(store: Store) -> str:
    reference = stored_case(store, "HU")
    with case_transaction(reference) as (_, session, case):
        set_stage(session, case, Stage.ARRIVAL, actor="flow", now=STORED_AT)
    return reference


def _ledger(store: Store, reference: str) -> dict[str, object]:
    with store.transaction() as session:
        return grant_ledger(session, get_case(session, reference)).as_dict()


def _increase(reference: str, amount: str, *, by: str = "hu-mission-system") -> int:
    request = {"amount_chf": amount, "provider": "Vocational centre (example)",
               "recommendation": "Tools for a trade after the course."}  # fmt: skip
    done = grant_service.request_increase(reference, request, by=by, country=MISSION)
    number: int = done["request"]
    return number


def _decide(reference: str, number: int, amount: str, *, approved: bool = True) -> None:
    decided = answer(
        reference, Checkpoint.GRANT_APPROVAL, attempt=number, amount_chf=amount, approved=approved
    )
    assert decided.accepted, decided.problems
    conclude_increase.fn(reference, number)


def test_the_grant_is_planned_increased_twice_and_delivered(
    stage_store: Store, home: Path, started: list[str]
) -> None:
    reference = _planned(stage_store)
    assert _ledger(stage_store, reference)["planned_chf"] == "1500"

    first = _increase(reference, "900")
    # One request at a time: the coordinator weighs each recommendation against the ceiling.
    with pytest.raises(CaseStateError, match="waits for its decision"):
        _increase(reference, "100")
    _decide(reference, first, "600")  # less than recommended
    second = _increase(reference, "1000")
    _decide(reference, second, "1000")
    assert started == [reference, reference]

    grant_service.record_delivery(
        reference,
        {"what": "Tools for a trade", "delivered_on": TODAY.isoformat(),
         "provider": "Vocational centre (example)", "amount_chf": "2000"},
        by="hu-mission-system", country=MISSION,
    )  # fmt: skip
    ledger = _ledger(stage_store, reference)
    assert (ledger["total_chf"], ledger["approved_increases_chf"], ledger["delivered_chf"]) == (
        "3100", "1600", "2000",
    )  # fmt: skip
    assert [(i["number"], i["decision"], i["approved_chf"]) for i in ledger["increases"]] == [  # type: ignore[attr-defined]
        (1, "approved", "600"),
        (2, "approved", "1000"),
    ]
    assert events(home, "mission-hu", reference) == [
        "reintegration-plan", "plan-agreed", "grant-planned", "grant-approved", "grant-approved",
    ]  # fmt: skip
    assert events(home, "coordinators", reference) == ["grant-increase-requested"] * 2
    with stage_store.transaction() as session:
        figures = build_report(session, stage_store.master_key, now=STORED_AT, limits={})
    (hu,) = figures.reintegration
    assert (hu.grants_planned_chf, hu.increases_approved, hu.increases_approved_chf) == (
        "1500", 2, "1600",
    )  # fmt: skip
    assert hu.grants_delivered_chf == "2000"


def test_an_increase_recommended_at_arrival_is_the_first_request_once_the_plan_is_agreed(
    stage_store: Store, home: Path
) -> None:
    reference = _planned(stage_store, recommended=2400)
    plan_reintegration.fn(reference, 1)  # replayed: still one request
    ledger = _ledger(stage_store, reference)
    assert [(i["number"], i["recommended_chf"], i["decision"]) for i in ledger["increases"]] == [  # type: ignore[attr-defined]
        (1, "900", "pending")
    ]
    assert events(home, "coordinators", reference) == ["grant-increase-requested"]


def test_the_office_ceiling_bounds_every_increase(
    stage_store: Store, started: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "2027-01"\n[grant_ceiling_chf]\nHU = 2500\n')
    monkeypatch.setenv("SAFEPASSAGE_OFFICE_POLICY", str(policy))
    get_settings.cache_clear()
    reference = _planned(stage_store)
    with pytest.raises(IntakeInvalid) as above:
        _increase(reference, "1234.50")
    assert [str(p) for p in above.value.problems] == [
        "amount_chf: is more than the programme's ceiling leaves (CHF 1,000.00)"
    ]
    number = _increase(reference, "1000")
    refused = answer(reference, Checkpoint.GRANT_APPROVAL, attempt=number, amount_chf="1000.01")
    assert not refused.accepted
    _decide(reference, number, "1000")
    with pytest.raises(IntakeInvalid, match="ceiling leaves"):
        _increase(reference, "1")


def test_requests_and_deliveries_are_refused_by_name_and_by_state(
    stage_store: Store, started: list[str]
) -> None:
    bulgarian = stored_case(stage_store, "BG")
    with pytest.raises(CaseNotFound):  # another mission's case is as if unknown
        _increase(bulgarian, "100")
    with pytest.raises(CaseStateError, match="no reintegration grant"):
        grant_service.request_increase(
            bulgarian, {"amount_chf": "100", "provider": "P", "recommendation": "R"}, by="c"
        )
    early = _arrived(stage_store)
    with pytest.raises(CaseStateError, match="no agreed reintegration plan"):
        _increase(early, "100")
    reference = _planned(stage_store)
    with pytest.raises(IntakeInvalid) as bad:
        grant_service.request_increase(
            reference, {"amount_chf": "-5", "provider": "P"}, by="x", country=MISSION
        )
    assert [p.path for p in bad.value.problems] == ["amount_chf", "recommendation"]
    assert all("-5" not in str(p) for p in bad.value.problems)
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    delivery = {"what": "Tools", "delivered_on": tomorrow, "provider": "P", "amount_chf": "1500.01"}
    with pytest.raises(IntakeInvalid) as late:
        grant_service.record_delivery(reference, delivery, by="x", country=MISSION)
    assert [p.path for p in late.value.problems] == ["amount_chf", "delivered_on"]
    assert _ledger(stage_store, reference)["deliveries"] == []  # nothing half-written
    assert Decimal(str(_ledger(stage_store, reference)["total_chf"])) == Decimal(1500)
    assert started == []
