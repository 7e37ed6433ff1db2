"""`safepassage followups`, `followups reconcile` and `arrival`: reintegration follow-ups.

The listing shows dates, states and runs, never a report's content; `safepassage case REF`
shows a case's plan and reports (masked unless --reveal, and a reveal is logged).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from safepassage.cli import common, output
from safepassage.models.crypto import MasterKey
from safepassage.models.followup_plan import report_by
from safepassage.models.store.cases import get_case
from safepassage.models.store.events import append_event
from safepassage.models.store.followups import (
    REPORT_CHECKPOINT,
    FollowUpView,
    case_followups,
    effective_state,
    list_followups,
)
from safepassage.models.store.orm import Case
from safepassage.models.store.workflow import answer_purpose, find_answer, read_answer

RECONCILE = "reconcile"
MASK = "•••"
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
    # One command with a free argument list, as `notifications`: click parses a group's own
    # argument before its subcommand. A reference can never be the word `reconcile`.
    args = list(words or [])
    if args and args[0].lower() == RECONCILE:
        if len(args) > 2 or due or overdue:
            raise typer.BadParameter("`reconcile` takes at most one case reference and no filter")
        _reconcile(common.reference_argument(args[1]) if len(args) == 2 else None, as_json)
        return
    if len(args) > 1:
        raise typer.BadParameter("give at most one case reference (or `reconcile [REF]`)")
    reference = common.reference_argument(args[0]) if args else None
    store = common.store()
    try:
        with store.transaction() as session:
            if reference is not None:
                get_case(session, reference)  # CaseNotFound (exit 2) rather than an empty list
            views = list_followups(
                session,
                today=common.now().date(),
                reference=reference,
                due=due,
                overdue=overdue,
                limit=limit,
            )
    finally:
        store.dispose()
    if as_json:
        output.emit_json([v.as_dict() for v in views])
        return
    if not views:
        output.console.print("no follow-ups match" if due or overdue else "no follow-ups yet")
        return
    output.table(
        None, ["reference", "#", "due", "report by", "state", "run at", "risk"], _rows(views)
    )


def _rows(views: list[FollowUpView]) -> list[tuple[str, ...]]:
    return [
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
    ]


def _reconcile(reference: str | None, as_json: bool) -> None:
    from safepassage.deployments.followup_operations import reconcile_followups_now

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
    from safepassage.deployments.followup_operations import correct_arrival_date

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


def followup_section(
    session: Session,
    master_key: MasterKey,
    case: Case,
    *,
    reveal: bool,
    actor: str,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Return the case's follow-up plan and reports for `case REF`; reports masked unless revealed.

    A reveal of reports is logged as a disclosure, like the intake's.
    """
    rows, revealed = [], []
    for row in case_followups(session, case):
        answer = find_answer(session, case, REPORT_CHECKPOINT, row.number)
        report: dict[str, Any] | None = None
        if answer is not None:
            report = {
                "entered_by": answer.entered_by,
                "answered_at": answer.answered_at.isoformat(),
                "risk_raised": bool(answer.summary.get("risk_raised")),
            }
            if reveal:
                content = json.loads(
                    read_answer(session, master_key, case, REPORT_CHECKPOINT, row.number)
                )
                report.update({name: content.get(name) for name in REPORT_FIELDS})
                revealed.append(answer_purpose(REPORT_CHECKPOINT, row.number))
            else:
                report.update(dict.fromkeys(REPORT_FIELDS, MASK))
        rows.append(
            {
                "number": row.number,
                "offset_months": row.offset_months,
                "due_on": row.due_on.isoformat(),
                "report_by": report_by(row.due_on, row.window_days).isoformat(),
                "state": effective_state(row, now.date()).value,
                "scheduled_for": row.scheduled_for.isoformat() if row.scheduled_for else None,
                "report": report,
            }
        )
    if revealed:
        append_event(
            session,
            reference=case.reference,
            kind="personal-data-revealed",
            actor=actor,
            at=now,
            stage=case.stage,
            detail={"purpose": "cli case --reveal", "records": revealed},
        )
    return rows


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
            f"report {r['number']} ({report['answered_at'][:10]}, by {report['entered_by']}):",
            markup=False,
        )
        for name in REPORT_FIELDS:
            value = report[name]
            shown = ", ".join(value) if isinstance(value, list) else value
            output.console.print(f"  {name}: {shown}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the follow-up commands to the app."""
    app.command("followups")(followups)
    app.command("arrival")(arrival)
