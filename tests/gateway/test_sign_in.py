"""The gateway's sign-in on SQLite and PostgreSQL, through a real store: signing in and out,
server-side sessions, the lock after five failures, codes used once, and CSRF and Origin
checks on every POST."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from safepassage.gateway.app import create_app
from safepassage.gateway.identity import SESSION_COOKIE
from safepassage.gateway.strings import SIGN_IN_FAILED
from safepassage.models.store.db import Store
from safepassage.models.store.orm import CaseEvent, GatewaySession
from safepassage.models.store.verification import verify_store
from safepassage.services.accounts import Credentials, add_user, disable_user
from tests.gateway.missions import code_now, form_csrf

OPERATOR = "cli:operator"
ORIGIN = "http://testserver"


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store), follow_redirects=False) as opened:
        yield opened


@pytest.fixture
def ana(store: Store) -> Credentials:
    return add_user("ana", "coordinator", actor=OPERATOR, store=store)


def sign_in(
    client: TestClient, name: str, password: str, code: str, **headers: str
) -> tuple[int, str]:
    """Open the form, send it as a browser would; return the status and the page or location."""
    csrf = form_csrf(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"csrf": csrf, "username": name, "password": password, "code": code},
        headers=headers,
    )
    return answer.status_code, answer.headers.get("location", answer.text)


def signed_in(client: TestClient, credentials: Credentials) -> str:
    """Sign in; return the home page's CSRF token."""
    status, where = sign_in(client, credentials.name, credentials.password, code_now(credentials))
    assert (status, where) == (303, "/")
    return form_csrf(client.get("/").text)


def kinds(store: Store) -> list[tuple[str, str, dict[str, object]]]:
    with store.transaction() as session:
        events = session.scalars(
            select(CaseEvent).where(CaseEvent.reference.is_(None)).order_by(CaseEvent.seq)
        )
        return [(e.kind, e.actor, e.detail) for e in events]


def test_signing_in_shows_who_and_what_role(client: TestClient, ana: Credentials) -> None:
    status, where = sign_in(client, "ana", ana.password, code_now(ana), origin=ORIGIN)
    assert (status, where) == (303, "/")
    cookie = next(c for c in client.cookies.jar if c.name == SESSION_COOKIE)
    assert cookie.path == "/"
    assert cookie.has_nonstandard_attr("HttpOnly")
    home = client.get("/")
    assert home.status_code == 200
    assert "ana" in home.text
    assert "coordinator" in home.text
    assert 'href="/prefect/"' in home.text  # a coordinator is shown the way to the Prefect UI


def test_the_session_cookie_is_http_only_strict_and_secure_under_tls(
    store: Store, ana: Credentials
) -> None:
    with TestClient(
        create_app(store), base_url="https://testserver", follow_redirects=False
    ) as client:
        csrf = form_csrf(client.get("/login").text)
        answer = client.post(
            "/login",
            data={"csrf": csrf, "username": "ana", "password": ana.password, "code": code_now(ana)},
        )
    assert answer.status_code == 303
    set_cookie = answer.headers["set-cookie"].lower()
    assert f"{SESSION_COOKIE}=" in set_cookie
    for attribute in ("httponly", "samesite=strict", "secure", "path=/"):
        assert attribute in set_cookie


def test_only_the_hash_of_a_session_id_is_stored(
    client: TestClient, store: Store, ana: Credentials
) -> None:
    signed_in(client, ana)
    session_id = client.cookies[SESSION_COOKIE]
    with store.transaction() as session:
        stored = session.scalars(select(GatewaySession.id_hash)).all()
    assert len(stored) == 1
    assert session_id not in stored[0]


