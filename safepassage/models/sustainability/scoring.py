"""Score a follow-up report's indicators: per dimension and overall, the same way every time.

Each answer `a` on a scale from `min` to `max` becomes `(a - min) / (max - min)` (0 worst, 1
best); a dimension is the weighted mean of its indicators, the composite the weighted mean of
the dimensions' unrounded scores. The arithmetic is exact (fractions) and each score is rounded
once, half-even to 3 decimals, so a score computed by hand matches to the last digit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from safepassage.models.errors import FieldProblem, IntakeInvalid
from safepassage.models.sustainability.table import DIMENSIONS, IndicatorTable

PLACES = Decimal("0.001")


def rounded(value: Fraction) -> Decimal:
    """Return `value` rounded half-even to 3 decimals."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Scores:
    """A report's scores from 0 (worst) to 1 (best), and the table version they come from."""

    version: str
    economic: Decimal
    social: Decimal
    psychosocial: Decimal
    composite: Decimal

    def as_dict(self) -> dict[str, str]:
        """Return the scores as JSON-ready strings (exact decimals)."""
        return {
            "version": self.version,
            **{name: str(getattr(self, name)) for name in (*DIMENSIONS, "composite")},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scores:
        """Return scores read back from `as_dict`."""
        return cls(
            version=str(data["version"]),
            **{name: Decimal(str(data[name])) for name in (*DIMENSIONS, "composite")},
        )


def _weighted_mean(pairs: list[tuple[Fraction, Fraction]]) -> Fraction:
    total = sum((weight for weight, _ in pairs), Fraction(0))
    return sum((weight * value for weight, value in pairs), Fraction(0)) / total


def score(table: IndicatorTable, answers: Mapping[str, int]) -> Scores:
    """Return the scores of `answers` (indicator key to point) under `table`.

    Refuses answers that miss an indicator, name one the table lacks, or fall off its scale,
    naming the indicator (never the value).
    """
    problems = [
        FieldProblem(f"indicators.{key}", "is not an indicator of this table")
        for key in answers
        if key not in {i.key for i in table.indicators}
    ]
    dimension_scores: dict[str, Fraction] = {}
    for dimension in table.dimensions:
        pairs = []
        for indicator in dimension.indicators:
            answer = answers.get(indicator.key)
            scale = indicator.scale
            if not isinstance(answer, int) or isinstance(answer, bool):
                problems.append(FieldProblem(f"indicators.{indicator.key}", "is required"))
                continue
            if not scale.min <= answer <= scale.max:
                problems.append(
                    FieldProblem(
                        f"indicators.{indicator.key}", f"must be from {scale.min} to {scale.max}"
                    )
                )
                continue
            normalised = Fraction(answer - scale.min, scale.max - scale.min)
            pairs.append((Fraction(indicator.weight), normalised))
        if not problems:
            dimension_scores[dimension.key] = _weighted_mean(pairs)
    if problems:
        raise IntakeInvalid(problems, source=f"indicator table {table.version}")
    composite = _weighted_mean(
        [(Fraction(d.weight), dimension_scores[d.key]) for d in table.dimensions]
    )
    return Scores(
        version=table.version,
        economic=rounded(dimension_scores["economic"]),
        social=rounded(dimension_scores["social"]),
        psychosocial=rounded(dimension_scores["psychosocial"]),
        composite=rounded(composite),
    )
