"""`safepassage rules`: every eligibility and embassy rule, its source and its outcome now."""

from __future__ import annotations

from typing import Annotated

import typer

from safepassage.cli import output
from safepassage.models.vocabulary import Programme


def rules(
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print a JSON list of {"id", "programme", "outcome", "default_outcome", '
            '"source", "text", "citation"}.',
        ),
    ] = False,
    programme: Annotated[
        Programme | None,
        typer.Option(
            "--programme",
            case_sensitive=False,
            help="Only the rules a case of this programme meets (its own and those for all).",
        ),
    ] = None,
) -> None:
    """List the rules: programme rules cite the programme description, office rules are the
    UK office's policy (SAFEPASSAGE_OFFICE_POLICY can change their outcome)."""
    from safepassage.services.rules import list_rules  # noqa: PLC0415 - the rules engine; only this command pays

    listing = list_rules(programme)
    if as_json:
        output.emit_json([row.as_dict() for row in listing.rows])
        return
    output.console.print(
        f"rules {listing.rules_version}, office policy {listing.office_policy_version}",
        markup=False,
    )
    output.table(
        None,
        ["id", "programme", "outcome", "source", "what it checks, and the programme's words"],
        [
            (
                row.id,
                row.programme,
                row.outcome
                if row.outcome == row.default_outcome
                else f"{row.outcome} (default {row.default_outcome})",
                row.source,
                row.text if row.citation is None else f'{row.text} Cited: "{row.citation}"',
            )
            for row in listing.rows
        ],
    )


def register(app: typer.Typer) -> None:
    """Add the rules command to the app."""
    app.command("rules")(rules)
