"""The mission API, /mission/api/v1/: a receiving mission's own system, with a bearer token.

The same scope and actions as the portal (services/mission.py), as JSON: the mission's cases,
one case (the person's details only with their consent, each read recorded under the token's
name), and its answers at reception, arrival and each follow-up, recorded under the token's
name whatever the body says. A FastAPI application of its own, mounted by `create_app`, so it
has its own OpenAPI page (/mission/api/v1/docs) and its own handling of refused input:

- 401 (with `WWW-Authenticate: Bearer`) without a live token;
- 404 for an unknown case and for another mission's case alike;
- 409 when the case does not wait for that answer from the mission;
- 422 naming each field at fault and what it expects, never the value sent (FastAPI's own
  handler would echo the input, which could be anything a person typed);
- 202 once the answer is accepted and the case's run resumes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from pydantic.json_schema import SkipJsonSchema
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from safepassage.gateway import strings
from safepassage.models.checkpoints import (
    ArrivalAnswer,
    Checkpoint,
    FollowUpReportAnswer,
    PlanItem,
    ReceptionAnswer,
    ReintegrationPlanAnswer,
)
from safepassage.models.errors import (
    CaseNotFound,
    CaseStateError,
    ConfigurationError,
    IntakeInvalid,
)
from safepassage.models.grant import Delivery, IncreaseRequest
from safepassage.models.intake import field_names, problems_in
from safepassage.services.accounts import Store, TokenHolder, authenticate_token
from safepassage.services.grant import record_delivery, request_increase
from safepassage.services.mission import (
    MissionCaseRow,
    MissionCaseView,
    mission_case,
    mission_cases,
    submit_mission_answer,
)

BASE = "/mission/api/v1"

# -- the bodies: the domain's own answer forms, less the name of who entered them -------------


class ReceptionBody(ReceptionAnswer):
    """Whether the mission can receive the person (before any booking), and why."""

    # Not in the schema: what it says is replaced by the token's name in any case.
    entered_by: SkipJsonSchema[str | None] = None


class ArrivalBody(ArrivalAnswer):
    """The arrival and handover, as the mission saw them."""

    entered_by: SkipJsonSchema[str | None] = None


class PlanBody(ReintegrationPlanAnswer):
    """The mission's reintegration plan, from its needs analysis."""

    entered_by: SkipJsonSchema[str | None] = None


class FollowUpReportBody(FollowUpReportAnswer):
    """The mission's report at a follow-up after arrival."""

    entered_by: SkipJsonSchema[str | None] = None


#: The names a refusal may show: the bodies' fields and the path's. Anything else a body sent
#: is shown as `<unknown field>`, since a made-up key could be anyone's name.
_KNOWN_FIELDS = (
    field_names(ReceptionBody)
    | field_names(ArrivalBody)
    | field_names(FollowUpReportBody)
    | field_names(PlanBody)
    | field_names(PlanItem)
    | field_names(IncreaseRequest)
    | field_names(Delivery)
    | {"reference", "number"}
)

# -- the answers --------------------------------------------------------------------------------


class CaseLine(BaseModel):
    """One case of the mission: nothing personal."""

    reference: str
    stage: str
    waiting_for: str | None
    due: dt.datetime | None

    @classmethod
    def of(cls, row: MissionCaseRow) -> CaseLine:
        return cls(
            reference=row.reference, stage=row.stage, waiting_for=row.waiting_for, due=row.due
        )


class CaseList(BaseModel):
    """The mission's cases, those waiting for it first, the soonest due first."""

    cases: list[CaseLine]


class FollowUpWaiting(BaseModel):
    """A follow-up whose report the mission was asked for, and when its window closes."""

    number: int
    due: dt.datetime


class CaseDetail(CaseLine):
    """One case; `details` (for reception) only when the person consented to share them."""

    followups: list[FollowUpWaiting]
    consented: bool
    details: dict[str, str] | None

    @classmethod
    def of_view(cls, view: MissionCaseView) -> CaseDetail:
        return cls(
            reference=view.reference,
            stage=view.stage,
            waiting_for=view.waiting_for,
            due=view.due,
            followups=[FollowUpWaiting(number=f.number, due=f.due) for f in view.followups],
            consented=view.consented,
            details=view.details,
        )


