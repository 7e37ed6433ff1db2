"""`safepassage followups`, `followups reconcile`, `followups add`, `arrival` and `close`.

The listing shows dates, states and runs, never a report's content; of one case (`followups
REF`) each report's sustainability scores too, a read of personal data logged under the
operator's name. `safepassage case REF` shows a case's plan and reports (masked unless
--reveal, and a reveal is logged). `followups
add REF --months N --reason CODE` adds a follow-up N months from today; `close REF --reason
CODE` closes a case the follow-ups left open. Their reasons are codes from a list
(models/followup_decisions.py), checked here before anything is imported or written.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import typer

from safepassage.cli import common, output
from safepassage.models.errors import FieldProblem, IntakeInvalid
from safepassage.models.followup_decisions import (
    CLOSURE_REASON_CODES,
    EXTRA_REASON_CODES,
    MAX_EXTRA_MONTHS,
    ClosureReason,
    ExtraFollowUpReason,
)

if TYPE_CHECKING:  # the services open the store: imported in the commands that need it
    from safepassage.services.cases import FollowUpReport, PlannedFollowUp

RECONCILE = "reconcile"
RECONCILE_USAGE = "`reconcile` takes at most one case reference and no filter"
ADD = "add"
ADD_USAGE = "`add` takes one case reference, --months and --reason, and no filter"
#: The report's fields that are personal (sealed in the store); shown only with --reveal.
REPORT_FIELDS = (
    "contacted",
    "wellbeing",
    "services_received",
    "risk_of_retrafficking",
    "next_steps",
    "indicators",
)


def followups(
    words: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[REF | reconcile [REF] | add REF]",
            help="A case reference to list only its follow-ups; `reconcile` to bring "
            "Prefect's scheduled runs in line with the case store now (of one case, or all); "
            "`add REF` to add a follow-up N months from today (with --months and --reason).",
            show_default=False,
        ),
    ] = None,
    *,
    due: Annotated[
        bool, typer.Option("--due", help="Only follow-ups due now whose window is open.")
    ] = False,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only follow-ups whose report window passed.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")] = 500,
    # Plain strings, not an int and a choice: click's own errors repeat the value typed.
    months: Annotated[
        str | None,
        typer.Option(
            "--months", metavar="N", help=f"With `add`: months from today (1-{MAX_EXTRA_MONTHS})."
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            metavar="CODE",
            help=f"With `add`: why, as a code kept in the audit log: {EXTRA_REASON_CODES}.",
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who adds it, or reads a case's scores (audit trail)."),
    ] = None,
) -> None:
    """List follow-ups by due date; `reconcile` schedules, moves and recreates their runs now.

    Of one case (REF), each report's sustainability scores too: the read is logged.
    """
    if words and words[0].lower() == ADD:
        _add(words[1:], months, reason, by, as_json, filtered=due or overdue)
        return
    if months is not None or reason is not None:
        raise typer.BadParameter("--months and --reason go with `add REF` only")
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
    scores = _scores(reference, as_json=as_json, by=by) if reference is not None and views else {}
    if as_json:
        output.emit_json(
            [
                v.as_dict() | ({"scores": scores.get(v.number)} if reference is not None else {})
                for v in views
            ]
        )
        return
    if not views:
        output.console.print("no follow-ups match" if due or overdue else "no follow-ups yet")
        return
    output.table(
        None,
        ["reference", "#", "due", "report by", "state", "run at", "risk"]
        + (["score (composite; econ / social / psycho)"] if reference is not None else []),
        [
            (
                v.reference,
                str(v.number),
                v.due_on.isoformat(),
                v.report_by.isoformat(),
                v.state.value,
                f"{v.scheduled_for:%Y-%m-%d %H:%M}" if v.scheduled_for else "",
                "" if v.risk_raised is None else "RAISED" if v.risk_raised else "no",
                *([_score_cell(scores.get(v.number))] if reference is not None else []),
            )
            for v in views
        ],
    )


def _scores(reference: str, *, as_json: bool, by: str | None) -> dict[int, dict[str, str]]:
    from safepassage.services.followup_scores import followup_scores  # noqa: PLC0415 - opens the store only here

    # Logged like `case --reveal`: JSON is an export (it can be kept), a table is a look.
    purpose = "export: cli followups REF --json" if as_json else "cli followups REF"
    return followup_scores(reference, actor=common.operator_name(by), purpose=purpose)


def _score_cell(scores: dict[str, str] | None) -> str:
    if scores is None:
        return ""
    return (
        f"{scores['composite']}; {scores['economic']} / {scores['social']} / "
        f"{scores['psychosocial']}"
    )


def _add(
    words: list[str],
    months: str | None,
    reason: str | None,
    by: str | None,
    as_json: bool,
    *,
    filtered: bool,
) -> None:
    if len(words) != 1 or filtered:
        raise typer.BadParameter(ADD_USAGE)
    reference = common.reference_argument(words[0])
    # Checked before anything is imported or written; the values are never repeated.
    problems = []
    if months is None or not months.strip().isdigit() or not 1 <= int(months) <= MAX_EXTRA_MONTHS:
        problems.append(
            FieldProblem("--months", f"must be a whole number from 1 to {MAX_EXTRA_MONTHS}")
        )
    if (reason or "").strip().lower() not in {c.value for c in ExtraFollowUpReason}:
        problems.append(FieldProblem("--reason", f"must be one of {EXTRA_REASON_CODES}"))
    if problems:
        raise IntakeInvalid(problems, source="the command")
    from safepassage.services.followup_decisions import add_followup  # noqa: PLC0415 - opens the store only here

    result = add_followup(
        reference, months=months or "", reason=reason or "", actor=common.operator_name(by)
    )
    if as_json:
        output.emit_json(result)
        return
    output.console.print(
        f"{result['reference']}: follow-up {result['number']} added, due {result['due_on']}, "
        f"report by {result['report_by']} ({result['reason']})",
        markup=False,
    )
    if result["runs"] is None:
        output.notice("no Prefect server answered: the daily followup-scheduler schedules it")


def close(
    reference: Annotated[str, typer.Argument(help="The case reference.")],
    *,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            metavar="CODE",
            help=f"Why, as a code kept in the audit log: {CLOSURE_REASON_CODES}.",
        ),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option(
            "--note",
            help="More detail, without personal details: sealed with the case's data, never "
            "in the audit log.",
        ),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who closes it (audit trail).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Close a case after arrival (one the follow-ups left open): pending follow-ups stop."""
    ref = common.reference_argument(reference)
    if (reason or "").strip().lower() not in {c.value for c in ClosureReason}:
        raise IntakeInvalid(
            [FieldProblem("--reason", f"must be one of {CLOSURE_REASON_CODES}")],
            source="the command",
        )
    from safepassage.services.followup_decisions import close_case  # noqa: PLC0415 - opens the store only here

    result = close_case(ref, reason=reason or "", note=note, actor=common.operator_name(by))
    if as_json:
        output.emit_json(result)
        return
    cancelled = ", ".join(f"#{n}" for n in result["followups_cancelled"]) or "none"
    output.console.print(
        f"{ref}: closed ({result['reason']}); follow-ups cancelled: {cancelled}", markup=False
    )
    if result["runs"] is None and result["followups_cancelled"]:
        output.notice("no Prefect server answered: the daily followup-scheduler stops the runs")


def _reconcile(reference: str | None, as_json: bool) -> None:
    from safepassage.services.followups import reconcile_followups_now  # noqa: PLC0415 - imports prefect (3 s); only this command pays

    report = reconcile_followups_now(reference)
    if as_json:
        output.emit_json(report)
        return
    output.console.print(
        f"examined {report['examined']}: created {report['created']}, recreated "
        f"{report['recreated']}, rescheduled {report['rescheduled']}, unscheduled "
        f"{report['unscheduled']}, cancelled {report['cancelled']}; sent "
        f"{len(report['notified'])} notice(s), reminder(s) and escalation(s); closed "
        f"{len(report['closed'])} declined case(s)",
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
            shown = (
                ", ".join(value)
                if isinstance(value, list)
                else ", ".join(f"{k} {v}" for k, v in value.items())
                if isinstance(value, dict)
                else value
            )
            output.console.print(f"  {name}: {output.visible(str(shown))}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the follow-up commands to the app."""
    app.command("followups")(followups)
    app.command("arrival")(arrival)
    app.command("close")(close)
