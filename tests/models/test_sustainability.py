"""Sustainability scoring: the indicator table, scores computed by hand, the report's figures.

The scores below are worked out by hand from the table's scale (1 to 5: `(a - 1) / 4`) and its
weights (equal), so a change to the arithmetic or the table shows here digit by digit.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from safepassage.models.checkpoints import FollowUpReportAnswer, History, problems_with
from safepassage.models.errors import ConfigurationError, FieldProblem, IntakeInvalid
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.workflow import record_answer
from safepassage.models.sustainability import (
    CURRENT_VERSION,
    DIMENSIONS,
    Scores,
    load_table,
    parse_table,
    score,
)
from safepassage.models.sustainability.figures import (
    TOO_FEW,
    Quartiles,
    sustainability_cells,
    sustainability_figures,
)
from safepassage.models.sustainability.records import score_followup
from safepassage.models.sustainability.table import IndicatorTable
from tests.factories import TODAY
from tests.stored import stored_case

NOW = dt.datetime(2027, 3, 10, 7, 0, tzinfo=dt.UTC)

#: A fixed answer set and each answer's normalised value, (a - 1) / 4.
ANSWERS = {
    # economic: 1 + 0.75 + 0.5 + 0.25 + 0 = 2.5; / 5 = 0.5
    "economic_satisfaction": 5, "income": 4, "food_security": 3, "debt": 2, "work": 1,
    # social: 1 + 1 + 0.75 + 0.25 + 0.5 = 3.5; / 5 = 0.7
    "housing": 5, "health_access": 5, "documentation": 4, "education_access": 2,
    "justice_access": 3,
    # psychosocial: 0.75 + 0.75 + 0.5 + 0.25 + 1 = 3.25; / 5 = 0.65
    "support_network": 4, "discrimination": 4, "safety": 3, "distress": 2, "able_to_stay": 5,
}  # fmt: skip


def table_json(**changes: Any) -> dict[str, Any]:
    """Return the current table as JSON data, with `changes` applied by a dotted path."""
    data: dict[str, Any] = load_table().model_dump(mode="json")
    for path, value in changes.items():
        *parents, last = path.split("__")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdecimal() else node[part]
        node[int(last) if last.isdecimal() else last] = value
    return data


def table_with(**changes: Any) -> IndicatorTable:
    return parse_table(json.dumps(table_json(**changes)), name="test")


def test_the_table_holds_15_indicators_5_per_dimension_each_on_a_labelled_1_to_5_scale() -> None:
    table = load_table()
    assert table.version == CURRENT_VERSION
    assert [d.key for d in table.dimensions] == list(DIMENSIONS)
    assert [len(d.indicators) for d in table.dimensions] == [5, 5, 5]
    for indicator in table.indicators:
        assert (indicator.scale.min, indicator.scale.max) == (1, 5)
        assert len(indicator.scale.labels) == 5
        assert indicator.weight == 1
    assert {d.weight for d in table.dimensions} == {1}
    # What no source confirms is said to be adapted, item by item.
    assert table.status == "adapted"
    adapted = " ".join(table.adapted)
    for part in ("wording", "scales", "weights", "thresholds"):
        assert part in adapted
    assert any("Samuel Hall" in s.citation and "2017" in s.citation for s in table.sources)


def test_scores_match_the_hand_computed_dimension_and_composite_scores() -> None:
    scores = score(load_table(), ANSWERS)
    assert scores == Scores(
        version=CURRENT_VERSION,
        economic=Decimal("0.500"),
        social=Decimal("0.700"),
        psychosocial=Decimal("0.650"),
        # (0.5 + 0.7 + 0.65) / 3 = 0.61666...
        composite=Decimal("0.617"),
    )
    assert Scores.from_dict(scores.as_dict()) == scores
    assert score(load_table(), ANSWERS) == scores  # the same way each time


def test_the_weights_come_from_the_table() -> None:
    heavier_income = table_with(dimensions__0__indicators__1__weight=3)
    # economic: (1 + 3 * 0.75 + 0.5 + 0.25 + 0) / (1 + 3 + 1 + 1 + 1) = 4 / 7 = 0.5714...
    scores = score(heavier_income, ANSWERS)
    assert scores.economic == Decimal("0.571")
    # composite over the unrounded dimensions: (4/7 + 0.7 + 0.65) / 3 = 0.6404...
    assert scores.composite == Decimal("0.640")


def test_a_score_on_a_tie_rounds_half_to_even() -> None:
    # Psychosocial counts twice: composite = (economic + social + 2 * psychosocial) / 4.
    table = table_with(dimensions__2__weight=2)
    answers = dict.fromkeys(ANSWERS, 1) | {"housing": 2}  # social = 0.25 / 5 = 0.05
    scores = score(table, answers)
    assert scores.social == Decimal("0.050")
    assert scores.composite == Decimal("0.012")  # 0.0125: half-even, not 0.013


def test_answers_missing_unknown_or_off_the_scale_are_refused_by_name_not_value() -> None:
    answers = {k: v for k, v in ANSWERS.items() if k != "work"} | {"safety": 7919, "Zenobia": 3}
    with pytest.raises(IntakeInvalid) as refused:
        score(load_table(), answers)
    assert set(refused.value.problems) == {
        FieldProblem("indicators.work", "is required"),
        FieldProblem("indicators.safety", "must be from 1 to 5"),
        FieldProblem("indicators.Zenobia", "is not an indicator of this table"),
    }
    assert "7919" not in str(refused.value)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"dimensions__0__weight": 0}, "dimensions.0.weight"),
        ({"dimensions__1__indicators__0__scale__labels": ["one"]}, "dimensions.1.indicators.0"),
        ({"dimensions__2__indicators__0__key": "income"}, "each key must be used once"),
        ({"adapted": []}, "adapted must list what is adapted"),
        ({"dimensions__0__key": "cultural"}, "dimensions.0.key"),
        ({"version": "Not A Version!"}, "version"),
    ],
)
def test_a_malformed_table_is_refused_naming_the_field(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match="indicator table test") as refused:
        table_with(**changes)
    assert named in str(refused.value)


def test_an_unknown_table_version_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="no such version"):
        load_table("rss-adapted-1999.01")


def test_the_report_form_asks_each_indicator_titled_by_its_question() -> None:
    schema = FollowUpReportAnswer.model_json_schema()
    fields = schema["$defs"]["SustainabilityIndicators"]["properties"]
    assert list(fields) == [i.key for i in load_table().indicators]
    income = fields["income"]
    assert income["title"] == "How regular is the person's income?"
    assert (income["minimum"], income["maximum"], income["type"]) == (1, 5, "integer")
    assert "1 = no income" in income["description"]


def report_answer(*, contacted: bool, indicators: dict[str, int] | None) -> FollowUpReportAnswer:
    return FollowUpReportAnswer.model_validate(
        {"contacted": contacted, "wellbeing": "stable" if contacted else "unreachable",
         "services_received": [], "risk_of_retrafficking": "none", "next_steps": "Visit.",
         "indicators": indicators}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("contacted", "indicators", "problems"),
    [
        (True, ANSWERS, []),
        (True, None, [FieldProblem("indicators", "are required when the person was contacted")]),
        (False, None, []),
        (
            False,
            ANSWERS,
            [FieldProblem("indicators", "must be left out when the person was not contacted")],
        ),
    ],
)
def test_indicators_are_asked_when_the_person_was_contacted_and_only_then(
    contacted: bool, indicators: dict[str, int] | None, problems: list[FieldProblem]
) -> None:
    answer = report_answer(contacted=contacted, indicators=indicators)
    history = History(consent_recorded_on=TODAY, escort_required=False, programme="BG")
    assert problems_with(answer, history) == problems


# -- the report's figures --------------------------------------------------------------------


def scored_case(store: Store, programme: str, points: list[int]) -> str:
    """Store a case whose follow-ups 1, 2, ... were answered `points` on every indicator, and
    score each as its concluding task does; return its reference.

    Every indicator at `p` scores `(p - 1) / 4` in each dimension and overall.
    """
    reference = stored_case(
        store, programme, now=NOW, arrived_on=NOW.date() - dt.timedelta(days=400)
    )
    with store.transaction() as session:
        case = get_case(session, reference)
        for number, point in enumerate(points, start=1):
            answer = report_answer(contacted=True, indicators=dict.fromkeys(ANSWERS, point))
            record_answer(
                session, store.master_key, case, "followup-report", number,
                answer_json=answer.model_dump_json().encode(), entered_by="t", summary={},
                now=NOW,
            )  # fmt: skip
            score_followup(session, store.master_key, case, number, now=NOW)
    return reference


def test_the_report_shows_quartiles_and_the_change_only_over_enough_cases(store: Store) -> None:
    # BG: six cases; their latest composites 0, 0.25, 0.25, 0.5, 0.75, 1. Five of them were
    # scored twice, from 0 (all answers 1) at the first follow-up.
    scored_case(store, "BG", [1])
    for last in (2, 2, 3, 4, 5):
        scored_case(store, "BG", [1, last])
    # RO: four cases only, fewer than the five the report needs.
    for last in (1, 2, 3, 4):
        scored_case(store, "RO", [2, last])
    with store.transaction() as session:
        figures, points = sustainability_figures(session, store.master_key, min_cases=5)
    bg, ro = figures
    assert (bg.programme, bg.cases, bg.cases_with_change) == ("BG", 6, 5)
    # Inclusive quartiles of 0, .25, .25, .5, .75, 1 (positions 1.25, 2.5 and 3.75 of 0..5):
    # q1 = .25; median = (.25 + .5) / 2 = .375; q3 = .5 + .75 * (.75 - .5) = .6875 -> .688
    expected = Quartiles("0.250", "0.375", "0.688")
    assert bg.latest == dict.fromkeys(("composite", *DIMENSIONS), expected)
    # Changes .25, .25, .5, .75, 1: mean 2.75 / 5 = .55.
    assert bg.mean_change == dict.fromkeys(("composite", *DIMENSIONS), "0.550")
    assert bg.versions == [CURRENT_VERSION]
    assert (ro.programme, ro.cases, ro.latest, ro.mean_change) == ("RO", 4, {}, {})
    assert sustainability_cells(ro) == ("RO", 4, TOO_FEW, TOO_FEW, TOO_FEW, TOO_FEW, 4, TOO_FEW)
    # The chart's points: the median composite at each follow-up, none over too few cases.
    assert [(p.programme, p.follow_up, p.cases, p.median) for p in points] == [
        ("BG", 1, 6, "0.000"),
        ("BG", 2, 5, "0.500"),
        ("RO", 1, 4, None),
        ("RO", 2, 4, None),
    ]
