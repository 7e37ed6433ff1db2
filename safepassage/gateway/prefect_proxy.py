"""The coordinators' Prefect UI under /prefect/: the UI's files, its settings, its API proxied.

Only a signed-in coordinator gets past `CoordinatorGate`; without a session a page redirects
to the sign-in form and an API call gets 401, and any other role gets 403. Each API request is
judged by prefect_rules.py before it is forwarded; a state-changing one must also come from
the gateway's own origin and carry the gateway's CSRF token, which the UI fetches from
/prefect/api/csrf-token (Prefect's own protocol, answered here and not by the server).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from safepassage.gateway.forms import own_origin, same_origin
from safepassage.gateway.identity import Who
from safepassage.gateway.prefect_rules import REFUSED, judge, signed_resume
from safepassage.gateway.prefect_ui import BASE, BASES, prepare_bundles, ui_settings
from safepassage.models.roles import Role
from safepassage.services.accounts import LiveSession, Store, record_run_action

logger = logging.getLogger("safepassage.gateway.prefect")


#: Far above anything the UI sends (a resume form's answer is a few hundred bytes).
MAX_BODY_BYTES = 1024 * 1024
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: Headers passed on to Prefect: what describes the request, never the browser's credentials.
_FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "x-prefect-api-version")
_FORWARDED_RESPONSE_HEADERS = ("content-type",)
#: How long the UI keeps a CSRF token before it asks again (the session's idle limit decides
#: whether it is still honoured).
_CSRF_LIFETIME = dt.timedelta(minutes=30)
_STATE_ICONS = tuple(
    f"{state}.svg"
    for state in ("cancelled", "completed", "crashed", "failed", "paused", "pending", "running",
                  "scheduled")
)  # fmt: skip


@dataclass(frozen=True)
class PrefectUpstream:
    """The Prefect server the gateway fronts: its API address, and its auth string if any."""

    api_url: str
    auth_string: str | None = None

    def headers(self) -> dict[str, str]:
        if not self.auth_string:
            return {}
        token = base64.b64encode(self.auth_string.encode()).decode()
        return {"Authorization": f"Basic {token}"}


class CoordinatorGate:
    """Let only coordinators' sessions reach anything under /prefect."""

    def __init__(self, app: ASGIApp, who: Who) -> None:
        self.app, self.who = app, who

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] not in {"http", "websocket"} or not (
            path == BASE or path.startswith(f"{BASE}/")
        ):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":  # the UI needs none; nothing is proxied that way
            await send({"type": "websocket.close", "code": 1008})
            return
        request = Request(scope, receive)
        person = await self.who(request)
        if person is None:
            refusal: Response = (
                JSONResponse({"detail": "Sign in first."}, status_code=401)
                if path.startswith(f"{BASE}/api/")
                else RedirectResponse("/login", status_code=303)
            )
        elif person.role != Role.COORDINATOR:
            refusal = JSONResponse({"detail": "The Prefect UI is for coordinators."}, 403)
        else:
            scope.setdefault("state", {})["coordinator"] = person
            await self.app(scope, receive, send)
            return
        await refusal(scope, receive, send)


def csrf_token_for(person: LiveSession, client: str) -> str:
    """Return the UI's CSRF token for one of the coordinator's browser tabs (`client`)."""
    key = person.csrf_token.encode()
    return hmac.new(key, f"prefect-ui:{client}".encode(), hashlib.sha256).hexdigest()


