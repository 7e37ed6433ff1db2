"""`safepassage followups`, `followups reconcile` and `arrival`: reintegration follow-ups.

The listing shows dates, states and runs, never a report's content; `safepassage case REF`
shows a case's plan and reports (masked unless --reveal, and a reveal is logged).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import typer

from safepassage.cli import common, output

if TYPE_CHECKING:  # the services open the store: imported in the commands that need it
    from safepassage.services.cases import FollowUpReport, PlannedFollowUp

RECONCILE = "reconcile"
RECONCILE_USAGE = "`reconcile` takes at most one case reference and no filter"
#: The report's fields that are personal (sealed in the store); shown only with --reveal.
REPORT_FIELDS = (
    "contacted",
    "wellbeing",
    "services_received",
    "risk_of_retrafficking",
    "next_steps",
)


def followups(
    words: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[REF | reconcile [REF]]",
            help="A case reference to list only its follow-ups, or `reconcile` to bring "
            "Prefect's scheduled runs in line with the case store now (of one case, or all).",
            show_default=False,
        ),
    ] = None,
    due: Annotated[
        bool, typer.Option("--due", help="Only follow-ups due now whose window is open.")
    ] = False,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only follow-ups whose report window passed.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")] = 500,
) -> None:
    """List follow-ups by due date; `reconcile` schedules, moves and recreates their runs now."""
    reconcile, reference = common.action_or_reference(
        words,
        RECONCILE,
        reference_required=False,
        usage="give at most one case reference (or `reconcile [REF]`)",
        action_usage=RECONCILE_USAGE,
        refused=RECONCILE_USAGE if due or overdue else None,
    )
    if reconcile:
        _reconcile(reference, as_json)
        return
    from safepassage.services.cases import followup_list  # noqa: PLC0415 - opens the store only here

    views = followup_list(reference=reference, due=due, overdue=overdue, limit=limit)
    if as_json:
        output.emit_json([v.as_dict() for v in views])
        return
    if not views:
        output.console.print("no follow-ups match" if due or overdue else "no follow-ups yet")
        return
    output.table(
        None,
        ["reference", "#", "due", "report by", "state", "run at", "risk"],
        [
            (
                v.reference,
                str(v.number),
                v.due_on.isoformat(),
                v.report_by.isoformat(),
                v.state.value,
                f"{v.scheduled_for:%Y-%m-%d %H:%M}" if v.scheduled_for else "",
                "" if v.risk_raised is None else "RAISED" if v.risk_raised else "no",
            )
            for v in views
        ],
    )


def _reconcile(reference: str | None, as_json: bool) -> None:
    from safepassage.services.followups import reconcile_followups_now  # noqa: PLC0415 - imports prefect (3 s); only this command pays

    report = reconcile_followups_now(reference)
    if as_json:
        output.emit_json(report)
        return
    output.console.print(
        f"examined {report['examined']}: created {report['created']}, recreated "
        f"{report['recreated']}, rescheduled {report['rescheduled']}, unscheduled "
        f"{report['unscheduled']}, cancelled {report['cancelled']}; escalated "
        f"{len(report['escalated'])} overdue",
        markup=False,
    )
    for broken in report["broken"]:
        output.notice(f"{broken}: its run ended without a report; open it in the Prefect UI")


def arrival(
    reference: Annotated[str, typer.Argument(help="The case reference.")],
    date: Annotated[
        dt.datetime,
        typer.Option("--date", formats=["%Y-%m-%d"], help="The actual arrival date, YYYY-MM-DD."),
    ],
    by: Annotated[str | None, typer.Option("--by", help="Who corrects it (audit trail).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Correct a case's arrival date: follow-ups not yet started are re-planned from it."""
    from safepassage.services.followups import correct_arrival_date  # noqa: PLC0415 - imports prefect (3 s); only this command pays

    result = correct_arrival_date(
        common.reference_argument(reference), date.date(), actor=common.operator_name(by)
    )
    if as_json:
        output.emit_json(result)
        return
    moved = ", ".join(f"#{m['number']} to {m['due_on']}" for m in result["moved"]) or "none"
    output.console.print(f"{result['reference']}: arrival {result['arrived_on']}; moved {moved}")
    if result["runs"] is None:
        output.notice("no Prefect server answered: the daily followup-scheduler moves the runs")


def followup_rows(plan: list[PlannedFollowUp]) -> list[dict[str, Any]]:
    """Return a case's follow-up plan and reports as `case REF` shows them (JSON-ready).

    A report's personal fields are masked unless the service revealed them.
    """
    return [
        {
            "number": f.number,
            "offset_months": f.offset_months,
            "due_on": f.due_on.isoformat(),
            "report_by": f.report_by.isoformat(),
            "state": f.state,
            "scheduled_for": f.scheduled_for.isoformat() if f.scheduled_for else None,
            "report": None if f.report is None else _report_dict(f.report),
        }
        for f in plan
    ]


def _report_dict(report: FollowUpReport) -> dict[str, Any]:
    content = report.content
    return {
        "entered_by": report.entered_by,
        "answered_at": report.answered_at.isoformat(),
        "risk_raised": report.risk_raised,
        **(
            dict.fromkeys(REPORT_FIELDS, output.MASK)
            if content is None
            else {name: content.get(name) for name in REPORT_FIELDS}
        ),
    }


def print_followups(rows: list[dict[str, Any]]) -> None:
    """Print a case's follow-up plan, then each report (as masked or revealed in `rows`)."""
    if not rows:
        return
    output.table(
        "follow-ups",
        ["#", "due", "report by", "state", "risk"],
        [
            (
                r["number"],
                r["due_on"],
                r["report_by"],
                r["state"],
                "" if r["report"] is None else "RAISED" if r["report"]["risk_raised"] else "no",
            )
            for r in rows
        ],
    )
    for r in rows:
        report = r["report"]
        if report is None:
            continue
        output.console.print(
            f"report {r['number']} ({report['answered_at'][:10]}, "
            f"by {output.visible(report['entered_by'])}):",
            markup=False,
        )
        for name in REPORT_FIELDS:
            value = report[name]
            shown = ", ".join(value) if isinstance(value, list) else value
            output.console.print(f"  {name}: {output.visible(str(shown))}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the follow-up commands to the app."""
    app.command("followups")(followups)
    app.command("arrival")(arrival)
