"""Who is signed in: the session cookie, read against the store's live sessions.

One reader for every part of the gateway (the sign-in pages, the coordinators' Prefect UI, the
mission portal), so that a session ended anywhere (signed out, idle, account disabled) ends
everywhere at once.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from safepassage.services.accounts import LiveSession, Store, live_session

SESSION_COOKIE = "safepassage_session"

#: Returns the live session a request carries, or None.
Who = Callable[[Request], Awaitable[LiveSession | None]]


def session_reader(store: Store) -> Who:
    """Return the function that tells who a request's session cookie speaks for, if anyone."""

    async def current(request: Request) -> LiveSession | None:
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id:
            return None
        return await run_in_threadpool(live_session, session_id, store=store)

    return current


def csrf_ok(session_token: str, sent: str | None) -> bool:
    """Whether a form carried its session's own CSRF token (`session_token`)."""
    return sent is not None and hmac.compare_digest(sent.encode(), session_token.encode())
