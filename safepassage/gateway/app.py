"""The gateway's web application: signing in and out, and what each role reaches from there.

`create_app` builds it around an open case store; `safepassage serve` runs it (server.py).
Behind the sign-in: the mission portal (/mission/, mission_portal.py), the mission API
(/mission/api/v1/, mission_api.py), the auditors' pages (/audit/, audit_pages.py) and, when
a Prefect server is given, the coordinators' Prefect UI (/prefect/, prefect_proxy.py).

Every POST must carry the CSRF token of the form it came from (the session's own, or before
sign-in a signed token also set as a cookie) and, when the browser names one, the gateway's
own Origin; otherwise it is refused with 403 before anything else is read.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from safepassage.gateway import strings
from safepassage.gateway.audit_pages import audit_pages
from safepassage.gateway.forms import (
    LOGIN_FORM_LIFETIME,
    FormTooLarge,
    form_fields,
    login_token,
    login_token_ok,
    own_origin,
    same_origin,
)
from safepassage.gateway.identity import SESSION_COOKIE, csrf_ok, session_reader
from safepassage.gateway.mission_api import BASE as MISSION_API
from safepassage.gateway.mission_api import mission_api
from safepassage.gateway.mission_portal import mission_portal
from safepassage.gateway.prefect_proxy import PrefectUpstream, add_prefect_ui
from safepassage.gateway.templating import gateway_templates
from safepassage.services.accounts import (
    IDLE_LIMIT,
    AccountView,
    Store,
    authenticate,
    end_session,
    login_form_key,
    start_session,
)

LOGIN_COOKIE = "safepassage_login"


def create_app(
    store: Store,
    *,
    origin: str | None = None,
    prefect: PrefectUpstream | None = None,
    ui_folder: Path | None = None,
) -> FastAPI:
    """Return the gateway's application, signing people in against `store`.

    `origin` is the address people reach the gateway at (e.g. "https://office.example:4200");
    by default, the one each request was addressed to. With `prefect` (the server's API) and
    `ui_folder` (where the UI's files are copied), coordinators get the Prefect UI too.
    """
    # No OpenAPI pages: these are forms for people; the mission API has its own.
    app = FastAPI(title="SafePassage gateway", docs_url=None, redoc_url=None, openapi_url=None)
    templates = gateway_templates()
    form_key = login_form_key(store=store)

    def secure(request: Request) -> bool:
        # Behind the office's TLS proxy the gateway itself speaks plain HTTP on loopback; the
        # address people use (SAFEPASSAGE_GATEWAY_URL) says whether the browser sees TLS.
        return request.url.scheme == "https" or (origin or "").startswith("https://")

    def login_page(request: Request, *, message: str | None, status: int) -> Response:
        token = login_token(form_key)
        response = templates.TemplateResponse(
            request, "login.html", {"csrf": token, "message": message}, status_code=status
        )
        response.set_cookie(
            LOGIN_COOKIE, token, max_age=LOGIN_FORM_LIFETIME, path="/login", httponly=True,
            samesite="strict", secure=secure(request),
        )  # fmt: skip
        response.headers["Cache-Control"] = "no-store"
        return response

    def refused(request: Request, message: str = strings.REFUSED, status: int = 403) -> Response:
        return templates.TemplateResponse(
            request, "refused.html", {"message": message}, status_code=status
        )

    current = session_reader(store)

    def to_login() -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.get("/login")
    async def show_login(request: Request) -> Response:
        return login_page(request, message=None, status=200)

    @app.post("/login")
    async def sign_in(request: Request) -> Response:
        if not same_origin(request, own_origin(request, origin)):
            return refused(request)
        try:
            fields = await form_fields(request)
        except FormTooLarge:
            return refused(request, strings.TOO_LARGE, 413)
        if not login_token_ok(form_key, request.cookies.get(LOGIN_COOKIE), fields.get("csrf")):
            return login_page(request, message=strings.FORM_EXPIRED, status=403)
        outcome = await run_in_threadpool(
            authenticate, fields.get("username", ""), fields.get("password", ""),
            fields.get("code", ""), store=store,
        )  # fmt: skip
        if not isinstance(outcome, AccountView):
            # One message for every refusal: which part was wrong is for the audit trail only.
            return login_page(request, message=strings.SIGN_IN_FAILED, status=401)
        new = await run_in_threadpool(start_session, outcome.name, store=store)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE, new.session_id, path="/", httponly=True, samesite="strict",
            secure=secure(request),
        )  # fmt: skip
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @app.post("/logout")
    async def sign_out(request: Request) -> Response:
        if not same_origin(request, own_origin(request, origin)):
            return refused(request)
        signed_in = await current(request)
        if signed_in is None:
            return to_login()
        try:
            fields = await form_fields(request)
        except FormTooLarge:
            return refused(request, strings.TOO_LARGE, 413)
        if not csrf_ok(signed_in.csrf_token, fields.get("csrf")):
            return refused(request)
        await run_in_threadpool(end_session, request.cookies[SESSION_COOKIE], store=store)
        response = to_login()
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/")
    async def home(request: Request) -> Response:
        signed_in = await current(request)
        if signed_in is None:
            return to_login()
        response = templates.TemplateResponse(
            request, "home.html",
            {"who": signed_in, "csrf": signed_in.csrf_token,
             "idle_minutes": int(IDLE_LIMIT.total_seconds() // 60)},
        )  # fmt: skip
        response.headers["Cache-Control"] = "no-store"
        return response

    app.include_router(mission_portal(store, who=current, origin=origin))
    app.include_router(audit_pages(store, who=current))
    app.mount(MISSION_API, mission_api(store))
    if prefect is not None and ui_folder is not None:
        add_prefect_ui(
            app, store=store, who=current, upstream=prefect, ui_folder=ui_folder, origin=origin
        )
    return app
