"""`erase`, `retention`, `consent` and `audit`: the person's data rights and the office's proof.

`erase REF --reason CODE` destroys the case's key (after closure or withdrawal; an active case
only with --force), then removes its runs and artifacts from Prefect. `consent` records a change
of the person's consent to share. `audit verify` checks the event log's hash chain; `audit REF`
lists who saw or was sent what about a case.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from safepassage.cli import common, output
from safepassage.models.errors import FieldProblem, IntakeInvalid
from safepassage.models.vocabulary import ErasureReason
from safepassage.services.data_protection import audit_trail, record_consent, verify_event_log

#: The codes `erase --reason` takes.
ERASURE_REASON_VALUES = frozenset(code.value for code in ErasureReason)
ERASURE_REASON_CODES = ", ".join(code.value for code in ErasureReason)

#: `audit verify` found the log tampered with: a finding, not a usage error.
BROKEN_CHAIN_EXIT = 1


class YesNo(StrEnum):
    YES = "yes"
    NO = "no"


def _given(value: YesNo | None) -> bool | None:
    return None if value is None else value is YesNo.YES


def erase(
    reference: Annotated[str, typer.Argument(help="The case reference.")],
    *,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Erase a case that is still active.")
    ] = False,
    # A plain string, not a choice: click's own error for a wrong choice repeats the value
    # typed, and a reason typed as free text is what the codes keep out of every output.
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            metavar="CODE",
            help=f"Why, as a code kept in the audit log: {ERASURE_REASON_CODES}.",
        ),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option(
            "--note",
            help="More detail, without personal details (for example a request's number): "
            "sealed, not in the audit log, deleted 92 days after the erasure.",
        ),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who erases it (audit trail).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Erase a closed or withdrawn case: its personal data becomes unreadable for good."""
    ref = common.reference_argument(reference)
    if reason not in ERASURE_REASON_VALUES:  # checked here too: before prefect is imported
        raise IntakeInvalid(
            [FieldProblem("--reason", f"must be one of {ERASURE_REASON_CODES}")],
            source="the command",
        )
    from safepassage.services import erasure  # noqa: PLC0415 - imports prefect (3 s); only this command pays

    erasure.check_request(ref, force=force, reason=reason, note=note)
    if not yes:
        typer.confirm(
            f"Erase case {ref}? Its personal data, answers and detailed messages become "
            "unreadable for good",
            abort=True,
            err=True,
        )
    result = erasure.erase(
        ref, actor=common.operator_name(by), force=force, reason=reason, note=note
    )
    if as_json:
        output.emit_json(result)
        return
    _print_erasure(result)


def _print_erasure(result: dict[str, Any]) -> None:
    ref = result["reference"]
    if result["already_erased"]:
        output.console.print(f"{ref} was already erased", markup=False)
    else:
        output.console.print(
            f"{ref} erased: its key is destroyed ({result['sealed_records_destroyed']} sealed "
            f"records, {result['notification_bodies_destroyed']} detailed messages)",
            markup=False,
        )
    prefect = result["prefect"]
    if prefect["removed"]:
        output.console.print(
            f"{ref}: its flow runs and artifacts are gone from Prefect", markup=False
        )
    else:
        output.notice(
            f"{ref}: not yet removed from Prefect ({prefect['why']}); run `safepassage erase "
            f"{ref}` again once the server runs, or leave it to the daily retention run"
        )


def retention(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Erase now every case ended longer ago than SAFEPASSAGE_RETENTION_MONTHS (default 24)."""
    from safepassage.services.erasure import retention_now  # noqa: PLC0415 - imports prefect (3 s); only this command pays

    result = retention_now()
    if as_json:
        output.emit_json(result)
        return
    output.console.print(
        f"erased {len(result['erased'])} case(s): {', '.join(result['erased']) or 'none'}",
        markup=False,
    )
    if result["purge_failed"] or not result["prefect_reachable"]:
        output.notice("some cases are still to be removed from Prefect: the next run retries")


def consent(
    reference: Annotated[str, typer.Argument(help="The case reference.")],
    share_with_mission: Annotated[
        YesNo | None,
        typer.Option("--share-with-mission", help="Consent to share with the receiving mission."),
    ] = None,
    share_with_embassy: Annotated[
        YesNo | None,
        typer.Option("--share-with-embassy", help="Consent to share with the embassy."),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who records it (audit trail).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Record a change of the person's consent to share; a withdrawal applies at once."""
    ref = common.reference_argument(reference)
    if share_with_mission is None and share_with_embassy is None:
        raise IntakeInvalid(
            [
                FieldProblem(
                    "--share-with-mission / --share-with-embassy", "give at least one: yes or no"
                )
            ],
            source="the command",
        )
    change = record_consent(
        ref,
        share_with_mission=_given(share_with_mission),
        share_with_embassy=_given(share_with_embassy),
        actor=common.operator_name(by),
    )
    if as_json:
        output.emit_json(change.as_dict())
        return
    state = (
        f"mission {'yes' if change.share_with_mission else 'no'}, "
        f"embassy {'yes' if change.share_with_embassy else 'no'}"
    )
    if not change.changed:
        output.console.print(f"{ref}: consent unchanged ({state})", markup=False)
        return
    output.console.print(f"{ref}: consent to share now {state}", markup=False)
    if change.sent_minimal_instead:
        output.console.print(
            f"  {len(change.sent_minimal_instead)} queued detailed message(s) will go minimal",
            markup=False,
        )


def audit(
    target: Annotated[str, typer.Argument(help="`verify`, or a case reference.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """`audit verify`: check the whole event log's hash chain. `audit REF`: a case's disclosures."""
    if target.strip().lower() == "verify":
        _verify(as_json)
        return
    ref = common.reference_argument(target)
    entries = [e.as_dict() for e in audit_trail(ref)]
    if as_json:
        output.emit_json({"reference": ref, "entries": entries})
        return
    output.table(
        f"{ref}: who saw or was sent what",
        ["when", "what", "who", "about"],
        [(e["at"][:19].replace("T", " "), e["what"], e["who"], e["detail"]) for e in entries],
    )


def _verify(as_json: bool) -> None:
    check = verify_event_log()
    broken = check.broken
    result = {
        "intact": check.intact,
        "events": check.events,
        "first_broken": None if broken is None else {"seq": broken.seq, "problem": broken.problem},
        "forged_cases": check.forged_cases,
        "anchor_problems": check.anchor_problems,
    }
    if as_json:
        output.emit_json(result)
    elif check.intact:
        output.console.print(
            f"the event log verifies: {check.events} events, chain intact, anchored, "
            "every case's consent and stage as SafePassage wrote them",
            markup=False,
        )
    else:
        if broken is not None:
            output.console.print(f"the event log is BROKEN at {broken}", markup=False)
        for reference in check.forged_cases:
            output.console.print(
                f"case {reference}: consent or stage fields were changed outside SafePassage",
                markup=False,
            )
        for problem in check.anchor_problems:
            output.console.print(f"anchor: {problem}", markup=False)
    if not check.intact:
        raise typer.Exit(BROKEN_CHAIN_EXIT)


def register(app: typer.Typer) -> None:
    """Add the data-protection commands to the app."""
    app.command("erase")(erase)
    app.command("retention")(retention)
    app.command("consent")(consent)
    app.command("audit")(audit)
