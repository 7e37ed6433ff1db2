"""The mission files its reintegration plan, grant increases and deliveries itself: in the
portal and through the API, under the same checks as a coordinator (SQLite and PostgreSQL).

Everything up to the resume of a run is real; the resume and the approval run's start are
recorded instead (tests/flows/test_followups.py runs them for real).
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from starlette.testclient import TestClient

from safepassage.models.grant import PLANNED
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.events import case_events
from safepassage.models.store.workflow import record_action
from safepassage.services import grant as grant_service
from safepassage.services.accounts import add_user, create_token
from tests.factories import TODAY
from tests.gateway.missions import OPERATOR, sign_in, waiting_case
from tests.stored import STORED_AT

API = "/mission/api/v1"
ITEM = {"need": "medical", "service": "Health check", "provider": "Clinic (example)",
        "starts_on": TODAY.isoformat(), "cost_chf": 250}  # fmt: skip


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(grant_service, "connect", lambda settings: None)
    monkeypatch.setattr(
        grant_service, "start_increase_runs", lambda store, reference: calls.append(reference)
    )
    return calls


def bearer(store: Store, country: str) -> dict[str, str]:
    token = create_token(country, f"{country.lower()}-system", actor=OPERATOR, store=store)
    return {"authorization": f"Bearer {token.token}"}


def test_a_plan_through_the_api_is_entered_under_the_token_and_refused_by_field(
    client: TestClient, store: Store, resumed: list[dict[str, Any]]
) -> None:
    reference = waiting_case(store, "reintegration-plan")
    headers = bearer(store, "BG")
    bad = {"items": [ITEM | {"cost_chf": "Zenobia", "need": "Quillfeather"}]}
    answer = client.post(f"{API}/cases/{reference}/plan", json=bad, headers=headers)
    assert answer.status_code == 422
    assert sorted(p["field"] for p in answer.json()["problems"]) == [
        "items.0.cost_chf", "items.0.need",
    ]  # fmt: skip
    assert "Zenobia" not in answer.text
    assert "Quillfeather" not in answer.text
    answer = client.post(f"{API}/cases/{reference}/plan", json={"items": [ITEM]}, headers=headers)
    assert answer.status_code == 202
    [call] = resumed
    assert (call["expected"], call["answer"]["entered_by"]) == ("reintegration-plan", "bg-system")
    assert call["answer"]["items"][0]["need"] == "medical"


def test_the_portal_plan_form_takes_lines_and_names_a_fault_by_its_line(
    client: TestClient, store: Store, resumed: list[dict[str, Any]]
) -> None:
    reference = waiting_case(store, "reintegration-plan")
    csrf = sign_in(client, add_user("ola", "mission", "BG", actor=OPERATOR, store=store))
    case_page = client.get(f"/mission/cases/{reference}")
    assert f'href="/mission/cases/{reference}/reintegration-plan"' in case_page.text
    form = client.get(f"/mission/cases/{reference}/reintegration-plan")
    assert form.status_code == 200
    assert len(re.findall(r'name="items\.\d\.need"', form.text)) == 8
    line = {f"items.0.{k}": str(v) for k, v in ITEM.items()}
    sent = {"csrf": csrf, **line, "items.2.cost_chf": "Zenobia", "items.2.need": "housing"}
    refused = client.post(f"/mission/cases/{reference}/reintegration-plan", data=sent)
    assert refused.status_code == 422
    problems = unescape(re.search(r'<div role="alert">(.*?)</div>', refused.text, re.S)[1])  # type: ignore[index]
    assert "Plan, line 2: Service" in problems  # the third line is the plan's second item
    assert "Plan, line 2: Cost (CHF)" in problems
    assert "Zenobia" not in problems
    assert resumed == []
    sent = {"csrf": csrf, **line, "notes": "Agreed with the person."}
    assert (
        client.post(f"/mission/cases/{reference}/reintegration-plan", data=sent).status_code == 200
    )
    [call] = resumed
    assert call["answer"]["items"] == [{k: str(v) for k, v in ITEM.items()}]


def _planned_hu_case(store: Store) -> str:
    reference = waiting_case(store, "arrival", "HU")
    with store.transaction() as session:  # the plan agreed: the grant planned with it
        case = get_case(session, reference)
        record_action(session, case, PLANNED, now=STORED_AT, detail={"amount_chf": "1500"})
    return reference


def test_grant_increases_and_deliveries_through_the_api(
    client: TestClient, store: Store, started: list[str]
) -> None:
    reference = _planned_hu_case(store)
    headers = bearer(store, "HU")
    increase = {"amount_chf": 900, "provider": "Vocational centre", "recommendation": "Tools."}
    path = f"{API}/cases/{reference}/grant-increases"
    answer = client.post(path, json=increase, headers=headers)
    assert (answer.status_code, answer.json()) == (202, {"reference": reference, "number": 1})
    again = client.post(path, json=increase, headers=headers)
    assert again.status_code == 409  # one request waits for its decision at a time
    assert started == [reference]
    other = client.post(path, json=increase, headers=bearer(store, "BG"))
    assert other.status_code == 404  # another mission's case, as if unknown

    path = f"{API}/cases/{reference}/grant-deliveries"
    delivery = {"what": "Tools", "delivered_on": TODAY.isoformat(), "provider": "Centre",
                "amount_chf": 1873.5}  # fmt: skip
    answer = client.post(path, json=delivery, headers=headers)
    assert answer.status_code == 422  # more than the CHF 1,500 approved so far
    assert [p["field"] for p in answer.json()["problems"]] == ["amount_chf"]
    assert "1873" not in answer.text
    answer = client.post(path, json=delivery | {"amount_chf": 1500}, headers=headers)
    assert (answer.status_code, answer.json()) == (201, {"reference": reference, "number": 1})


def test_the_portal_asks_for_an_increase_and_records_a_delivery_under_the_officer(
    client: TestClient, store: Store, started: list[str]
) -> None:
    reference = _planned_hu_case(store)
    with store.transaction() as session:
        case = get_case(session, reference)
        case.stage = "reintegration"  # the plan agreed: the return-case run moved it on
    csrf = sign_in(client, add_user("hana", "mission", "HU", actor=OPERATOR, store=store))
    page = client.get(f"/mission/cases/{reference}")
    assert f'href="/mission/cases/{reference}/grant-increase"' in page.text
    form = f"/mission/cases/{reference}/grant-increase"
    assert client.get(form).status_code == 200
    refused = client.post(form, data={"csrf": csrf, "amount_chf": "Zenobia", "provider": "P"})
    assert refused.status_code == 422
    problems = unescape(re.search(r'<div role="alert">(.*?)</div>', refused.text, re.S)[1])  # type: ignore[index]
    assert "Amount in CHF" in problems  # not a number
    assert "The provider's recommendation" in problems  # missing
    assert "Zenobia" not in problems
    sent = {"csrf": csrf, "amount_chf": "900", "provider": "Centre", "recommendation": "Tools."}
    assert client.post(form, data=sent).status_code == 200
    assert client.post(form, data=sent).status_code == 409  # the first waits for its decision
    assert started == [reference]
    delivered = client.post(
        f"/mission/cases/{reference}/grant-delivery",
        data={"csrf": csrf, "what": "Tools", "delivered_on": TODAY.isoformat(),
              "provider": "Centre", "amount_chf": "1500"},
    )  # fmt: skip
    assert delivered.status_code == 200
    with store.transaction() as session:
        events = [e for e in case_events(session, reference) if e.kind.startswith("grant-")]
    assert [(e.kind, e.actor) for e in events] == [
        ("grant-planned", "flow"),
        ("grant-increase-requested", "hana"),
        ("grant-delivered", "hana"),
    ]
