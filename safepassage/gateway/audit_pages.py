"""The auditors' pages (/audit/): the event log's verification and a case's audit trail.

Role `auditor`, and coordinators too (they answer for the office's records). Nothing here is
personal data: the verification names sequence numbers and references, the audit trail says
who saw or was sent what, never the what itself. Auditors only read: there is no form here.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from safepassage.gateway import strings
from safepassage.gateway.identity import Who
from safepassage.gateway.templating import gateway_templates
from safepassage.models.errors import CaseNotFound
from safepassage.models.reference import normalise_reference
from safepassage.models.roles import Role
from safepassage.services.accounts import Store
from safepassage.services.data_protection import audit_trail, verify_event_log

PREFIX = "/audit"
_READERS = frozenset({Role.AUDITOR, Role.COORDINATOR})


def audit_pages(store: Store, *, who: Who) -> APIRouter:
    """Return the auditors' routes, for `create_app` to include."""
    templates = gateway_templates()
    router = APIRouter(prefix=PREFIX)

    async def overview(request: Request, reference: str = "") -> Response:
        person = await who(request)
        if person is None:
            return RedirectResponse("/login", status_code=303)
        if person.role not in _READERS:
            return templates.TemplateResponse(
                request,
                "refused.html",
                {"message": strings.AUDIT_NOT_FOR_YOUR_ROLE},
                status_code=403,
            )
        check = await run_in_threadpool(verify_event_log, store=store)
        trail, asked, unknown = None, None, False
        if reference.strip():
            try:
                asked = normalise_reference(reference)
                trail = await run_in_threadpool(audit_trail, asked, store=store)
            except (ValueError, CaseNotFound):  # one answer for both: the text is not echoed
                asked, unknown = None, True
        response = templates.TemplateResponse(
            request, "audit.html",
            {"who": person, "check": check, "asked": asked, "trail": trail, "unknown": unknown},
        )  # fmt: skip
        response.headers["Cache-Control"] = "no-store"
        return response

    router.add_api_route("/", overview, methods=["GET"])
    return router
