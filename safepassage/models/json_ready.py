"""Turn the dataclasses SafePassage shows into JSON-ready values, one way everywhere."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any


def json_ready(record: Any) -> dict[str, Any]:
    """Return a dataclass's fields as JSON-ready values: dates in ISO 8601, enums by value.

    Written out rather than left to pydantic, whose UTC times end in `Z`: the CLI's JSON has
    always said `+00:00`, and scripts read it.
    """
    return {name: _plain(value) for name, value in dataclasses.asdict(record).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):  # datetimes too: they are dates
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value
