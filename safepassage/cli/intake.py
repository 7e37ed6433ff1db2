"""`safepassage intake`: validate a case file, decide eligibility, and take the case in."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from safepassage.cli import common, output
from safepassage.models.clock import utcnow

if TYPE_CHECKING:
    from safepassage.models.rules import Decision


def _print_decision(decision: Decision) -> None:
    output.console.print(
        f"decision: {decision.outcome.value} (rules {decision.rules_version}, office policy "
        f"{decision.office_policy_version})",
        markup=False,
    )
    for reason in decision.reasons:
        output.console.print(f"  - {reason}", markup=False)
    if decision.escort_required:
        output.console.print("escort required: yes (the booking must include one)", markup=False)


def intake(
    file: Annotated[Path, typer.Argument(help="The case file (JSON) to take in.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and decide only; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who takes the case in (audit trail).")
    ] = None,
) -> None:
    """Validate a case file, decide eligibility, and (without --dry-run) store the case."""
    from safepassage.models.intake import parse_intake  # noqa: PLC0415 - pydantic and the rules; only this command pays
    from safepassage.models.rules import decide  # noqa: PLC0415 - as above

    raw = common.read_document(file, source="case file")
    case_file = parse_intake(raw)
    decision = decide(case_file, today=utcnow().date())
    result: dict[str, Any] = {"decision": decision.as_dict()}
    if not dry_run:
        from safepassage.services.intake import take_in  # noqa: PLC0415 - imports prefect (3 s); only this command pays

        result.update(take_in(case_file, decision, actor=common.operator_name(by)))
    if as_json:
        output.emit_json(result)
        return
    if "reference" in result:
        output.console.print(f"reference: {result['reference']}", markup=False)
    _print_decision(decision)
    if "flow_run_id" in result:
        output.console.print(
            f"flow run: {result['flow_run_id']}\nPrefect UI: {result['ui_url']}", markup=False
        )
    if dry_run:
        output.console.print("dry run: nothing was stored", markup=False)


def register(app: typer.Typer) -> None:
    """Add the intake command to the app."""
    app.command("intake")(intake)
