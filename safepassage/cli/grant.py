"""`safepassage grant [request | deliver] REF`: a case's reintegration grant (Hungary).

`grant REF` shows the grant in amounts (planned, each increase and its decision, deliveries);
`--reveal` adds the sealed words (the recommendation, what was delivered, by whom), logged
under the operator's name. `grant request REF` asks for an increase on the mission's behalf
(a coordinator then decides at `grant-approval`, in its own run); `grant deliver REF` records
a delivery in kind. A mission does both itself in the gateway.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import typer

from safepassage.cli import common, output

REQUEST, DELIVER = "request", "deliver"
USAGE = "give one case reference, after `request` or `deliver` to record either"
_REQUEST_OPTIONS = ("--amount", "--provider", "--recommendation")
_DELIVER_OPTIONS = ("--amount", "--provider", "--what", "--on")


def grant(
    words: Annotated[
        list[str],
        typer.Argument(
            metavar="[request | deliver] REF",
            help="A case reference; after `request` to ask for an increase, after `deliver` "
            "to record a delivery in kind.",
            show_default=False,
        ),
    ],
    *,
    amount: Annotated[
        Decimal | None,
        typer.Option("--amount", help="CHF: the increase recommended, or delivered."),
    ] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="The service provider (stored encrypted).")
    ] = None,
    recommendation: Annotated[
        str | None,
        typer.Option("--recommendation", help="The provider's recommendation (stored encrypted)."),
    ] = None,
    what: Annotated[
        str | None, typer.Option("--what", help="What was delivered (stored encrypted).")
    ] = None,
    on: Annotated[
        dt.datetime | None,
        typer.Option("--on", formats=["%Y-%m-%d"], help="The delivery's date, YYYY-MM-DD."),
    ] = None,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Show the sealed words too (the read is logged).")
    ] = False,
    by: Annotated[str | None, typer.Option("--by", help="Who acts (audit trail).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show a case's reintegration grant; request an increase or record a delivery."""
    action = words[0].lower() if words and words[0].lower() in {REQUEST, DELIVER} else None
    rest = words[1:] if action else words
    if len(rest) != 1:
        raise typer.BadParameter(USAGE)
    reference = common.reference_argument(rest[0])
    given = {
        "--amount": amount, "--provider": provider, "--recommendation": recommendation,
        "--what": what, "--on": on,
    }  # fmt: skip
    allowed = _REQUEST_OPTIONS if action == REQUEST else _DELIVER_OPTIONS if action else ()
    stray = [name for name, value in given.items() if value is not None and name not in allowed]
    if stray or (reveal and action):
        raise typer.BadParameter(
            f"{', '.join(stray) or '--reveal'} does not go with "
            f"{'`grant ' + action + '`' if action else 'showing a grant'}"
        )
    actor = common.operator_name(by)
    if action is None:
        from safepassage.services.grant import grant_of  # noqa: PLC0415 - opens the store only here

        _show(grant_of(reference, reveal=reveal, actor=actor), as_json)
        return
    missing = [name for name in allowed if given[name] is None]
    if missing:
        raise typer.BadParameter(f"`grant {action}` needs {', '.join(missing)}")
    raw: dict[str, Any] = {"amount_chf": amount, "provider": provider}
    if action == REQUEST:
        raw["recommendation"] = recommendation
    else:
        raw |= {"what": what, "delivered_on": on.date() if on else None}
    from safepassage.services.grant import record_delivery, request_increase  # noqa: PLC0415 - imports prefect (3 s); only these pay

    done = (request_increase if action == REQUEST else record_delivery)(reference, raw, by=actor)
    if as_json:
        output.emit_json(done)
    elif action == REQUEST:
        started = "" if done["approval_run_started"] else " (its run starts with the scheduler)"
        output.console.print(
            f"{reference}: increase request {done['request']} recorded; a coordinator decides at "
            f"grant-approval{started}",
            markup=False,
        )
    else:
        output.console.print(
            f"{reference}: delivery {done['delivery']} of CHF {done['amount_chf']} recorded",
            markup=False,
        )


def _show(shown: dict[str, Any], as_json: bool) -> None:
    if as_json:
        output.emit_json(shown)
        return
    output.console.print(
        f"{shown['reference']}: grant CHF {shown['total_chf']} (planned {shown['planned_chf']}, "
        f"increases {shown['approved_increases_chf']}); delivered {shown['delivered_chf']}; "
        f"the ceiling leaves {shown['ceiling_leaves_chf']}",
        markup=False,
    )
    for item in shown["increases"]:
        words = f": {item['recommendation']}" if "recommendation" in item else ""
        output.console.print(
            f"  increase {item['number']}: CHF {item['recommended_chf']} recommended, "
            f"{item['decision']} (CHF {item['approved_chf']}){words}",
            markup=False,
        )
    for item in shown["deliveries"]:
        words = (
            f": {item['what']} by {item['provider']} on {item['delivered_on']}"
            if ("what" in item)
            else ""
        )
        output.console.print(
            f"  delivery {item['number']}: CHF {item['amount_chf']}{words}", markup=False
        )


def register(app: typer.Typer) -> None:
    """Add `grant` to the app."""
    app.command(name="grant")(grant)
