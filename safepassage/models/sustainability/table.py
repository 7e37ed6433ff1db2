"""The indicator table: which questions a follow-up report asks, on what scale, with what weight.

A table is a JSON file in this package, named by its version (`<version>.json`), and never
edited once reports were scored with it: a change is a new version, and each report keeps the
version it was scored with. Loading checks the whole table, so a malformed file is refused at
once, naming the field at fault, rather than scoring anything wrongly.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from safepassage.models.errors import ConfigurationError

#: The table new reports are asked and scored with.
CURRENT_VERSION = "rss-adapted-2026.12"
#: The three dimensions of the survey, in the order reports and tables show them.
DIMENSIONS = ("economic", "social", "psychosocial")

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
Weight = Annotated[Decimal, Field(gt=0, le=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(_Strict):
    """The answers an indicator takes: whole numbers from `min` (worst) to `max` (best)."""

    min: int = Field(ge=0)
    max: int = Field(le=10)
    #: One label per point, from `min` to `max`.
    labels: list[Annotated[str, StringConstraints(min_length=1, max_length=80)]]

    @model_validator(mode="after")
    def _labels_per_point(self) -> Scale:
        if self.max <= self.min:
            raise ValueError("max must be above min")
        if len(self.labels) != self.max - self.min + 1:
            raise ValueError("labels must give one label per point from min to max")
        return self

    def describe(self) -> str:
        """Return the points and their labels, e.g. `1 = none; 2 = few; ...`."""
        points = range(self.min, self.max + 1)
        return "; ".join(f"{n} = {label}" for n, label in zip(points, self.labels, strict=True))


class Indicator(_Strict):
    """One question of the report, answered on its scale."""

    key: Key
    question: Annotated[str, StringConstraints(min_length=5, max_length=160)]
    weight: Weight
    scale: Scale


class Dimension(_Strict):
    """One dimension of reintegration and the indicators whose weighted mean is its score."""

    key: Literal["economic", "social", "psychosocial"]
    title: str
    weight: Weight
    indicators: list[Indicator] = Field(min_length=1)


class Source(_Strict):
    """Where the table comes from, and what that source confirms of it."""

    citation: str
    url: str | None
    confirms: list[str] = Field(min_length=1)


class IndicatorTable(_Strict):
    """A versioned indicator table with its sources and what in it is adapted."""

    version: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{2,39}$")]
    title: str
    #: `adapted` when any item, scale or weight could not be confirmed from a source.
    status: Literal["confirmed", "adapted"]
    sources: list[Source] = Field(min_length=1)
    #: What is adapted, and why; empty only for a confirmed table.
    adapted: list[str]
    scoring: str
    dimensions: list[Dimension]

    @model_validator(mode="after")
    def _consistent(self) -> IndicatorTable:
        if tuple(d.key for d in self.dimensions) != DIMENSIONS:
            raise ValueError(f"dimensions must be {', '.join(DIMENSIONS)}, in that order")
        keys = [i.key for i in self.indicators]
        if len(set(keys)) != len(keys):
            raise ValueError("indicators: each key must be used once across the table")
        if (self.status == "adapted") != bool(self.adapted):
            raise ValueError("adapted must list what is adapted exactly when status is adapted")
        return self

    @property
    def indicators(self) -> list[Indicator]:
        """Return every indicator, dimension by dimension."""
        return [i for d in self.dimensions for i in d.indicators]


def parse_table(text: str, *, name: str) -> IndicatorTable:
    """Return the table in `text` (JSON), or refuse it naming the field at fault (not values)."""
    try:
        return IndicatorTable.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"indicator table {name}: not valid JSON (line {exc.lineno}); fix the file"
        ) from None
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'the table'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"indicator table {name}: {where}; fix the file") from None


@cache
def load_table(version: str = CURRENT_VERSION) -> IndicatorTable:
    """Return the indicator table of `version`, shipped in this package."""
    resource = resources.files(__package__).joinpath(f"{version}.json")
    if not resource.is_file():
        raise ConfigurationError(
            f"indicator table {version}: no such version in safepassage/models/sustainability"
        )
    table = parse_table(resource.read_text(encoding="utf-8"), name=version)
    if table.version != version:
        raise ConfigurationError(
            f"indicator table {version}: its `version` field must match the file's name"
        )
    return table
