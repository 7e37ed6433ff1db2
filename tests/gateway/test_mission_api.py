"""The mission API on SQLite and PostgreSQL, as a mission's system calls it with its token:
only the mission's own cases, 401 without a live token, 404 alike for another mission's case
and an unknown one, 409 for what the case does not wait for, 422 naming fields and never
their values, and answers entered under the token's name."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from safepassage.demo.sample_answers import sample_indicators
from safepassage.gateway import strings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.orm import Case
from safepassage.models.store.workflow import set_stage
from safepassage.models.vocabulary import Stage
from safepassage.services.accounts import create_token, revoke_token
from tests.factories import PERSONAL_VALUES
from tests.gateway.missions import (
    ARRIVAL,
    OPERATOR,
    RECEPTION,
    REPORT,
    accepted_case,
    disclosures,
    followup_case,
    waiting_case,
)
from tests.stored import STORED_AT, stored_case

API = "/mission/api/v1"


@pytest.fixture
def token(store: Store) -> str:
    """The Bulgarian mission's system's token."""
    return create_token("BG", "sofia-system", actor=OPERATOR, store=store).token


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_the_case_list_holds_the_missions_cases_only_and_nothing_else(
    client: TestClient, store: Store, token: str
) -> None:
    arriving = waiting_case(store, "arrival")
    booked = accepted_case(store)
    stored_case(store, "BG")  # not accepted for a return yet: the mission was not told
    waiting_case(store, "arrival", "RO")
    answer = client.get(f"{API}/cases", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json() == {
        "cases": [
            {"reference": arriving, "stage": "arrival", "waiting_for": "arrival",
             "due": "2026-12-01T10:00:00Z"},
            {"reference": booked, "stage": "ticketing", "waiting_for": None, "due": None},
        ]
    }  # fmt: skip


def test_without_a_live_token_every_call_is_unauthorised(
    client: TestClient, store: Store, token: str
) -> None:
    reference = waiting_case(store, "arrival")
    revoked = create_token("BG", "old-system", actor=OPERATOR, store=store).token
    revoke_token("old-system", actor=OPERATOR, store=store)
    for headers in ({}, bearer("sp_not-a-token"), bearer(revoked),
                    {"authorization": f"Basic {token}"}):  # fmt: skip
        for answer in (
            client.get(f"{API}/cases", headers=headers),
            client.get(f"{API}/cases/{reference}", headers=headers),
            client.post(f"{API}/cases/{reference}/arrival", json=ARRIVAL, headers=headers),
            # No field is judged for a caller without a token, not even a wrong one.
            client.post(f"{API}/cases/{reference}/arrival", json={"x": 1}, headers=headers),
        ):
            assert answer.status_code == 401
            assert answer.headers["www-authenticate"] == "Bearer"
            assert reference not in answer.text
    assert disclosures(store, reference) == []


def test_another_missions_case_and_an_unknown_reference_are_both_not_found(
    client: TestClient, store: Store, token: str, resumed: list[dict[str, Any]]
) -> None:
    romanian = waiting_case(store, "arrival", "RO")
    answers = [
        client.get(f"{API}/cases/{romanian}", headers=bearer(token)),
        client.get(f"{API}/cases/RO-NOSUCH", headers=bearer(token)),
        client.post(f"{API}/cases/{romanian}/arrival", json=ARRIVAL, headers=bearer(token)),
        client.post(f"{API}/cases/RO-NOSUCH/arrival", json=ARRIVAL, headers=bearer(token)),
    ]
    assert [a.status_code for a in answers] == [404] * 4
    assert {a.text for a in answers} == {answers[0].text}
    assert answers[0].json()["detail"] == strings.NO_SUCH_CASE
    assert disclosures(store, romanian) == []
    assert resumed == []


def test_with_consent_a_case_holds_the_details_and_the_read_is_recorded_under_the_token(
    client: TestClient, store: Store, token: str
) -> None:
    reference = waiting_case(store, "arrival")
    answer = client.get(f"{API}/cases/{reference}", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    case = answer.json()
    assert case["waiting_for"] == "arrival"
    assert case["consented"] is True
    assert case["details"]["name"] == (
        f"{PERSONAL_VALUES['given_name']} {PERSONAL_VALUES['family_name']}"
    )
    assert case["details"]["onward destination"] == PERSONAL_VALUES["home_locality"]
    assert disclosures(store, reference) == [
        ("sofia-system", {"purpose": "mission reception", "records": ["intake"]})
    ]


def test_without_consent_a_case_holds_no_details_and_nothing_is_recorded(
    client: TestClient, store: Store, token: str
) -> None:
    reference = waiting_case(store, "arrival", consent__share_with_receiving_mission=False)
    answer = client.get(f"{API}/cases/{reference}", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.json()["details"] is None
    assert answer.json()["consented"] is False
    for value in PERSONAL_VALUES.values():
        assert value not in answer.text
    assert disclosures(store, reference) == []


def test_an_answer_is_entered_under_the_tokens_name_whatever_the_body_says(
    client: TestClient, store: Store, token: str, resumed: list[dict[str, Any]]
) -> None:
    reference = waiting_case(store, "arrival")
    answer = client.post(
        f"{API}/cases/{reference}/arrival",
        json={**ARRIVAL, "entered_by": "someone-else"},
        headers=bearer(token),
    )
    assert answer.status_code == 202
    assert answer.json() == {"reference": reference, "checkpoint": "arrival"}
    [call] = resumed
    assert call["answer"]["entered_by"] == "sofia-system"
    assert call["answer"]["arrived_at"] == "2026-12-14T14:35:00+02:00"
    assert call["expected"] == "arrival"


def test_bad_fields_are_named_and_their_values_never_repeated(
    client: TestClient, store: Store, token: str, resumed: list[dict[str, Any]]
) -> None:
    reference = waiting_case(store, "arrival")
    sent = {"arrived_at": "Zenobia at 14:35", "onward_transport": "Quillfeather",
            "accommodation": "Vratsa-Kolibrite", "given_name": "Zenobia"}  # fmt: skip
    answer = client.post(f"{API}/cases/{reference}/arrival", json=sent, headers=bearer(token))
    assert answer.status_code == 422
    problems = {p["field"]: p["message"] for p in answer.json()["problems"]}
    assert set(problems) == {"arrived_at", "onward_transport", "accommodation", "<unknown field>"}
    assert problems["onward_transport"] == "must be true or false"
    for value in ("Zenobia", "Quillfeather", "Vratsa", "14:35", "given_name"):
        assert value not in answer.text
    # What only the case's history can refuse: a grant outside the Hungarian programme.
    answer = client.post(
        f"{API}/cases/{reference}/arrival",
        json={**ARRIVAL, "recommended_grant_chf": 1873},
        headers=bearer(token),
    )
    assert answer.status_code == 422
    assert [p["field"] for p in answer.json()["problems"]] == ["recommended_grant_chf"]
    assert "1873" not in answer.text
    assert resumed == []


def test_a_follow_up_report_names_each_bad_or_missing_indicator_without_its_value(
    client: TestClient, store: Store, token: str, resumed: list[dict[str, Any]]
) -> None:
    reference = followup_case(store, asked=(1,))
    indicators = {key: point for key, point in sample_indicators(1).items() if key != "income"}
    sent = {**REPORT, "indicators": {**indicators, "safety": 7919, "Zenobia": 3}}
    path = f"{API}/cases/{reference}/followups/1"
    answer = client.post(path, json=sent, headers=bearer(token))
    assert answer.status_code == 422
    fields = {p["field"] for p in answer.json()["problems"]}
    assert fields == {"indicators.income", "indicators.safety", "indicators.<unknown field>"}
    for value in ("7919", "Zenobia"):
        assert value not in answer.text
    # What the form alone cannot refuse: indicators missing for a person reached, or given
    # for one not reached.
    answer = client.post(
        path, json={k: v for k, v in REPORT.items() if k != "indicators"}, headers=bearer(token)
    )
    assert answer.status_code == 422
    assert [p["field"] for p in answer.json()["problems"]] == ["indicators"]
    unreached = {**REPORT, "contacted": False, "wellbeing": "unreachable"}
    answer = client.post(path, json=unreached, headers=bearer(token))
    assert answer.status_code == 422
    assert [p["field"] for p in answer.json()["problems"]] == ["indicators"]
    assert resumed == []


def test_a_body_that_is_not_json_or_a_bad_follow_up_number_is_named_without_its_value(
    client: TestClient, store: Store, token: str
) -> None:
    reference = followup_case(store)
    answer = client.post(
        f"{API}/cases/{reference}/arrival",
        content=b'{"arrived_at": "Zenobia',
        headers={**bearer(token), "content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert "Zenobia" not in answer.text
    answer = client.post(f"{API}/cases/{reference}/followups/0", json=REPORT, headers=bearer(token))
    assert answer.status_code == 422
    assert [p["field"] for p in answer.json()["problems"]] == ["number"]


def test_an_answer_the_case_does_not_wait_for_is_a_conflict(
    client: TestClient, store: Store, token: str, resumed: list[dict[str, Any]]
) -> None:
    arriving = waiting_case(store, "arrival")
    reporting = followup_case(store, asked=(1,))
    for path, body in [
        (f"{arriving}/reception", RECEPTION),
        (f"{arriving}/followups/1", REPORT),
        (f"{reporting}/arrival", ARRIVAL),
        (f"{reporting}/followups/2", REPORT),
    ]:
        answer = client.post(f"{API}/cases/{path}", json=body, headers=bearer(token))
        assert answer.status_code == 409, path
        assert answer.json()["detail"] == strings.NOT_WAITING
    assert resumed == []


def test_a_follow_up_report_and_a_reception_are_accepted(
    client: TestClient, store: Store, token: str, resumed: list[dict[str, Any]]
) -> None:
    reporting = followup_case(store, asked=(1, 2))
    receiving = waiting_case(store, "reception")
    case = client.get(f"{API}/cases/{reporting}", headers=bearer(token)).json()
    assert [f["number"] for f in case["followups"]] == [1, 2]
    answer = client.post(f"{API}/cases/{reporting}/followups/2", json=REPORT, headers=bearer(token))
    assert answer.status_code == 202
    answer = client.post(
        f"{API}/cases/{receiving}/reception", json=RECEPTION, headers=bearer(token)
    )
    assert answer.status_code == 202
    assert [(c["expected"], c["attempt"]) for c in resumed] == [
        ("followup-report", 2),
        ("reception", None),
    ]
    assert resumed[1]["answer"] == {**RECEPTION, "entered_by": "sofia-system"}


def test_the_api_has_its_own_openapi_page_without_entered_by(client: TestClient) -> None:
    page = client.get(f"{API}/docs")
    assert page.status_code == 200
    assert f"{API}/openapi.json" in page.text
    schema = client.get(f"{API}/openapi.json").json()
    assert set(schema["paths"]) == {
        "/cases", "/cases/{reference}", "/cases/{reference}/reception",
        "/cases/{reference}/arrival", "/cases/{reference}/followups/{number}",
        "/cases/{reference}/plan", "/cases/{reference}/grant-increases",
        "/cases/{reference}/grant-deliveries",
    }  # fmt: skip
    bodies = schema["components"]["schemas"]
    for name in ("ReceptionBody", "ArrivalBody", "FollowUpReportBody", "PlanBody"):
        assert "entered_by" not in bodies[name]["properties"]
    assert "accepted" in bodies["ReceptionBody"]["required"]
    assert client.get("/docs").status_code == 404  # the people's pages have none


def test_a_case_that_ended_waits_for_no_report(
    client: TestClient, store: Store, token: str, resumed: list[dict[str, Any]]
) -> None:
    reference = followup_case(store, asked=(1,))
    with store.transaction() as session:
        set_stage(session, get_case(session, reference), Stage.WITHDRAWN, actor="t", now=STORED_AT)
    [line] = client.get(f"{API}/cases", headers=bearer(token)).json()["cases"]
    assert (line["stage"], line["waiting_for"], line["due"]) == ("withdrawn", None, None)
    answer = client.post(f"{API}/cases/{reference}/followups/1", json=REPORT, headers=bearer(token))
    assert answer.status_code == 409
    assert resumed == []


def test_a_case_moved_to_the_mission_outside_safepassage_stays_hidden(
    client: TestClient, store: Store, token: str
) -> None:
    romanian = waiting_case(store, "arrival", "RO")
    with store.engine.begin() as connection:  # an edit by SQL, around the store's seal
        connection.execute(
            update(Case).where(Case.reference == romanian).values(destination_country="BG")
        )
    assert client.get(f"{API}/cases", headers=bearer(token)).json() == {"cases": []}
    assert client.get(f"{API}/cases/{romanian}", headers=bearer(token)).status_code == 404
    assert disclosures(store, romanian) == []
