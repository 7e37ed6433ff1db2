"""`safepassage cases` and `safepassage case REF`: the case list and one case's timeline.

The store (SQLAlchemy, pydantic) is imported inside the commands: every other command, and
`--help`, starts without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from safepassage.cli import common, output
from safepassage.cli.followups import followup_rows, print_followups

if TYPE_CHECKING:
    from safepassage.models.intake import Intake
    from safepassage.services.cases import TimelineEvent


def cases(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")] = 200,
) -> None:
    """List cases, newest first, without any personal data."""
    from safepassage.services.cases import case_list  # noqa: PLC0415 - opens the store only here

    summaries = case_list(limit=limit)
    if as_json:
        output.emit_json([s.as_dict() for s in summaries])
        return
    if not summaries:
        output.console.print("no cases yet: take one in with `safepassage intake FILE`")
        return
    output.table(
        None,
        ["reference", "programme", "to", "stage", "status", "decision", "taken in"],
        [
            (
                s.reference,
                s.programme,
                s.destination_country,
                s.stage,
                s.status,
                s.decision,
                f"{s.created_at:%Y-%m-%d %H:%M}",
            )
            for s in summaries
        ],
    )


def _event_dict(event: TimelineEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "kind": event.kind,
        "actor": event.actor,
        "stage": event.stage,
        "rules_version": event.rules_version,
        "detail": event.detail,
    }


def _personal_view(intake: Intake | None) -> dict[str, Any]:
    """Return the intake's personal sections, revealed or masked field by field."""
    from safepassage.models.intake import Beneficiary  # noqa: PLC0415 - loaded by the store already

    if intake is not None:
        return intake.model_dump(
            mode="json",
            include={"beneficiary", "identification", "travel_document", "needs", "risk_level"},
        )
    return {
        "beneficiary": dict.fromkeys(Beneficiary.model_fields, output.MASK),
        "identification": dict.fromkeys(("basis", "decision_reference", "decided_on"), output.MASK),
        "travel_document": output.MASK,
        "needs": output.MASK,
        "risk_level": output.MASK,
    }


def case(
    reference: Annotated[str, typer.Argument(help="The case reference, e.g. RO-7Q2K-4MXD.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    reveal: Annotated[
        bool,
        typer.Option("--reveal", help="Show the personal data (the disclosure is logged)."),
    ] = False,
    by: Annotated[str | None, typer.Option("--by", help="Who is looking (audit trail).")] = None,
) -> None:
    """Show one case: its stage, decision and event timeline; personal data only with --reveal."""
    from safepassage.services.cases import case_detail  # noqa: PLC0415 - opens the store only here

    detail = case_detail(
        common.reference_argument(reference),
        reveal=reveal,
        actor=common.operator_name(by),
        purpose="export: cli case --reveal --json" if as_json else "cli case --reveal",
    )
    view = {
        "case": detail.summary.as_dict(),
        "decision": detail.decision,
        "personal": _personal_view(detail.intake),
        "followups": followup_rows(detail.followups),
        "plan": detail.plan,
        "events": [_event_dict(e) for e in detail.events],
    }
    if as_json:
        output.emit_json(view)
        return
    _print_case(view, revealed=reveal)


def _print_case(view: dict[str, Any], *, revealed: bool) -> None:
    summary, decision = view["case"], view["decision"]
    print_ = output.console.print
    print_(f"{summary['reference']}  {summary['programme']} -> {summary['destination_country']}")
    print_(f"stage: {summary['stage']} ({summary['status']})", markup=False)
    # Decisions from before office policies carry no policy version.
    policy = decision.get("office_policy_version", "none")
    print_(
        f"decision: {decision['outcome']} (rules {decision['rules_version']}, office policy "
        f"{policy})",
        markup=False,
    )
    for reason in decision["reasons"]:
        print_(f"  - {reason}", markup=False)
    if revealed:
        print_("personal data (disclosure logged):", markup=False)
        for section, value in view["personal"].items():
            if isinstance(value, dict):
                print_(f"  {section}:", markup=False)
                for name, item in value.items():
                    shown_item = "" if item is None else output.visible(str(item))
                    print_(f"    {name}: {shown_item}", markup=False)
            else:
                shown = ", ".join(value) if isinstance(value, list) else value
                print_(f"  {section}: {output.visible(str(shown))}", markup=False)
    else:
        print_("personal data: hidden (use --reveal; the disclosure is logged)", markup=False)
    _print_plan(view["plan"])
    print_followups(view["followups"])
    output.table(
        "timeline",
        ["#", "when", "what", "by", "stage"],
        [
            (e["seq"], e["at"][:19].replace("T", " "), e["kind"], e["actor"], e["stage"] or "")
            for e in view["events"]
        ],
    )


def _print_plan(plan: dict[str, Any] | None) -> None:
    if plan is None:
        return
    output.console.print(
        f"reintegration plan: {plan['items']} item(s), {plan['uncovered']} not covered by the "
        f"programme, CHF {plan['cost_chf']}",
        markup=False,
    )
    for item in plan.get("item_list", []):
        flag = "" if item["covered"] else "  (not covered)"
        output.console.print(
            f"  {item['need']}: {output.visible(item['service'])} by "
            f"{output.visible(item['provider'])} from {item['starts_on']}, CHF {item['cost_chf']}"
            f"{flag}",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    """Add the case list and case view commands to the app."""
    app.command("cases")(cases)
    app.command("case")(case)
