"""`safepassage report`: the office's figures, as tables, CSV, JSON or a chart for donors.

The figures (see `services.reports`) need no Prefect server and hold no personal data.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

from safepassage.cli import output
from safepassage.cli.chart import draw_chart
from safepassage.models.report import ROW_COLUMNS, Report
from safepassage.services.reports import office_report


def report(
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write the flat table to this CSV file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
    chart: Annotated[
        Path | None,
        typer.Option("--chart", help="Also draw cases and days per stage to this PNG file."),
    ] = None,
) -> None:
    """Show cases per programme and stage, waits and time limits, follow-ups, failed deliveries."""
    figures = office_report()
    if csv_file is not None:
        write_csv(figures, csv_file)
    if chart is not None:
        draw_chart(figures, chart)
    if as_json:
        output.emit_json(figures.as_dict())
    else:
        print_report(figures)
    for path in (csv_file, chart):
        if path is not None:
            output.notice(f"wrote {path}")


def write_csv(figures: Report, path: Path) -> None:
    """Write the report's flat table (one row per figure) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=ROW_COLUMNS)
        writer.writeheader()
        writer.writerows(figures.rows())


def print_report(figures: Report) -> None:
    """Print the report as tables for people."""
    output.console.print(
        f"Case report, {figures.generated_at:%Y-%m-%d %H:%M} UTC: {figures.total_cases} case(s)",
        markup=False,
    )
    output.table(
        "Cases per programme and stage",
        ["programme", "stage", "cases"],
        [(s.programme, s.stage, s.cases) for s in figures.stages],
    )
    output.table(
        "Waiting at a checkpoint",
        ["checkpoint", "cases", "longest (days)", "median (days)", "over limit", "limit"],
        [
            (w.checkpoint, w.cases, w.longest_days, w.median_days, w.over_limit, w.limit)
            for w in figures.waiting
        ],
    )
    output.table(
        "Over the time limit",
        ["reference", "programme", "checkpoint", "attempt", "waiting (days)", "limit"],
        [
            (b.reference, b.programme, b.checkpoint, b.attempt, b.waited_days, b.limit)
            for b in figures.breaches
        ],
    )
    output.table(
        "Follow-ups overdue (window passed without a report)",
        ["programme", "follow-ups"],
        [(f.programme, f.count) for f in figures.followups_overdue],
    )
    output.table(
        "Deliveries failed",
        ["programme", "notifications"],
        [(d.programme, d.count) for d in figures.deliveries_failed],
    )
    output.table(
        "Mean days per stage (stays completed)",
        ["programme", "stage", "stays", "mean (days)"],
        [(t.programme, t.stage, t.stays, t.mean_days) for t in figures.stage_times],
    )


def register(app: typer.Typer) -> None:
    """Add the report command to the app."""
    app.command("report")(report)
