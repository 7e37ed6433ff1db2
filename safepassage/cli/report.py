"""`safepassage report`: the office's figures, as tables, CSV, JSON or a chart for donors.

The figures (see `services.reports`) need no Prefect server and hold no personal data.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from safepassage.cli import common, output
from safepassage.models.errors import ConfigurationError, FieldProblem, IntakeInvalid
from safepassage.models.private_files import open_private

if TYPE_CHECKING:  # the figures read the store: imported in the command
    from safepassage.models.report import Report


def report(
    *,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write the flat table to this CSV file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
    chart: Annotated[
        Path | None,
        typer.Option(
            "--chart",
            help="Also draw cases and days per stage, and the median sustainability score per "
            "follow-up, to this PNG file.",
        ),
    ] = None,
    with_references: Annotated[
        bool,
        typer.Option(
            "--with-references",
            help="Put the references of cases over their time limit in the CSV file (needs "
            "--reason; each case's audit trail records the export).",
        ),
    ] = False,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            help="Why the references leave the office (kept in the audit log, so without "
            "personal details).",
        ),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who exports (audit trail).")] = None,
) -> None:
    """Show cases per programme and stage, waits and time limits, follow-ups, failed deliveries.

    The CSV file leaves out which cases are over their time limit unless --with-references.
    """
    check_reference_options(csv_file, with_references=with_references, reason=reason)
    from safepassage.services.reports import office_report, record_reference_export  # noqa: PLC0415 - opens the store only here

    figures = office_report()
    if csv_file is not None:
        if with_references and reason is not None:
            record_reference_export(figures, actor=common.operator_name(by), reason=reason)
        write_csv(figures, csv_file, references=with_references)
    if chart is not None:
        from safepassage.cli.chart import draw_chart  # noqa: PLC0415 - only `report --chart` draws

        draw_chart(figures, chart)
    if as_json:
        output.emit_json(figures.as_dict())
    else:
        print_report(figures)
    for path in (csv_file, chart):
        if path is not None:
            output.notice(f"wrote {path}")


def check_reference_options(
    csv_file: Path | None, *, with_references: bool, reason: str | None
) -> None:
    """Refuse --with-references without --csv or --reason, and --reason without it."""
    problems = []
    if with_references and csv_file is None:
        problems.append(FieldProblem("--with-references", "goes with --csv FILE"))
    if with_references and reason is None:
        problems.append(
            FieldProblem("--reason", "is required with --with-references: say why they leave")
        )
    if reason is not None and not with_references:
        problems.append(FieldProblem("--reason", "goes with --with-references only"))
    if problems:
        raise IntakeInvalid(problems, source="the command")


def write_csv(figures: Report, path: Path, *, references: bool) -> None:
    """Write the report's flat table (one row per figure) to `path`, owner-only (0600)."""
    from safepassage.models.report import ROW_COLUMNS  # noqa: PLC0415 - loaded by the figures already

    try:
        with open_private(path, "w") as handle:
            writer = csv.DictWriter(handle, fieldnames=ROW_COLUMNS)
            writer.writeheader()
            writer.writerows(figures.rows(references=references))
    except OSError as exc:
        raise ConfigurationError(
            f"--csv {path}: cannot write it ({exc.strerror}); give a file in a folder you may "
            "write to"
        ) from None


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
    from safepassage.models.reintegration_figures import (  # noqa: PLC0415 - SQLAlchemy; `--help` needs none
        REINTEGRATION_COLUMNS,
        reintegration_cells,
    )

    output.table(
        "Reintegration plans and grants (CHF)",
        REINTEGRATION_COLUMNS,
        [reintegration_cells(r) for r in figures.reintegration],
    )
    from safepassage.models.sustainability.figures import (  # noqa: PLC0415 - loaded by the figures already
        SUSTAINABILITY_COLUMNS,
        sustainability_cells,
    )

    output.table(
        "Sustainability scores at the latest follow-up (0 worst, 1 best; q1 / median / q3)",
        SUSTAINABILITY_COLUMNS,
        [sustainability_cells(f) for f in figures.sustainability],
    )


def register(app: typer.Typer) -> None:
    """Add the report command to the app."""
    app.command("report")(report)
