"""The mission portal on SQLite and PostgreSQL, through a real store and a browser's requests:
a mission officer sees only the mission's cases, details only with consent (each view
recorded), answers only what the case waits for, and nothing gets past the CSRF and Origin
checks or confirms another mission's case exists."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from starlette.testclient import TestClient

from safepassage.demo.sample_answers import sample_indicators
from safepassage.gateway import strings
from safepassage.models.clock import utcnow
from safepassage.models.errors import ConfigurationError
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.erasure import erase_case
from safepassage.models.vocabulary import ErasureReason
from safepassage.services.accounts import Credentials, add_user
from tests.factories import PERSONAL_VALUES
from tests.gateway.missions import (
    OPERATOR,
    ORIGIN,
    accepted_case,
    disclosures,
    followup_case,
    sign_in,
    waiting_case,
    waiting_for,
)
from tests.stored import stored_case

#: The indicators as the form's radio buttons send them.
INDICATOR_FORM = {f"indicators.{key}": str(point) for key, point in sample_indicators(1).items()}
ARRIVAL_FORM = {"arrived_at": "2026-12-14T14:35", "arrived_at_offset": "+02:00",
                "onward_transport": "yes", "accommodation": "shelter"}  # fmt: skip


@pytest.fixture
def officer(store: Store) -> Credentials:
    return add_user("ola", "mission", "BG", actor=OPERATOR, store=store)


@pytest.fixture
def csrf(client: TestClient, officer: Credentials) -> str:
    """Sign the Bulgarian mission's officer in; return the session's CSRF token."""
    return sign_in(client, officer)


def case_rows(page: str) -> list[str]:
    """Return the rows of the case list's table."""
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    return re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S) if body else []


def alert(page: str) -> str:
    """Return the problems a refused form lists (not the inputs it keeps)."""
    found = re.search(r'<div role="alert">(.*?)</div>', page, re.S)
    assert found is not None, page
    return found.group(1)


