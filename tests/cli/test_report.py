"""`safepassage report` prints the office's figures, writes them as CSV and JSON, draws a chart."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from PIL import Image

from safepassage.cli.chart import DPI, SIZE_INCHES
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.rules import decide
from safepassage.models.store.cases import create_case
from safepassage.models.store.db import Store
from safepassage.models.store.workflow import open_checkpoint, set_stage
from safepassage.models.vocabulary import Stage
from tests.cli.helpers import cli_actor, run_cli
from tests.factories import PERSONAL_VALUES, TODAY, intake

NOW = dt.datetime.now(dt.UTC)


def _seed(store: Store) -> list[str]:
    references = []
    with store.transaction() as session:
        for programme, days_waiting in [("BG", 30), ("BG", 2), ("RO", 10), ("HU", None)]:
            case_file = intake(programme)
            start = NOW - dt.timedelta(days=40)
            case = create_case(
                session,
                store.master_key,
                case_file,
                decide(case_file, today=TODAY),
                actor="t",
                now=start,
            )
            set_stage(session, case, Stage.TRAVEL_DOCUMENT, actor="t", now=start + dt.timedelta(1))
            if days_waiting is not None:
                opened = NOW - dt.timedelta(days=days_waiting)
                open_checkpoint(session, case, Checkpoint.TRAVEL_DOCUMENT.value, 1, now=opened)
            references.append(case.reference)
    return references


def test_report_prints_tables_and_writes_csv_json_and_a_chart(
    sqlite_store: Store, tmp_path: Path
) -> None:
    references = _seed(sqlite_store)
    csv_path, chart_path = tmp_path / "out" / "report.csv", tmp_path / "out" / "report.png"

    result = run_cli("report", "--json", "--csv", str(csv_path), "--chart", str(chart_path))
    assert result.code == 0, result.stderr
    figures = result.json()
    assert figures["total_cases"] == 4
    (waiting,) = figures["waiting"]
    assert (waiting["checkpoint"], waiting["cases"], waiting["over_limit"]) == (
        "travel-document",
        3,
        1,
    )
    assert [b["reference"] for b in figures["breaches"]] == [references[0]]

    rows = list(csv.DictReader(csv_path.read_text().splitlines()))
    assert sum(int(r["count"]) for r in rows if r["section"] == "cases by stage") == 4
    with Image.open(chart_path) as image:
        assert image.format == "PNG"
        assert image.size == (int(SIZE_INCHES[0] * DPI), int(SIZE_INCHES[1] * DPI))
    assert 20_000 < chart_path.stat().st_size < 2_000_000

    tables = run_cli("report")
    assert tables.code == 0, tables.stderr
    assert "Over the time limit" in tables.stdout
    assert references[0] in tables.stdout
    for text in (tables.stdout, result.stdout, csv_path.read_text()):
        for value in PERSONAL_VALUES.values():
            assert value not in text


def test_a_wrong_time_limit_setting_is_named(sqlite_store: Store) -> None:
    result = run_cli("report", env={"SAFEPASSAGE_SLA_DAYS": '{"passport": 3}'})
    assert result.code == 2
    assert "SAFEPASSAGE_SLA_DAYS names 'passport'" in result.stderr


def test_the_csv_leaves_out_which_cases_are_late_and_records_no_export(
    sqlite_store: Store, tmp_path: Path
) -> None:
    late = _seed(sqlite_store)[0]
    csv_path = tmp_path / "report.csv"
    result = run_cli("report", "--csv", str(csv_path))
    assert result.code == 0, result.stderr
    assert late in result.stdout  # the coordinator at the terminal still sees which case
    content = csv_path.read_text()
    assert late not in content
    rows = list(csv.DictReader(content.splitlines()))
    (breach,) = [r for r in rows if r["section"] == "over time limit"]
    assert breach["item"] == "a case at travel-document (attempt 1)"
    entries = run_cli("audit", late, "--json").json()["entries"]
    assert not [e for e in entries if e["what"] == "exported"]


def test_references_go_in_the_csv_only_with_a_reason_and_each_is_an_audited_export(
    sqlite_store: Store, tmp_path: Path
) -> None:
    late, *on_time = _seed(sqlite_store)
    csv_path = tmp_path / "report.csv"
    options = ["--with-references", "--reason", "monthly time-limit review", "--by", "A. Analyst"]
    result = run_cli("report", "--csv", str(csv_path), *options)
    assert result.code == 0, result.stderr
    assert late in csv_path.read_text()

    entries = run_cli("audit", late, "--json").json()["entries"]
    (export,) = [e for e in entries if e["what"] == "exported"]
    assert export["who"] == cli_actor("A. Analyst")
    assert "report --csv --with-references (monthly time-limit review)" in export["detail"]
    for reference in on_time:  # not in the file, so not exported
        entries = run_cli("audit", reference, "--json").json()["entries"]
        assert not [e for e in entries if e["what"] == "exported"]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--with-references"], "--reason: is required with --with-references"),
        (["--with-references", "--reason", "  "], "--reason:"),
        (["--reason", "review"], "--reason: goes with --with-references only"),
    ],
)
def test_with_references_needs_a_reason_and_writes_nothing_without_one(
    sqlite_store: Store, tmp_path: Path, options: list[str], named: str
) -> None:
    _seed(sqlite_store)
    csv_path = tmp_path / "report.csv"
    result = run_cli("report", "--csv", str(csv_path), *options)
    assert result.code == 2
    assert named in result.stderr
    assert not csv_path.exists()


def test_with_references_without_a_csv_file_is_refused(sqlite_store: Store) -> None:
    result = run_cli("report", "--with-references", "--reason", "review")
    assert result.code == 2
    assert "--with-references: goes with --csv FILE" in result.stderr


def test_the_report_shows_sustainability_scores_only_over_enough_cases(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.models.test_sustainability import scored_case

    for last in (2, 3, 4):
        scored_case(sqlite_store, "BG", [1, last])
    monkeypatch.setenv("SAFEPASSAGE_REPORT_MIN_CASES", "3")
    figures = run_cli("report", "--json").json()["sustainability"]
    # Latest composites .25, .5, .75; changes from 0 the same: mean .5.
    names = ["composite", "economic", "social", "psychosocial"]
    spread = {"q1": "0.375", "median": "0.500", "q3": "0.625"}
    assert figures == [
        {"programme": "BG", "cases": 3, "cases_with_change": 3,
         "latest": {name: dict(spread) for name in names},
         "mean_change": dict.fromkeys(names, "0.500"), "versions": ["rss-adapted-2026.12"]}
    ]  # fmt: skip
    monkeypatch.setenv("SAFEPASSAGE_REPORT_MIN_CASES", "4")
    chart_path = tmp_path / "report.png"
    printed = run_cli("report", "--chart", str(chart_path))
    assert printed.code == 0, printed.stderr
    assert "too few cases" in printed.stdout
    assert "0.500" not in printed.stdout
    assert chart_path.stat().st_size > 20_000
