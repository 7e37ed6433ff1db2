"""Where the gateway listens: loopback in clear, anywhere else only under TLS, a taken port named.

These start the real uvicorn server on a real socket (the TLS one with a throwaway CA) and sign
in over it, so the cookie's Secure flag is the one a browser would get.
"""

from __future__ import annotations

import re
import socket
import ssl
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from safepassage.gateway.app import create_app
from safepassage.gateway.identity import SESSION_COOKIE
from safepassage.gateway.server import GatewayBind, GatewayServer
from safepassage.models.errors import ConfigurationError
from safepassage.models.store.db import Store
from safepassage.services.accounts import add_user
from tests.cli.helpers import run_cli
from tests.gateway.missions import OPERATOR, code_now, form_csrf
from tests.receivers import TestCertificates, free_port


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_listening_beyond_this_machine_without_tls_is_refused(host: str) -> None:
    with pytest.raises(ConfigurationError, match=r"--gateway-host: .* needs TLS"):
        GatewayBind(host, free_port()).check()


def test_a_certificate_without_its_key_or_a_broken_one_is_named(tmp_path: Path) -> None:
    certificates = TestCertificates.create(tmp_path, "127.0.0.1")
    with pytest.raises(ConfigurationError, match="--certfile and --keyfile: give both"):
        GatewayBind("127.0.0.1", free_port(), certfile=certificates.cert).check()
    broken = tmp_path / "broken.key"
    broken.write_text("not a key")
    with pytest.raises(ConfigurationError, match=r"--certfile/--keyfile: .* cannot be read"):
        GatewayBind("127.0.0.1", free_port(), certificates.cert, broken).check()


def test_serve_refuses_a_public_gateway_in_clear_before_starting_anything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    refused = run_cli(
        "serve", "--gateway-host", "0.0.0.0", env={"SAFEPASSAGE_HOME": str(home)}
    )  # fmt: skip
    assert refused.code == 2
    assert "--gateway-host" in refused.stderr
    assert not (home / "server.json").exists()


def test_a_taken_port_is_named(sqlite_store: Store) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"--gateway-port {port}: something already"):
            GatewayServer.start(create_app(sqlite_store), GatewayBind("127.0.0.1", port))


def test_under_tls_the_session_cookie_is_secure(sqlite_store: Store, tmp_path: Path) -> None:
    certificates = TestCertificates.create(tmp_path, "127.0.0.1")
    ana = add_user("ana", "coordinator", actor=OPERATOR, store=sqlite_store)
    bind = GatewayBind("127.0.0.1", free_port(), certificates.cert, certificates.key)
    server = GatewayServer.start(create_app(sqlite_store, origin=bind.origin), bind)
    try:
        trusted = ssl.create_default_context(cafile=certificates.ca)
        with httpx.Client(base_url=bind.origin, verify=trusted) as browser:
            page = browser.get("/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf is not None
            signed_in = browser.post(
                "/login",
                data={"csrf": csrf.group(1), "username": "ana", "password": ana.password,
                      "code": code_now(ana)},
                headers={"Origin": bind.origin},
            )  # fmt: skip
            assert signed_in.status_code == 303
            cookie = signed_in.headers["set-cookie"]
            assert cookie.startswith(f"{SESSION_COOKIE}=")
            assert "Secure" in cookie
            assert "HttpOnly" in cookie
            assert "SameSite=strict" in cookie
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not answered on the TLS port
            httpx.get(f"http://127.0.0.1:{bind.port}/login", timeout=5)
    finally:
        server.stop()


def test_behind_a_tls_proxy_the_session_cookie_is_secure_too(sqlite_store: Store) -> None:
    ana = add_user("ana", "coordinator", actor=OPERATOR, store=sqlite_store)
    origin = "https://safepassage.office.example"
    app = create_app(sqlite_store, origin=origin)
    # The proxy speaks TLS to the browser and plain HTTP to the gateway on loopback; the
    # browser's cookie is handed on as it came (a plain-HTTP client would withhold it).
    with TestClient(app, follow_redirects=False) as proxy:
        form = proxy.get("/login")
        assert "Secure" in form.headers["set-cookie"]
        login_cookie = form.headers["set-cookie"].split(";")[0]
        signed_in = proxy.post(
            "/login",
            data={"csrf": form_csrf(form.text), "username": "ana", "password": ana.password,
                  "code": code_now(ana)},
            headers={"Origin": origin, "Cookie": login_cookie},
        )  # fmt: skip
    assert signed_in.status_code == 303
    assert "Secure" in signed_in.headers["set-cookie"]