class Accepted(BaseModel):
    """The answer was accepted: the case's run resumes with it."""

    reference: str
    checkpoint: str


class Problem(BaseModel):
    """One field at fault: its name (or path) and what it expects; never the value sent."""

    field: str
    message: str


class Refusal(BaseModel):
    """Why a request was refused."""

    detail: str
    problems: list[Problem] = []


_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": Refusal, "description": "No live mission token."},
    404: {"model": Refusal, "description": "No such case for this mission."},
    409: {"model": Refusal, "description": "The case does not wait for this from the mission."},
    422: {"model": Refusal, "description": "Fields at fault, named; values never repeated."},
    503: {"model": Refusal, "description": "The workflow server does not answer; try again."},
}


def mission_api(store: Store) -> FastAPI:
    """Return the mission API's application, to be mounted at BASE."""
    api = FastAPI(
        title=strings.API_TITLE,
        description=strings.API_DESCRIPTION,
        version="1",
        docs_url="/docs",
        redoc_url=None,
        responses=_REFUSALS,
    )
    api.state.store = store
    api.include_router(_routes)
    api.add_exception_handler(RequestValidationError, _named_fields_only)
    api.add_exception_handler(HTTPException, _plain_refusal)

    @api.middleware("http")
    async def keep_nothing(request: Request, call_next: Any) -> Response:
        # A case's answer holds personal data, and a list says which cases exist.
        response: Response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        return response

    return api


def _the_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


_bearer = HTTPBearer(auto_error=False, description="The mission's token, as issued once.")
StoreOf = Annotated[Store, Depends(_the_store)]


async def _token_holder(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)], store: StoreOf
) -> TokenHolder:
    """Return whom the request's bearer token speaks for; 401 without a live one."""
    found = None
    if credentials is not None:
        found = await run_in_threadpool(authenticate_token, credentials.credentials, store=store)
    if found is None:
        raise HTTPException(
            401, strings.API_UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"}
        )
    return found


Holder = Annotated[TokenHolder, Depends(_token_holder)]
FollowUpNumber = Annotated[int, Path(ge=1, le=999, description="The follow-up's number, from 1.")]
_routes = APIRouter()


@_routes.get("/cases", response_model=CaseList)
async def list_cases(holder: Holder, store: StoreOf) -> CaseList:
    """The mission's cases: the stage, what each waits for from the mission, the deadline."""
    rows = await run_in_threadpool(mission_cases, holder.mission, store=store)
    return CaseList(cases=[CaseLine.of(row) for row in rows])


@_routes.get("/cases/{reference}", response_model=CaseDetail)
async def one_case(reference: str, holder: Holder, store: StoreOf) -> CaseDetail:
    """One case; with the person's consent, their details for reception (each read is
    recorded under the token's name)."""
    try:
        view = await run_in_threadpool(
            mission_case, reference, viewer=holder.name, country=holder.mission, store=store
        )
    except CaseNotFound:
        raise HTTPException(404, strings.NO_SUCH_CASE) from None
    return CaseDetail.of_view(view)


@_routes.post("/cases/{reference}/reception", status_code=202, response_model=Accepted)
async def reception(
    reference: str, body: ReceptionBody, holder: Holder, store: StoreOf
) -> Response:
    """Whether the mission can receive the person, before any booking."""
    return await _submit(store, holder, reference, Checkpoint.RECEPTION, body)


@_routes.post("/cases/{reference}/arrival", status_code=202, response_model=Accepted)
async def arrival(reference: str, body: ArrivalBody, holder: Holder, store: StoreOf) -> Response:
    """The person's arrival and handover."""
    return await _submit(store, holder, reference, Checkpoint.ARRIVAL, body)


@_routes.post("/cases/{reference}/plan", status_code=202, response_model=Accepted)
async def plan(reference: str, body: PlanBody, holder: Holder, store: StoreOf) -> Response:
    """The reintegration plan, once the person has arrived."""
    return await _submit(store, holder, reference, Checkpoint.REINTEGRATION_PLAN, body)


