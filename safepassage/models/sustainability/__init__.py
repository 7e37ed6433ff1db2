"""Reintegration sustainability: the indicator table a follow-up report answers, and its scores.

The table (a versioned JSON file here, see docs/sustainability.md) is adapted from IOM's
Reintegration Sustainability Survey: 15 indicators in three dimensions, each on a 1-5 scale.
`score` turns a report's answers into a score per dimension and a composite, from 0 to 1.
No Prefect and no store here: the report's statistics live in `figures` (it reads the store).
"""

from safepassage.models.sustainability.form import (
    IndicatorAnswers,
    SustainabilityIndicators,
    indicator_model,
)
from safepassage.models.sustainability.scoring import Scores, score
from safepassage.models.sustainability.table import (
    CURRENT_VERSION,
    DIMENSIONS,
    IndicatorTable,
    load_table,
    parse_table,
)

#: The sealed record of follow-up `number`'s scores (personal data: sealed like the report).
SCORES_RECORD = "followup-scores-{number}"
#: The ledger action of a scored report; its detail holds the table version only.
SCORED_ACTION = "followup-scored"


def scores_record(number: int) -> str:
    """Return the sealed record's purpose for follow-up `number`'s scores."""
    return SCORES_RECORD.format(number=number)


__all__ = [
    "CURRENT_VERSION",
    "DIMENSIONS",
    "SCORED_ACTION",
    "IndicatorAnswers",
    "IndicatorTable",
    "Scores",
    "SustainabilityIndicators",
    "indicator_model",
    "load_table",
    "parse_table",
    "score",
    "scores_record",
]
