"""Mission officers, tokens and cases waiting for a mission, for the portal and API tests.

Cases are put straight into the store and left waiting as the return flow leaves them
(`cases.waiting_for`, a follow-up asked for), so that everything up to the resume of a run is
tested without Prefect; tests/flows/test_mission_answers.py resumes a real run.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pyotp
from sqlalchemy import select
from starlette.testclient import TestClient

from safepassage.demo.sample_answers import sample_indicators
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.followups import FollowUpState, case_followups
from safepassage.models.store.orm import CaseEvent
from safepassage.models.store.workflow import open_checkpoint, set_stage
from safepassage.models.vocabulary import Stage
from safepassage.services.accounts import Credentials
from tests.factories import TODAY
from tests.stored import STORED_AT, stored_case

OPERATOR = "cli:operator"
ORIGIN = "http://testserver"
#: A valid arrival as a mission would enter it (after the flight: the cases have none stored).
ARRIVAL = {"arrived_at": "2026-12-14T14:35:00+02:00", "onward_transport": True,
           "accommodation": "shelter"}  # fmt: skip
RECEPTION = {"accepted": True, "notes": "A shelter place is ready."}
REPORT = {"contacted": True, "wellbeing": "stable", "services_received": ["counselling"],
          "risk_of_retrafficking": "none", "next_steps": "Visit again next month.",
          "indicators": sample_indicators(1)}  # fmt: skip

_STAGE_OF = {
    "reception": Stage.TRAVEL_DOCUMENT,
    "arrival": Stage.ARRIVAL,
    "reintegration-plan": Stage.ARRIVAL,
}


def waiting_case(store: Store, checkpoint: str, programme: str = "BG", **changes: Any) -> str:
    """Store a case that waits at `checkpoint` (reception, arrival) since STORED_AT."""
    reference = stored_case(store, programme, **changes)
    with store.transaction() as session:
        case = get_case(session, reference)
        set_stage(session, case, _STAGE_OF[checkpoint], actor="t", now=STORED_AT)
        open_checkpoint(session, case, checkpoint, 1, now=STORED_AT)
    return reference


def accepted_case(store: Store, programme: str = "BG", **changes: Any) -> str:
    """Store a case accepted for return that waits for nothing from the mission."""
    reference = stored_case(store, programme, **changes)
    with store.transaction() as session:
        set_stage(session, get_case(session, reference), Stage.TICKETING, actor="t", now=STORED_AT)
    return reference


def followup_case(store: Store, *, asked: tuple[int, ...] = (1,)) -> str:
    """Store an arrived case whose follow-ups `asked` wait for the mission's report."""
    reference = stored_case(store, "BG", arrived_on=TODAY - dt.timedelta(days=40))
    with store.transaction() as session:
        for row in case_followups(session, get_case(session, reference)):
            if row.number in asked:
                row.state = FollowUpState.WAITING.value
    return reference


def code_now(credentials: Credentials) -> str:
    return pyotp.TOTP(pyotp.parse_uri(credentials.totp_uri).secret).now()


def form_csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def sign_in(client: TestClient, credentials: Credentials) -> str:
    """Sign in through the form as a browser would; return the session's CSRF token."""
    answer = client.post(
        "/login",
        data={"csrf": form_csrf(client.get("/login").text), "username": credentials.name,
              "password": credentials.password, "code": code_now(credentials)},
    )  # fmt: skip
    assert (answer.status_code, answer.headers["location"]) == (303, "/"), answer.text
    return form_csrf(client.get("/").text)


def disclosures(store: Store, reference: str) -> list[tuple[str, dict[str, Any]]]:
    """Return the case's disclosure events as (actor, detail)."""
    with store.transaction() as session:
        events = session.scalars(
            select(CaseEvent)
            .where(CaseEvent.reference == reference, CaseEvent.kind == "personal-data-revealed")
            .order_by(CaseEvent.seq)
        )
        return [(e.actor, e.detail) for e in events]


def waiting_for(store: Store, reference: str) -> str | None:
    with store.transaction() as session:
        return get_case(session, reference).waiting_for