def test_the_officer_sees_only_the_missions_cases_with_what_each_waits_for(
    client: TestClient, store: Store, csrf: str
) -> None:
    arriving = waiting_case(store, "arrival")
    booked = accepted_case(store)
    not_yet_accepted = stored_case(store, "BG")
    romanian = waiting_case(store, "arrival", "RO")
    page = client.get("/mission/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    rows = case_rows(page.text)
    assert len(rows) == 2
    assert arriving in rows[0]  # waiting for the mission: first
    assert strings.WAITING_FOR["arrival"] in rows[0]
    assert "2026-12-01 10:00 UTC" in rows[0]  # taken in 29 Nov at 10:00, two days to arrive
    assert booked in rows[1]
    assert strings.NOTHING_WAITING in rows[1]
    for other in (not_yet_accepted, romanian):
        assert other not in page.text
    for value in PERSONAL_VALUES.values():
        assert value not in page.text


def test_another_missions_case_and_an_unknown_reference_are_both_not_found(
    client: TestClient, store: Store, csrf: str
) -> None:
    romanian = waiting_case(store, "arrival", "RO")
    pages = [
        client.get(f"/mission/cases/{romanian}"),
        client.get("/mission/cases/BG-NOSUCH"),
        client.get(f"/mission/cases/{romanian}/arrival"),
        client.post(f"/mission/cases/{romanian}/arrival", data={"csrf": csrf, **ARRIVAL_FORM}),
        client.post("/mission/cases/BG-NOSUCH/arrival", data={"csrf": csrf, **ARRIVAL_FORM}),
        client.get(f"/mission/cases/{romanian}/followups/1"),
    ]
    assert {p.status_code for p in pages} == {404}
    assert {p.text for p in pages} == {pages[0].text}  # the same page: nothing tells them apart
    assert strings.NO_SUCH_CASE in pages[0].text
    assert waiting_for(store, romanian) == "arrival"


def test_without_a_session_the_portal_leads_to_the_sign_in_form(
    client: TestClient, store: Store
) -> None:
    reference = waiting_case(store, "arrival")
    for path in ("/mission/", f"/mission/cases/{reference}", f"/mission/cases/{reference}/arrival"):
        answer = client.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    answer = client.post(f"/mission/cases/{reference}/arrival", data=ARRIVAL_FORM)
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")


def test_a_coordinator_is_refused_the_portal(client: TestClient, store: Store) -> None:
    reference = waiting_case(store, "arrival")
    csrf = sign_in(client, add_user("cora", "coordinator", actor=OPERATOR, store=store))
    for answer in (
        client.get("/mission/"),
        client.get(f"/mission/cases/{reference}"),
        client.post(f"/mission/cases/{reference}/arrival", data={"csrf": csrf, **ARRIVAL_FORM}),
    ):
        assert answer.status_code == 403
        assert strings.NOT_FOR_YOUR_ROLE in answer.text
    assert disclosures(store, reference) == []
    assert waiting_for(store, reference) == "arrival"


def test_with_consent_the_case_page_shows_the_details_and_records_the_view(
    client: TestClient, store: Store, csrf: str
) -> None:
    reference = waiting_case(store, "arrival")
    page = client.get(f"/mission/cases/{reference}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert PERSONAL_VALUES["family_name"] in page.text
    assert PERSONAL_VALUES["home_locality"] in page.text
    assert strings.DETAILS_CONSENTED in page.text
    assert f'href="/mission/cases/{reference}/arrival"' in page.text
    assert disclosures(store, reference) == [
        ("ola", {"purpose": "mission reception", "records": ["intake"]})
    ]
    client.get(f"/mission/cases/{reference}")
    assert len(disclosures(store, reference)) == 2  # every view, not only the first


def test_without_consent_the_case_page_shows_no_details_and_records_nothing(
    client: TestClient, store: Store, csrf: str
) -> None:
    reference = waiting_case(store, "arrival", consent__share_with_receiving_mission=False)
    page = client.get(f"/mission/cases/{reference}")
    assert page.status_code == 200
    assert strings.DETAILS_NOT_CONSENTED in page.text
    for value in PERSONAL_VALUES.values():
        assert value not in page.text
    assert disclosures(store, reference) == []


def test_opening_a_form_reveals_nothing(client: TestClient, store: Store, csrf: str) -> None:
    reference = waiting_case(store, "arrival")
    page = client.get(f"/mission/cases/{reference}/arrival")
    assert page.status_code == 200
    assert 'name="accommodation"' in page.text
    assert 'name="entered_by"' not in page.text
    for value in PERSONAL_VALUES.values():
        assert value not in page.text
    assert disclosures(store, reference) == []


def test_an_erased_case_is_not_found_and_reveals_nothing(
    client: TestClient, store: Store, csrf: str
) -> None:
    reference = accepted_case(store)
    with store.transaction() as session:
        erase_case(
            session, store.master_key, get_case(session, reference), actor=OPERATOR,
            now=utcnow(), force=True, reason=ErasureReason.PERSON_REQUEST,
        )  # fmt: skip
    assert reference not in client.get("/mission/").text
    assert client.get(f"/mission/cases/{reference}").status_code == 404
    assert disclosures(store, reference) == []


def test_a_form_without_its_csrf_token_is_refused(
    client: TestClient, store: Store, csrf: str, resumed: list[dict[str, Any]]
) -> None:
    reference = waiting_case(store, "arrival")
    for data in (ARRIVAL_FORM, {"csrf": "not-it", **ARRIVAL_FORM}):
        answer = client.post(f"/mission/cases/{reference}/arrival", data=data)
        assert answer.status_code == 403
        assert strings.REFUSED in unescape(answer.text)
    assert resumed == []
    assert waiting_for(store, reference) == "arrival"


def test_a_form_sent_from_another_origin_is_refused(
    client: TestClient, store: Store, csrf: str, resumed: list[dict[str, Any]]
) -> None:
    reference = waiting_case(store, "arrival")
    for header in ({"origin": "https://elsewhere.example"},
                   {"referer": "https://elsewhere.example/form"}):  # fmt: skip
        answer = client.post(
            f"/mission/cases/{reference}/arrival", data={"csrf": csrf, **ARRIVAL_FORM},
            headers=header,
        )  # fmt: skip
        assert answer.status_code == 403
    assert resumed == []


def test_an_answer_is_entered_under_the_officers_name_whatever_the_form_says(
    client: TestClient, store: Store, csrf: str, resumed: list[dict[str, Any]]
) -> None:
    reference = waiting_case(store, "arrival")
    answer = client.post(
        f"/mission/cases/{reference}/arrival",
        data={"csrf": csrf, **ARRIVAL_FORM, "entered_by": "someone-else"},
        headers={"origin": ORIGIN},
    )
    assert answer.status_code == 200
    assert strings.SENT in answer.text
    assert resumed == [
        {
            "reference": reference,
            "answer": {
                "arrived_at": "2026-12-14T14:35+02:00",
                "onward_transport": "yes",
                "accommodation": "shelter",
                "entered_by": "ola",
            },
            "expected": "arrival",
            "attempt": None,
        }
    ]


def test_a_refused_answer_names_the_fields_and_never_repeats_the_values(
    client: TestClient, store: Store, csrf: str, resumed: list[dict[str, Any]]
) -> None:
    reference = waiting_case(store, "arrival")
    answer = client.post(
        f"/mission/cases/{reference}/arrival",
        data={"csrf": csrf, "arrived_at": "Zenobia 14:35", "arrived_at_offset": "+02:00",
              "accommodation": "with Quillfeather", "recommended_grant_chf": "1800"},
    )  # fmt: skip
    assert answer.status_code == 422
    problems = alert(answer.text)
    for field in ("arrived_at", "onward_transport", "accommodation"):
        assert strings.LABELS[field] in problems
    assert "Zenobia" not in problems
    assert "Quillfeather" not in problems
    assert 'value="Zenobia 14:35"' in answer.text  # kept in its input, to be corrected
    assert resumed == []
    # The form's own fields are right now; the case's history refuses a grant outside Hungary.
    answer = client.post(
        f"/mission/cases/{reference}/arrival",
        data={"csrf": csrf, **ARRIVAL_FORM, "recommended_grant_chf": "1800"},
    )
    assert answer.status_code == 422
    assert strings.LABELS["recommended_grant_chf"] in alert(answer.text)
    assert "1800" not in alert(answer.text)
    assert resumed == []


def test_an_answer_the_case_does_not_wait_for_is_refused(
    client: TestClient, store: Store, csrf: str, resumed: list[dict[str, Any]]
) -> None:
    reference = waiting_case(store, "arrival")
    assert client.get(f"/mission/cases/{reference}/reception").status_code == 409
    answer = client.post(
        f"/mission/cases/{reference}/reception", data={"csrf": csrf, "accepted": "yes"}
    )
    assert answer.status_code == 409
    assert strings.NOT_WAITING in answer.text
    assert resumed == []


def test_a_reception_is_answered_yes_or_no_with_notes(
    client: TestClient, store: Store, csrf: str, resumed: list[dict[str, Any]]
) -> None:
    reference = waiting_case(store, "reception")
    assert strings.WAITING_FOR["reception"] in client.get("/mission/").text
    form = client.get(f"/mission/cases/{reference}/reception")
    assert form.status_code == 200
    assert 'name="accepted" value="no"' in form.text
    answer = client.post(
        f"/mission/cases/{reference}/reception",
        data={"csrf": csrf, "accepted": "no", "notes": "No shelter place this month."},
    )
    assert answer.status_code == 200
    assert resumed[0]["answer"] == {
        "accepted": "no", "notes": "No shelter place this month.", "entered_by": "ola"
    }  # fmt: skip


def test_follow_up_reports_are_asked_by_number_with_services_as_checkboxes(
    client: TestClient, store: Store, csrf: str, resumed: list[dict[str, Any]]
) -> None:
    reference = followup_case(store, asked=(1,))
    [row] = case_rows(client.get("/mission/").text)
    assert strings.WAITING_FOR["followup-report"] in row
    assert "2026-12-05 00:00 UTC" in row  # due 20 Nov, and 14 days to report: to 4 Dec
    assert (
        f"/mission/cases/{reference}/followups/1" in client.get(f"/mission/cases/{reference}").text
    )
    form = client.get(f"/mission/cases/{reference}/followups/1")
    assert form.status_code == 200
    assert form.text.count('type="checkbox" name="services_received"') == 12
    assert form.text.count('type="radio" name="indicators.') == 15 * 5
    assert "How regular is the person's income?" in unescape(form.text)
    assert client.get(f"/mission/cases/{reference}/followups/2").status_code == 409
    assert client.get(f"/mission/cases/{reference}/followups/x").status_code == 404
    answer = client.post(
        f"/mission/cases/{reference}/followups/1",
        data={"csrf": csrf, "contacted": "yes", "wellbeing": "improving",
              "services_received": ["counselling", "housing"], "risk_of_retrafficking": "low",
              "next_steps": "Visit again next month.", **INDICATOR_FORM},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert resumed[0]["attempt"] == 1
    assert resumed[0]["answer"]["services_received"] == ["counselling", "housing"]
    # As typed: the flow's form parses them, as it parses "yes".
    assert resumed[0]["answer"]["indicators"] == {
        key: str(point) for key, point in sample_indicators(1).items()
    }
    assert resumed[0]["answer"]["entered_by"] == "ola"
    refused = client.post(
        f"/mission/cases/{reference}/followups/2",
        data={"csrf": csrf, "contacted": "no", "wellbeing": "unreachable",
              "risk_of_retrafficking": "none", "next_steps": "Try again."},
    )  # fmt: skip
    assert refused.status_code == 409


def test_a_follow_up_report_names_each_indicator_left_out_by_its_question(
    client: TestClient, store: Store, csrf: str, resumed: list[dict[str, Any]]
) -> None:
    reference = followup_case(store, asked=(1,))
    partial = {k: v for k, v in INDICATOR_FORM.items() if k != "indicators.income"}
    base = {"csrf": csrf, "wellbeing": "stable", "risk_of_retrafficking": "none",
            "next_steps": "Visit again next month."}  # fmt: skip
    refused = client.post(
        f"/mission/cases/{reference}/followups/1", data={**base, "contacted": "yes", **partial}
    )
    assert refused.status_code == 422
    assert "How regular is the person's income? This answer is required." in unescape(
        alert(refused.text)
    )
    # What was ticked comes back ticked, so nothing is typed twice.
    assert 'name="indicators.safety" value="2" checked' in refused.text
    none_given = client.post(
        f"/mission/cases/{reference}/followups/1", data={**base, "contacted": "yes"}
    )
    assert none_given.status_code == 422
    assert strings.LABELS["indicators"] in unescape(alert(none_given.text))
    unreached = client.post(
        f"/mission/cases/{reference}/followups/1",
        data={**base, "contacted": "no", "wellbeing": "unreachable", **INDICATOR_FORM},
    )
    assert unreached.status_code == 422
    assert "must be left out" in unescape(alert(unreached.text))
    assert resumed == []


def test_when_the_workflow_server_does_not_answer_the_officer_is_told_to_try_again(
    client: TestClient, store: Store, csrf: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*_: Any, **__: Any) -> None:
        raise ConfigurationError("the Prefect server does not answer")

    monkeypatch.setattr("safepassage.services.mission.answer_checkpoint", unreachable)
    reference = waiting_case(store, "arrival")
    answer = client.post(f"/mission/cases/{reference}/arrival", data={"csrf": csrf, **ARRIVAL_FORM})
    assert answer.status_code == 503
    assert strings.UNAVAILABLE in answer.text
    assert "Prefect" not in answer.text


def test_the_home_page_leads_a_mission_officer_to_the_portal(client: TestClient, csrf: str) -> None:
    assert 'href="/mission/"' in client.get("/").text
