"""Reading a sealed record back into its form: structure only, with errors that hold no value.

Every record read back from the case store goes through `read_stored`. Its dates were checked
when it was written (a case file on the day it was taken in, an answer when it was given); the
step that acts on a date checks it against today itself (for example the travel document stage,
models/rules.py `needs_travel_document`).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from safepassage.models.errors import StoredRecordInvalid
from safepassage.models.intake import STORED, problems_from

M = TypeVar("M", bound=BaseModel)


def read_stored(model: type[M], raw: bytes, *, what: str) -> M:
    """Return the stored JSON `raw` as `model`, validated for structure only.

    A record that no longer fits its form (a damaged row, a schema changed without a migration)
    raises StoredRecordInvalid naming the fields at fault. Pydantic's own error text quotes the
    values (`input_value=...`), which would carry personal data into tracebacks, task logs and
    Prefect; so its text never leaves here, and neither does the error itself (the new error is
    raised outside the `except`, with no chained context).
    """
    try:
        return model.model_validate_json(raw, context=STORED)
    except ValidationError as exc:
        problems = "; ".join(str(p) for p in problems_from(exc, model))
    raise StoredRecordInvalid(
        f"the stored {what} does not fit its form ({problems}): the record needs a migration "
        "to the current form, or restoring from a backup"
    )