class GrantStep(BaseModel):
    """A step of the grant was recorded: its number (an increase is then decided by the UK
    office in its own run)."""

    reference: str
    number: int


@_routes.post("/cases/{reference}/grant-increases", status_code=202, response_model=GrantStep)
async def grant_increase(
    reference: str, body: IncreaseRequest, holder: Holder, store: StoreOf
) -> Response:
    """Ask for an increase of the in-kind grant, with the service provider's recommendation."""
    done = await _grant_step(request_increase, store, holder, reference, body)
    return done if isinstance(done, Response) else _step(reference, done["request"], 202)


@_routes.post("/cases/{reference}/grant-deliveries", status_code=201, response_model=GrantStep)
async def grant_delivery(
    reference: str, body: Delivery, holder: Holder, store: StoreOf
) -> Response:
    """Record a delivery of the grant in kind: what, when, by which provider, how much."""
    done = await _grant_step(record_delivery, store, holder, reference, body)
    return done if isinstance(done, Response) else _step(reference, done["delivery"], 201)


def _step(reference: str, number: int, status: int) -> Response:
    return JSONResponse(GrantStep(reference=reference, number=number).model_dump(), status)


async def _grant_step(
    action: Any, store: Store, holder: TokenHolder, reference: str, body: BaseModel
) -> dict[str, Any] | Response:
    raw = body.model_dump(mode="json")
    try:
        done: dict[str, Any] = await run_in_threadpool(
            action, reference, raw, by=holder.name, country=holder.mission, store=store
        )
    except CaseNotFound:
        raise HTTPException(404, strings.NO_SUCH_CASE) from None
    except IntakeInvalid as refused:
        return _invalid(refused.problems)
    except CaseStateError as exc:
        raise HTTPException(409, str(exc)) from None
    return done


@_routes.post("/cases/{reference}/followups/{number}", status_code=202, response_model=Accepted)
async def followup_report(
    reference: str, number: FollowUpNumber, body: FollowUpReportBody, holder: Holder,
    store: StoreOf,
) -> Response:  # fmt: skip
    """The report at follow-up `number`."""
    return await _submit(store, holder, reference, Checkpoint.FOLLOWUP_REPORT, body, attempt=number)


async def _submit(
    store: Store,
    holder: TokenHolder,
    reference: str,
    checkpoint: Checkpoint,
    body: BaseModel,
    *,
    attempt: int | None = None,
) -> Response:
    raw = body.model_dump(mode="json", exclude={"entered_by"})
    try:
        await run_in_threadpool(
            submit_mission_answer, reference, checkpoint, raw, by=holder.name,
            country=holder.mission, attempt=attempt, store=store,
        )  # fmt: skip
    except CaseNotFound:
        raise HTTPException(404, strings.NO_SUCH_CASE) from None
    except IntakeInvalid as refused:
        return _invalid(refused.problems)
    except CaseStateError:
        raise HTTPException(409, strings.NOT_WAITING) from None
    except ConfigurationError:  # the Prefect server does not answer
        raise HTTPException(503, strings.UNAVAILABLE) from None
    accepted = Accepted(reference=reference, checkpoint=checkpoint.value)
    return JSONResponse(accepted.model_dump(), status_code=202)


async def _named_fields_only(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _invalid(problems_in(_without_source(exc.errors()), _KNOWN_FIELDS))


async def _plain_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    refusal = Refusal(detail=str(exc.detail)).model_dump()
    return JSONResponse(refusal, exc.status_code, exc.headers)


def _without_source(errors: Any) -> list[dict[str, Any]]:
    """Return FastAPI's errors with where each came from (body, path, query) left off the
    location, so that a field is named as the body or the path names it."""
    return [{**error, "loc": tuple(error["loc"])[1:]} for error in errors]


def _invalid(problems: Any) -> Response:
    refusal = Refusal(
        detail=strings.API_INVALID,
        problems=[Problem(field=p.path or "body", message=p.message) for p in problems],
    )
    return JSONResponse(refusal.model_dump(), status_code=422)