def test_without_a_session_every_page_leads_to_the_sign_in_form(client: TestClient) -> None:
    answer = client.get("/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    client.cookies.set(SESSION_COOKIE, "made-up")
    answer = client.get("/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")


def test_a_wrong_password_is_refused_with_one_calm_message_that_echoes_nothing(
    client: TestClient, ana: Credentials
) -> None:
    status, page = sign_in(client, "ana", "not-the-password", "123456")
    assert status == 401
    assert SIGN_IN_FAILED in page
    assert "not-the-password" not in page
    assert "123456" not in page
    assert SESSION_COOKIE not in client.cookies


def test_five_wrong_passwords_lock_even_the_right_one_out(
    client: TestClient, store: Store, ana: Credentials
) -> None:
    for _ in range(5):
        assert sign_in(client, "ana", "wrong password", code_now(ana))[0] == 401
    status, page = sign_in(client, "ana", ana.password, code_now(ana))
    assert status == 401
    assert SIGN_IN_FAILED in page
    assert client.get("/").status_code == 303
    log = kinds(store)
    assert [d["reason"] for k, _, d in log if k == "sign-in-failed"] == ["wrong-password"] * 5 + [
        "locked"
    ]
    assert [(k, a) for k, a, _ in log if k == "account-locked"] == [("account-locked", "ana")]
    assert not any(k == "sign-in" for k, _, _ in log)


def test_a_code_is_accepted_once(client: TestClient, store: Store, ana: Credentials) -> None:
    code = code_now(ana)
    assert sign_in(client, "ana", ana.password, code) == (303, "/")
    client.cookies.clear()
    status, page = sign_in(client, "ana", ana.password, code)
    assert status == 401
    assert SIGN_IN_FAILED in page
    assert kinds(store)[-1][2] == {"reason": "code-used-before"}


def test_the_sign_in_form_needs_its_own_token(client: TestClient, ana: Credentials) -> None:
    client.get("/login")
    answer = client.post(
        "/login",
        data={"csrf": "1.forged.token", "username": "ana", "password": ana.password,
              "code": code_now(ana)},
    )  # fmt: skip
    assert answer.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_signing_in_from_another_origin_is_refused(client: TestClient, ana: Credentials) -> None:
    status, _ = sign_in(
        client, "ana", ana.password, code_now(ana), origin="https://elsewhere.example"
    )
    assert status == 403
    assert SESSION_COOKIE not in client.cookies


def test_signing_out_needs_the_csrf_token(client: TestClient, ana: Credentials) -> None:
    csrf = signed_in(client, ana)
    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf": "not-it"}).status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    assert client.post("/logout", data={"csrf": csrf}).status_code == 303


def test_a_post_from_another_origin_is_refused(client: TestClient, ana: Credentials) -> None:
    csrf = signed_in(client, ana)
    for header in ({"origin": "https://elsewhere.example"},
                   {"referer": "https://elsewhere.example/page"}, {"origin": "null"}):  # fmt: skip
        assert client.post("/logout", data={"csrf": csrf}, headers=header).status_code == 403
    assert client.get("/").status_code == 200
    answer = client.post("/logout", data={"csrf": csrf}, headers={"origin": ORIGIN})
    assert answer.status_code == 303


def test_a_session_cookie_replayed_after_signing_out_is_refused(
    client: TestClient, store: Store, ana: Credentials
) -> None:
    csrf = signed_in(client, ana)
    session_id = client.cookies[SESSION_COOKIE]
    assert client.post("/logout", data={"csrf": csrf}).headers["location"] == "/login"
    client.cookies.set(SESSION_COOKIE, session_id)
    answer = client.get("/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    assert [(k, a) for k, a, _ in kinds(store) if k in {"sign-in", "sign-out"}] == [
        ("sign-in", "ana"),
        ("sign-out", "ana"),
    ]
    with store.transaction() as session:
        assert verify_store(session, store.master_key, store.anchor).intact


def test_disabling_the_account_ends_its_session(
    client: TestClient, store: Store, ana: Credentials
) -> None:
    signed_in(client, ana)
    assert client.get("/").status_code == 200
    disable_user("ana", actor=OPERATOR, store=store)
    answer = client.get("/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    with store.transaction() as session:
        assert session.scalars(select(GatewaySession.ended_at)).one() is not None
