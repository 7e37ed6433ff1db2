"""The mission portal, /mission/: a mission officer's cases, one case, and the mission's forms.

Plain pages that work without JavaScript. Only a signed-in account of the `mission` role gets
in (no session: the sign-in form; another role: 403), and sees only its own country's cases:
another mission's case is a 404, exactly as an unknown reference is, so that a page never
confirms a case exists. The person's details are shown on the case page only, only with their
consent, and each view is recorded under the officer's name (services/mission.py); the forms
have pages of their own, so that answering one reveals nothing again.

Every POST must come from the gateway's own origin and carry the session's CSRF token, as in
app.py; what it answers is recorded under the signed-in officer's name, whatever it said.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from safepassage.gateway import strings
from safepassage.gateway.forms import FormTooLarge, form_values, own_origin, same_origin
from safepassage.gateway.identity import Who, csrf_ok
from safepassage.gateway.mission_forms import (
    ARRIVAL,
    CHOICE_VALUES,
    CSRF_FIELD,
    FOLLOWUP,
    GRANT_FORMS,
    GRANT_INCREASE,
    INDICATOR_GROUPS,
    INDICATOR_QUESTIONS,
    OFFSET_FIELD,
    PLAN,
    PLAN_ITEM_FIELDS,
    PLAN_LINES,
    RECEPTION,
    GrantForm,
    MissionForm,
    answer_of,
    first,
    grant_answer_of,
    typed_back,
)
from safepassage.gateway.templating import gateway_templates
from safepassage.models.errors import (
    CaseNotFound,
    CaseStateError,
    ConfigurationError,
    IntakeInvalid,
)
from safepassage.models.roles import Role
from safepassage.services.accounts import Store
from safepassage.services.grant import record_delivery, request_increase
from safepassage.services.mission import (
    MissionCaseView,
    mission_case,
    mission_case_status,
    mission_cases,
    submit_mission_answer,
)

PREFIX = "/mission"


@dataclass(frozen=True)
class Officer:
    """The signed-in mission officer: whose name answers go under, which country's cases."""

    name: str
    mission: str
    csrf_token: str = field(repr=False)


def mission_portal(store: Store, *, who: Who, origin: str | None = None) -> APIRouter:
    """Return the portal's routes, for `create_app` to include; `who` reads the session."""
    portal = _Portal(store, who, origin)
    router = APIRouter(prefix=PREFIX)
    router.add_api_route("/", portal.case_list, methods=["GET"])
    router.add_api_route("/cases/{reference}", portal.case_page, methods=["GET"])
    for form in (RECEPTION, ARRIVAL, PLAN):
        path = f"/cases/{{reference}}/{form.checkpoint.value}"
        router.add_api_route(path, portal.form_page(form), methods=["GET"])
        router.add_api_route(path, portal.form_answer(form), methods=["POST"])
    for grant in GRANT_FORMS:
        path = f"/cases/{{reference}}/{grant.path}"
        router.add_api_route(path, portal.grant_page(grant), methods=["GET"])
        router.add_api_route(path, portal.grant_answer(grant), methods=["POST"])
    router.add_api_route(
        "/cases/{reference}/followups/{number}", portal.followup_page, methods=["GET"]
    )
    router.add_api_route(
        "/cases/{reference}/followups/{number}", portal.followup_answer, methods=["POST"]
    )
    return router


Handler = Callable[[Request, str], Awaitable[Response]]


