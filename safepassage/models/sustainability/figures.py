"""The report's sustainability figures: score quartiles per programme and the change over time.

Each case's scores are sealed (personal data). The report opens them as a system process, the
way models/sla opens a booked departure: nobody sees one case's scores here, only figures
over at least `SAFEPASSAGE_REPORT_MIN_CASES` cases of a programme (fewer show as too few: an
average of one person is that person). An erased case's scores are gone with its key and
leave the figures.

Quartiles are `statistics.quantiles(..., method="inclusive")` (linear interpolation between
the sorted values, the minimum and maximum as the ends); every figure is rounded half-even to
3 decimals, like the scores.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from safepassage.models.crypto import MasterKey
from safepassage.models.errors import KeyUnavailable
from safepassage.models.store.cases import open_sealed
from safepassage.models.store.orm import Case, CaseAction
from safepassage.models.sustainability import SCORED_ACTION, Scores, scores_record
from safepassage.models.sustainability.scoring import PLACES
from safepassage.models.sustainability.table import DIMENSIONS

#: The scores the report shows, composite first.
SCORE_NAMES = ("composite", *DIMENSIONS)


@dataclass(frozen=True)
class Quartiles:
    """The lower quartile, median and upper quartile of one score over a programme's cases."""

    q1: str
    median: str
    q3: str


@dataclass(frozen=True)
class SustainabilityFigures:
    """One programme's scores: over each case's latest scored follow-up, and the change.

    `latest` and `mean_change` are empty when too few cases have them (`cases`,
    `cases_with_change` say how many do; a count alone identifies nobody).
    """

    programme: str
    #: Cases with at least one scored follow-up.
    cases: int
    #: Quartiles of each score (composite, economic, social, psychosocial) at the latest.
    latest: dict[str, Quartiles] = field(default_factory=dict)
    #: Cases with two or more scored follow-ups.
    cases_with_change: int = 0
    #: Mean change of each score from a case's first scored follow-up to its last.
    mean_change: dict[str, str] = field(default_factory=dict)
    #: The indicator table versions the scores come from.
    versions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScorePoint:
    """The median composite score at one follow-up number of a programme (None: too few)."""

    programme: str
    follow_up: int
    cases: int
    median: str | None


def _round(value: Decimal) -> str:
    return str(value.quantize(PLACES))


def quartiles(values: list[Decimal]) -> Quartiles:
    """Return the quartiles of `values` (at least two), inclusive method, rounded."""
    q1, median, q3 = statistics.quantiles(sorted(values), n=4, method="inclusive")
    return Quartiles(_round(q1), _round(median), _round(q3))


#: One case's scores: (follow-up number, scores), in follow-up order.
CaseScores = list[tuple[int, Scores]]


def scored_cases(session: Session, master_key: MasterKey) -> dict[str, list[CaseScores]]:
    """Return each programme's cases' scores in follow-up order, read as a system process.

    Lists, not keyed by reference: nothing here leaves the figures with a case attached.
    """
    rows = session.execute(
        select(Case, CaseAction.attempt)
        .join(CaseAction, CaseAction.case_id == Case.id)
        .where(CaseAction.action == SCORED_ACTION, Case.erased_at.is_(None))
        .order_by(Case.id, CaseAction.attempt)
    )
    by_case: dict[int, tuple[str, CaseScores]] = {}
    for case, number in rows:
        try:
            sealed = open_sealed(session, master_key, case, scores_record(number))
        except (KeyUnavailable, KeyError):  # erased meanwhile, or never sealed: not counted
            continue
        _, scores = by_case.setdefault(case.id, (case.programme, []))
        scores.append((int(number), Scores.from_dict(json.loads(sealed))))
    result: dict[str, list[CaseScores]] = defaultdict(list)
    for programme, scores in by_case.values():
        result[programme].append(scores)
    return dict(result)


def figures_of(programme: str, cases: list[CaseScores], *, min_cases: int) -> SustainabilityFigures:
    """Return a programme's figures from each case's scores in follow-up order."""
    latest: dict[str, Quartiles] = {}
    if cases and len(cases) >= min_cases:
        latest = {name: quartiles([getattr(c[-1][1], name) for c in cases]) for name in SCORE_NAMES}
    changed = [c for c in cases if len(c) >= 2]
    mean_change: dict[str, str] = {}
    if changed and len(changed) >= min_cases:
        mean_change = {
            name: _round(
                sum((getattr(c[-1][1], name) - getattr(c[0][1], name) for c in changed), Decimal(0))
                / len(changed)
            )
            for name in SCORE_NAMES
        }
    return SustainabilityFigures(
        programme=programme,
        cases=len(cases),
        latest=latest,
        cases_with_change=len(changed),
        mean_change=mean_change,
        versions=sorted({s.version for c in cases for _, s in c}),
    )


def score_points(programme: str, cases: list[CaseScores], *, min_cases: int) -> list[ScorePoint]:
    """Return the median composite at each follow-up number (None where too few cases)."""
    at: dict[int, list[Decimal]] = defaultdict(list)
    for scores in cases:
        for number, value in scores:
            at[number].append(value.composite)
    return [
        ScorePoint(
            programme,
            number,
            len(values),
            _round(statistics.median(values)) if len(values) >= min_cases else None,
        )
        for number, values in sorted(at.items())
    ]


def sustainability_figures(
    session: Session, master_key: MasterKey, *, min_cases: int
) -> tuple[list[SustainabilityFigures], list[ScorePoint]]:
    """Return each programme's figures and its median composite per follow-up, for the report."""
    figures, points = [], []
    for programme, cases in sorted(scored_cases(session, master_key).items()):
        figures.append(figures_of(programme, cases, min_cases=min_cases))
        points += score_points(programme, cases, min_cases=min_cases)
    return figures, points


SUSTAINABILITY_COLUMNS = [
    "programme", "cases", "composite (q1 / median / q3)", "economic", "social", "psychosocial",
    "cases with 2+", "mean change (composite)",
]  # fmt: skip
TOO_FEW = "too few cases"


def sustainability_cells(f: SustainabilityFigures) -> tuple[object, ...]:
    """Return one programme's figures as the report's table cells."""
    spread = [
        f"{q.q1} / {q.median} / {q.q3}" if (q := f.latest.get(name)) else TOO_FEW
        for name in SCORE_NAMES
    ]
    change = f.mean_change.get("composite", TOO_FEW)
    return (f.programme, f.cases, *spread, f.cases_with_change, change)
