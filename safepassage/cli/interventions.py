"""`safepassage withdraw` and `safepassage risk`: when plans change before the person travels."""

from __future__ import annotations

from typing import Annotated

import typer

from safepassage.cli import common, output
from safepassage.models.vocabulary import RiskLevel


def withdraw(
    reference: Annotated[str, typer.Argument(help="The case reference.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (stored encrypted; never sent to Prefect).")
    ],
    by: Annotated[str | None, typer.Option("--by", help="Who records it (audit trail).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Withdraw a case before arrival: its run stops, an open booking is cancelled, mission told."""
    from safepassage.services.interventions import withdraw as run_withdrawal  # noqa: PLC0415 - imports prefect (3 s); only this command pays

    result = run_withdrawal(
        common.reference_argument(reference), reason, actor=common.operator_name(by)
    )
    if as_json:
        output.emit_json(result)
        return
    output.console.print(f"{result['reference']} withdrawn (run {result['withdraw_run_id']})")


def risk(
    reference: Annotated[str, typer.Argument(help="The case reference.")],
    level: Annotated[RiskLevel, typer.Option("--level", help="The new risk level.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (stored encrypted; never sent to Prefect).")
    ],
    by: Annotated[str | None, typer.Option("--by", help="Who records it (audit trail).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Record a changed risk before departure; `high` holds travel until a coordinator rules."""
    from safepassage.services.interventions import raise_risk  # noqa: PLC0415 - imports prefect (3 s); only this command pays

    result = raise_risk(
        common.reference_argument(reference), level, reason, actor=common.operator_name(by)
    )
    if as_json:
        output.emit_json(result)
        return
    held = "travel is on hold until a coordinator approves again" if result["holds_travel"] else ""
    output.console.print(f"{result['reference']}: risk {result['level']} recorded. {held}".strip())


def register(app: typer.Typer) -> None:
    """Add the withdrawal and risk commands to the app."""
    app.command("withdraw")(withdraw)
    app.command("risk")(risk)