class _Portal:
    """The portal's pages, around the gateway's store and its reader of sessions."""

    def __init__(self, store: Store, who: Who, origin: str | None) -> None:
        self.store, self.who, self.origin = store, who, origin
        self.templates = gateway_templates()

    # -- the pages -------------------------------------------------------------------------

    async def case_list(self, request: Request) -> Response:
        officer = await self.officer(request)
        if isinstance(officer, Response):
            return officer
        rows = await run_in_threadpool(mission_cases, officer.mission, store=self.store)
        return self.page(request, "mission/cases.html", {"who": officer, "cases": rows})

    async def case_page(self, request: Request, reference: str) -> Response:
        officer = await self.officer(request)
        if isinstance(officer, Response):
            return officer
        try:
            view = await run_in_threadpool(
                mission_case, reference, viewer=officer.name, country=officer.mission,
                store=self.store,
            )  # fmt: skip
        except CaseNotFound:
            return self.message(request, strings.NO_SUCH_CASE, 404)
        return self.page(request, "mission/case.html", {"who": officer, "case": view})

    def form_page(self, form: MissionForm) -> Handler:
        async def show(request: Request, reference: str) -> Response:
            return await self.show_form(request, form, reference)

        return show

    def form_answer(self, form: MissionForm) -> Handler:
        async def send(request: Request, reference: str) -> Response:
            return await self.answer(request, form, reference)

        return send

    def grant_page(self, grant: GrantForm) -> Handler:
        async def show(request: Request, reference: str) -> Response:
            return await self.show_grant(request, grant, reference)

        return show

    def grant_answer(self, grant: GrantForm) -> Handler:
        async def send(request: Request, reference: str) -> Response:
            return await self.send_grant(request, grant, reference)

        return send

    # The number is read as text: FastAPI's own refusal of a malformed one would echo it.
    async def followup_page(self, request: Request, reference: str, number: str) -> Response:
        if (followup := _number(number)) is None:
            return self.message(request, strings.NO_SUCH_CASE, 404)
        return await self.show_form(request, FOLLOWUP, reference, followup)

    async def followup_answer(self, request: Request, reference: str, number: str) -> Response:
        if (followup := _number(number)) is None:
            return self.message(request, strings.NO_SUCH_CASE, 404)
        return await self.answer(request, FOLLOWUP, reference, followup)

    # -- what the pages share --------------------------------------------------------------

    async def officer(self, request: Request) -> Officer | Response:
        """Return the signed-in mission officer, or the response for anyone else."""
        signed_in = await self.who(request)
        if signed_in is None:
            return RedirectResponse("/login", status_code=303)
        if signed_in.role != Role.MISSION.value or not signed_in.mission:
            return self.message(request, strings.NOT_FOR_YOUR_ROLE, 403)
        return Officer(signed_in.name, signed_in.mission, signed_in.csrf_token)

    def page(
        self, request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        # Case pages hold personal data, and the others say which cases exist: keep none.
        response.headers["Cache-Control"] = "no-store"
        return response

    def message(self, request: Request, text: str, status: int) -> Response:
        return self.page(request, "refused.html", {"message": text}, status)

    def ask(
        self,
        request: Request,
        form: MissionForm,
        officer: Officer,
        reference: str,
        *,
        number: int | None = None,
        values: dict[str, list[str]] | None = None,
        problems: list[tuple[str, str]] | None = None,
    ) -> Response:
        context = {
            "who": officer, "reference": reference, "number": number,
            "action": _form_path(form, reference, number), "typed": typed_back(values or {}),
            "problems": problems or [], "choices": CHOICE_VALUES, "offset_field": OFFSET_FIELD,
            "plan_lines": range(PLAN_LINES), "plan_fields": PLAN_ITEM_FIELDS,
            "indicator_groups": INDICATOR_GROUPS,
        }  # fmt: skip
        return self.page(request, form.template, context, 422 if problems else 200)

    async def posted(self, request: Request) -> tuple[Officer, dict[str, list[str]]] | Response:
        """Return the officer and the form a POST sent, or the refusal: another origin, no
        mission officer, too large, or without the session's CSRF token."""
        if not same_origin(request, own_origin(request, self.origin)):
            return self.message(request, strings.REFUSED, 403)
        officer = await self.officer(request)
        if isinstance(officer, Response):
            return officer
        try:
            values = await form_values(request)
        except FormTooLarge:
            return self.message(request, strings.TOO_LARGE, 413)
        if not csrf_ok(officer.csrf_token, first(values, CSRF_FIELD) or None):
            return self.message(request, strings.REFUSED, 403)
        return officer, values

    async def show_form(
        self, request: Request, form: MissionForm, reference: str, number: int | None = None
    ) -> Response:
        officer = await self.officer(request)
        if isinstance(officer, Response):
            return officer
        try:
            view = await run_in_threadpool(
                mission_case_status, reference, country=officer.mission, store=self.store
            )
        except CaseNotFound:
            return self.message(request, strings.NO_SUCH_CASE, 404)
        if not _waits_for(view, form, number):
            return self.message(request, strings.NOT_WAITING, 409)
        return self.ask(request, form, officer, reference, number=number)

    async def answer(
        self, request: Request, form: MissionForm, reference: str, number: int | None = None
    ) -> Response:
        posted = await self.posted(request)
        if isinstance(posted, Response):
            return posted
        officer, values = posted
        try:
            await run_in_threadpool(
                submit_mission_answer, reference, form.checkpoint, answer_of(form, values),
                by=officer.name, country=officer.mission, attempt=number, store=self.store,
            )  # fmt: skip
        except CaseNotFound:
            return self.message(request, strings.NO_SUCH_CASE, 404)
        except IntakeInvalid as refused:
            problems = [(_label(p.path), p.message) for p in refused.problems]
            return self.ask(
                request, form, officer, reference, number=number, values=values,
                problems=problems,
            )  # fmt: skip
        except CaseStateError:
            return self.message(request, strings.NOT_WAITING, 409)
        except ConfigurationError:  # the Prefect server does not answer
            return self.message(request, strings.UNAVAILABLE, 503)
        return self.page(request, "mission/sent.html", {"who": officer, "reference": reference})

    # -- the grant's forms: not checkpoints, so asked and sent without a waiting run ----------

    def grant_form(
        self,
        request: Request,
        grant: GrantForm,
        officer: Officer,
        reference: str,
        *,
        values: dict[str, list[str]] | None = None,
        problems: list[tuple[str, str]] | None = None,
    ) -> Response:
        context = {
            "who": officer, "reference": reference, "action": f"{PREFIX}/cases/{reference}/"
            f"{grant.path}", "typed": typed_back(values or {}), "problems": problems or [],
        }  # fmt: skip
        return self.page(request, grant.template, context, 422 if problems else 200)

    async def show_grant(self, request: Request, grant: GrantForm, reference: str) -> Response:
        officer = await self.officer(request)
        if isinstance(officer, Response):
            return officer
        try:
            await run_in_threadpool(
                mission_case_status, reference, country=officer.mission, store=self.store
            )
        except CaseNotFound:
            return self.message(request, strings.NO_SUCH_CASE, 404)
        return self.grant_form(request, grant, officer, reference)

    async def send_grant(self, request: Request, grant: GrantForm, reference: str) -> Response:
        posted = await self.posted(request)
        if isinstance(posted, Response):
            return posted
        officer, values = posted
        action = request_increase if grant is GRANT_INCREASE else record_delivery
        try:
            await run_in_threadpool(
                action, reference, grant_answer_of(grant, values), by=officer.name,
                country=officer.mission, store=self.store,
            )  # fmt: skip
        except CaseNotFound:
            return self.message(request, strings.NO_SUCH_CASE, 404)
        except IntakeInvalid as refused:
            problems = [(_label(p.path), p.message) for p in refused.problems]
            return self.grant_form(
                request, grant, officer, reference, values=values, problems=problems
            )
        except CaseStateError:
            return self.message(request, strings.GRANT_NOT_NOW, 409)
        return self.page(request, "mission/sent.html", {"who": officer, "reference": reference})


def _waits_for(view: MissionCaseView, form: MissionForm, number: int | None) -> bool:
    """Whether the case waits for this form's answer from the mission."""
    if number is not None:  # several follow-ups can wait at once
        return any(f.number == number for f in view.followups)
    return view.waiting_for == form.checkpoint.value


def _form_path(form: MissionForm, reference: str, number: int | None) -> str:
    if number is not None:
        return f"{PREFIX}/cases/{reference}/followups/{number}"
    return f"{PREFIX}/cases/{reference}/{form.checkpoint.value}"


def _number(text: str) -> int | None:
    return int(text) if text.isdecimal() and len(text) <= 3 and int(text) > 0 else None


def _label(path: str) -> str:
    """Return the catalogue's name of a field at fault; its path when it names no field.

    A plan item's field (`items.1.cost_chf`) is named by its line: "Plan, line 2: Cost (CHF)".
    """
    parts = path.split(".")
    if parts[0] == "items" and len(parts) == 3 and parts[1].isdecimal():  # items.N.field
        field = strings.PLAN_LABELS.get(parts[2], parts[2])
        return strings.PLAN_LINE.format(line=int(parts[1]) + 1, field=field)
    if parts[0] == "indicators" and len(parts) == 2:  # indicators.key: named by its question
        return INDICATOR_QUESTIONS.get(parts[1], path)
    return strings.LABELS.get(parts[0], path)
