"""Reading forms and telling the gateway's own requests from a cross-site one.

Forms are read here rather than by Starlette's parser, which needs python-multipart: the
gateway's forms are small and url-encoded, and anything else is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request

#: Far above any of the gateway's forms; a larger body is refused before it is parsed.
MAX_FORM_BYTES = 16 * 1024
#: Far above the values of any form (a follow-up report with every service ticked sends 17).
_MAX_FIELDS = 40
#: How long a sign-in form stays usable once shown.
LOGIN_FORM_LIFETIME = 60 * 60


class FormTooLarge(Exception):
    """The request's body was larger than any of the gateway's forms."""


async def form_fields(request: Request) -> dict[str, str]:
    """Return a url-encoded form's fields (the first value of each); {} for any other body."""
    return {name: values[0] for name, values in (await form_values(request)).items()}


async def form_values(request: Request) -> dict[str, list[str]]:
    """Return every value of each field of a url-encoded form (a group of checkboxes sends
    one name several times); {} for any other body."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge
    try:
        return parse_qs(
            body.decode("utf-8", errors="replace"),
            keep_blank_values=True,
            max_num_fields=_MAX_FIELDS,
        )
    except ValueError:  # more fields than any form of the gateway has
        raise FormTooLarge from None


def own_origin(request: Request, configured: str | None) -> str:
    """Return the gateway's own origin: as configured, else as this request addressed it."""
    if configured:
        return configured.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


def same_origin(request: Request, origin: str) -> bool:
    """Whether the request came from the gateway's own pages, as far as the browser says.

    The Origin header, or else the Referer's origin, must be the gateway's own when present;
    with neither (some privacy settings drop both) the CSRF token alone decides.
    """
    claimed = request.headers.get("origin")
    if claimed is None and (referer := request.headers.get("referer")) is not None:
        parts = urlsplit(referer)
        claimed = f"{parts.scheme}://{parts.netloc}"
    return claimed is None or hmac.compare_digest(claimed.encode(), origin.encode())


def login_token(key: bytes, *, now: float | None = None) -> str:
    """Return a new sign-in form token: when it was made, a nonce, and their MAC.

    Before sign-in there is no session to keep a CSRF token in, so the token is signed and
    sent twice (a cookie and a hidden field): a cross-site form can set neither.
    """
    issued = str(int(time.time() if now is None else now))
    nonce = secrets.token_urlsafe(16)
    return f"{issued}.{nonce}.{_mac(key, issued, nonce)}"


def login_token_ok(
    key: bytes, cookie: str | None, field: str | None, *, now: float | None = None
) -> bool:
    """Whether the cookie and the form field carry the same, genuine, recent sign-in token."""
    if not cookie or not field or not hmac.compare_digest(cookie.encode(), field.encode()):
        return False
    parts = field.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return False
    issued, nonce, mac = parts
    age = (time.time() if now is None else now) - int(issued)
    fresh = 0 <= age <= LOGIN_FORM_LIFETIME
    return fresh and hmac.compare_digest(mac.encode(), _mac(key, issued, nonce).encode())


def _mac(key: bytes, issued: str, nonce: str) -> str:
    digest = hmac.new(key, f"{issued}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
