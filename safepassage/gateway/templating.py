"""The gateway's page templates, with the string catalogue at hand in every one.

Templates read their words as `text.NAME` (gateway/strings.py), so a translation replaces the
catalogue and no template; `when` shows a moment in the catalogue's format, in UTC.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from starlette.templating import Jinja2Templates

from safepassage.gateway import strings

TEMPLATES = Path(__file__).resolve().parent / "templates"


def gateway_templates() -> Jinja2Templates:
    """Return the gateway's templates (autoescaped: every value is shown as text)."""
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals["text"] = strings
    templates.env.filters["when"] = _when
    return templates


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return strings.NO_DEADLINE
    return moment.astimezone(dt.UTC).strftime(strings.TIME_FORMAT)
