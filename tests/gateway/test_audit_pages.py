"""The auditors' pages: the log's verification and a case's audit trail, read-only, and for
auditors and coordinators only; a tampered log shows as broken."""

from __future__ import annotations

from sqlalchemy import text
from starlette.testclient import TestClient

from safepassage.models.store.db import Store
from safepassage.services.accounts import add_user
from safepassage.services.mission import mission_case
from tests.factories import PERSONAL_VALUES
from tests.gateway.missions import OPERATOR, accepted_case, sign_in
from tests.stored import stored_case


def test_an_auditor_sees_the_verification_and_a_cases_trail_and_nothing_personal(
    client: TestClient, store: Store
) -> None:
    reference = accepted_case(store, "BG")
    mission_case(reference, viewer="officer-b", country="BG", store=store)
    sign_in(client, add_user("audra", "auditor", actor=OPERATOR, store=store))
    page = client.get(f"/audit/?reference={reference.lower()}")
    assert page.status_code == 200
    assert "The event log verifies" in page.text
    assert "officer-b" in page.text  # who saw the case's records
    for value in PERSONAL_VALUES.values():
        assert value not in page.text
    unknown = client.get("/audit/?reference=<script>x</script>")
    assert "There is no case with that reference." in unknown.text
    assert "<script>x" not in unknown.text


def test_a_rewritten_log_shows_as_broken(client: TestClient, store: Store) -> None:
    stored_case(store, "RO")
    with store.transaction() as session:
        session.execute(text("UPDATE case_events SET actor = 'someone else' WHERE seq = 2"))
    sign_in(client, add_user("audra", "auditor", actor=OPERATOR, store=store))
    page = client.get("/audit/")
    assert "does NOT verify" in page.text
    assert "breaks at event 2" in page.text


def test_a_mission_officer_or_no_session_does_not_reach_the_audit_pages(
    client: TestClient, store: Store
) -> None:
    assert client.get("/audit/").headers["location"] == "/login"
    sign_in(client, add_user("ioana", "mission", "RO", actor=OPERATOR, store=store))
    assert client.get("/audit/").status_code == 403