def add_prefect_ui(
    app: FastAPI,
    *,
    store: Store,
    who: Who,
    upstream: PrefectUpstream,
    ui_folder: Path,
    origin: str | None,
) -> None:
    """Serve the Prefect UI under /prefect/ for coordinators, its API proxied to `upstream`."""
    bundles = prepare_bundles(ui_folder)
    settings = ui_settings(list(bundles))
    app.add_middleware(CoordinatorGate, who=who)

    @app.get(f"{BASE}/ui-settings", include_in_schema=False)
    async def show_ui_settings() -> JSONResponse:
        return JSONResponse(settings)

    @app.get(f"{BASE}/api/csrf-token", include_in_schema=False)
    async def issue_csrf_token(request: Request, client: str = "") -> JSONResponse:
        if not client or len(client) > 100:
            return JSONResponse({"detail": "client: give the UI's client id"}, 422)
        person: LiveSession = request.state.coordinator
        expires = dt.datetime.now(dt.UTC) + _CSRF_LIFETIME
        return JSONResponse(
            {"token": csrf_token_for(person, client), "client": client,
             "expiration": expires.isoformat()}
        )  # fmt: skip

    @app.api_route(
        f"{BASE}/api/{{path:path}}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        include_in_schema=False,
    )
    async def forward(request: Request, path: str) -> Response:
        person: LiveSession = request.state.coordinator
        body = await _body(request)
        if body is None:
            return JSONResponse({"detail": "The request is too large."}, 413)
        document = _json(body)
        verdict = judge(request.method, f"/{path}", document)
        if not verdict.allowed:
            logger.warning("refused %s %s to %s", request.method, f"/{path}", person.name)
            return JSONResponse({"detail": REFUSED}, 403)
        if request.method not in {"GET", "HEAD", "OPTIONS"} and not _genuine(
            request, person, origin
        ):
            return JSONResponse({"detail": "Refused: not from this site's own pages."}, 403)
        if verdict.action == "resume":
            body = json.dumps(signed_resume(document, person.name)).encode()
        response = await _send(upstream, request, path, body)
        if verdict.action in {"cancel", "start"} and response.status_code < 300:
            target = path.split("/")[1]
            await run_in_threadpool(
                record_run_action, person.name, verdict.action, target, store=store
            )
        return response

    @app.get(f"{BASE}/", include_in_schema=False)
    async def default_ui(request: Request) -> Response:
        # As Prefect's own server does: the base opens the default UI unless the browser chose
        # the other one (the UI's switch sets this cookie); deeper paths stay where they are.
        chosen = request.cookies.get("prefect_ui_version")
        preferred = chosen if chosen in bundles else settings["default_ui"]
        if preferred == "v2" and "v2" in bundles:
            return RedirectResponse(f"{BASES['v2']}/", status_code=307)
        return FileResponse(bundles["v1"] / "index.html", headers={"Cache-Control": "no-store"})

    for icon in _STATE_ICONS:
        if "v2" in bundles and (bundles["v2"] / icon).is_file():
            # The V2 UI asks for the tab's state icon at the site's root (`/running.svg`):
            # Prefect's own public files, nothing of any case in them.
            app.add_api_route(
                f"/{icon}", _icon_route(bundles["v2"] / icon), methods=["GET"],
                include_in_schema=False,
            )  # fmt: skip

    # The UI's files last: they are low-priority routes, after the API's.
    for version in ("v2", "v1"):
        if version in bundles:
            app.frontend(BASES[version], directory=bundles[version], fallback="index.html")


def _icon_route(path: Path) -> Callable[[], Awaitable[Response]]:
    async def icon() -> Response:
        return FileResponse(path, media_type="image/svg+xml")

    return icon


async def _body(request: Request) -> bytes | None:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return body


def _json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _genuine(request: Request, person: LiveSession, origin: str | None) -> bool:
    """Whether a write came from the gateway's own UI: its origin, and the session's token."""
    if not same_origin(request, own_origin(request, origin)):
        return False
    client = request.headers.get("prefect-csrf-client", "")
    sent = request.headers.get("prefect-csrf-token", "")
    if not client or not sent:
        return False
    return hmac.compare_digest(sent.encode(), csrf_token_for(person, client).encode())


async def _send(upstream: PrefectUpstream, request: Request, path: str, body: bytes) -> Response:
    headers = {
        name: value
        for name in _FORWARDED_REQUEST_HEADERS
        if (value := request.headers.get(name)) is not None
    }
    headers.update(upstream.headers())
    url = f"{upstream.api_url.rstrip('/')}/{path}"
    try:
        async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
            answer = await client.request(
                request.method, url, params=str(request.query_params),
                content=body or None, headers=headers,
            )  # fmt: skip
    except httpx.HTTPError:
        return JSONResponse({"detail": "The Prefect server does not answer."}, 502)
    passed = {
        name: value
        for name in _FORWARDED_RESPONSE_HEADERS
        if (value := answer.headers.get(name)) is not None
    }
    passed["Cache-Control"] = "no-store"
    return Response(answer.content, status_code=answer.status_code, headers=passed)
