"""`erase`, `retention`, `consent` and `audit`: the person's data rights and the office's proof.

`erase REF --reason CODE` destroys the case's key (after closure or withdrawal; an active case
only with --force), then removes its runs and artifacts from Prefect. `consent` records a change
of the person's consent to share, per recipient and purpose, or shows it. `audit verify`
checks the event log's hash chain; `audit REF` lists who saw or was sent what about a case.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from safepassage.cli import common, output
from safepassage.models.consent_record import Purpose, Recipient, language_code
from safepassage.models.errors import FieldProblem, IntakeInvalid
from safepassage.models.vocabulary import ErasureReason

if TYPE_CHECKING:  # the services open the store: imported in the commands that need it
    from safepassage.services.data_protection import ConsentChange

#: The codes `erase --reason` takes.
ERASURE_REASON_VALUES = frozenset(code.value for code in ErasureReason)
ERASURE_REASON_CODES = ", ".join(code.value for code in ErasureReason)

#: `audit verify` found the log tampered with: a finding, not a usage error.
BROKEN_CHAIN_EXIT = 1


class YesNo(StrEnum):
    YES = "yes"
    NO = "no"


#: How to give one answer; said whenever part of it is missing.
ONE_ENTRY = "give --recipient, --purpose, --agree and --language together"
RECIPIENTS = ", ".join(r.value for r in Recipient)
PURPOSES = ", ".join(p.value for p in Purpose)
_Choice = TypeVar("_Choice", bound=StrEnum)


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
    *,
    # Plain strings, not choices: click's own error for a wrong choice repeats the value typed
    # (see `erase --reason`); each is checked here and named without it.
    recipient: Annotated[
        str | None,
        typer.Option("--recipient", metavar="RECIPIENT", help=f"Who: {RECIPIENTS}."),
    ] = None,
    purpose: Annotated[
        str | None,
        typer.Option("--purpose", metavar="PURPOSE", help=f"What for: {PURPOSES}."),
    ] = None,
    agree: Annotated[
        str | None,
        typer.Option("--agree", metavar="yes|no", help="Whether the person agreed."),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            metavar="CODE",
            help="ISO 639-1 code of the language the person answered in, for example ro.",
        ),
    ] = None,
    interpreter: Annotated[
        bool, typer.Option("--interpreter", help="An interpreter was used.")
    ] = False,
    share_with_mission: Annotated[
        str | None,
        typer.Option(
            "--share-with-mission",
            metavar="yes|no",
            help="Shorthand: the mission, for reception, reintegration and follow-up contact.",
        ),
    ] = None,
    share_with_embassy: Annotated[
        str | None,
        typer.Option(
            "--share-with-embassy",
            metavar="yes|no",
            help="Shorthand: the embassy, for travel documents.",
        ),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who records it (audit trail).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the person's consent to share (no options), or record a change; each is audited.

    One answer: --recipient R --purpose P --agree yes|no --language CODE [--interpreter].
    A withdrawal applies at once: queued detailed messages that relied on it go minimal.
    """
    from safepassage.services.data_protection import consent_of, record_consent  # noqa: PLC0415 - opens the store only here

    ref = common.reference_argument(reference)
    entry = {"--recipient": recipient, "--purpose": purpose, "--agree": agree}
    shorthands = {
        "--share-with-mission": share_with_mission,
        "--share-with-embassy": share_with_embassy,
    }
    one_entry = any(v is not None for v in entry.values())
    shorthand = any(v is not None for v in shorthands.values())
    if not (one_entry or shorthand or language is not None or interpreter):
        _show_consent(ref, consent_of(ref), as_json)
        return
    problems: list[FieldProblem] = []
    if one_entry and shorthand:
        problems.append(
            FieldProblem(
                "--share-with-mission / --share-with-embassy",
                f"give either these shorthands or one answer ({ONE_ENTRY}), not both",
            )
        )
    code = _language_option(language, problems)
    if shorthand and not one_entry:
        mission = _yes_no("--share-with-mission", share_with_mission, problems)
        embassy = _yes_no("--share-with-embassy", share_with_embassy, problems)
        _refuse(problems)
        change = record_consent(
            ref,
            share_with_mission=mission,
            share_with_embassy=embassy,
            actor=common.operator_name(by),
            language=code,
            interpreter_used=interpreter,
        )
    else:
        change = _record_one(ref, entry, code, interpreter, problems, by=by)
    if as_json:
        output.emit_json(change.as_dict())
        return
    _print_change(ref, change)


def _record_one(
    ref: str,
    given: dict[str, str | None],
    language: str | None,
    interpreter: bool,
    problems: list[FieldProblem],
    *,
    by: str | None,
) -> ConsentChange:
    """Record one answer from the options `given`, or refuse naming each option at fault."""
    for name, value in given.items():
        if value is None:
            problems.append(FieldProblem(name, f"is required: {ONE_ENTRY}"))
    if language is None and not any(p.path == "--language" for p in problems):
        problems.append(FieldProblem("--language", f"is required: {ONE_ENTRY}"))
    recipient = _choice("--recipient", given["--recipient"], Recipient, problems)
    purpose = _choice("--purpose", given["--purpose"], Purpose, problems)
    agreed = _yes_no("--agree", given["--agree"], problems)
    # Each value that is None was named in `problems` above.
    if problems or recipient is None or purpose is None or agreed is None or language is None:
        raise IntakeInvalid(problems, source="the command")
    from safepassage.services.data_protection import record_consent_for  # noqa: PLC0415 - opens the store only here

    return record_consent_for(
        ref,
        recipient=recipient,
        purpose=purpose,
        agreed=agreed,
        language=language,
        interpreter_used=interpreter,
        actor=common.operator_name(by),
    )


def _refuse(problems: list[FieldProblem]) -> None:
    if problems:
        raise IntakeInvalid(problems, source="the command")


def _choice(
    option: str, value: str | None, choices: type[_Choice], problems: list[FieldProblem]
) -> _Choice | None:
    """Return `value` as one of `choices`, or None and a problem naming the option (not it)."""
    if value is None:
        return None
    try:
        return choices(value.strip().lower())
    except ValueError:
        problems.append(
            FieldProblem(option, f"must be one of {', '.join(c.value for c in choices)}")
        )
        return None


def _yes_no(option: str, value: str | None, problems: list[FieldProblem]) -> bool | None:
    answer = _choice(option, value, YesNo, problems)
    return None if answer is None else answer is YesNo.YES


def _language_option(value: str | None, problems: list[FieldProblem]) -> str | None:
    if value is None:
        return None
    try:
        return language_code(value)
    except ValueError as exc:
        problems.append(FieldProblem("--language", str(exc)))
        return None


def _yes(value: bool | None) -> str:
    return "not asked" if value is None else ("yes" if value else "no")


def _show_consent(ref: str, rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        output.emit_json({"reference": ref, "consent": rows})
        return
    if not rows:
        output.console.print(f"{ref}: no consent recorded: nothing is shared", markup=False)
        return
    output.table(
        f"{ref}: consent to share (a recipient and purpose not listed: no consent)",
        ["recipient", "purpose", "agreed", "recorded on", "language", "interpreter", "by", "from"],
        [
            (
                r["recipient"],
                r["purpose"],
                _yes(r["agreed"]),
                r["recorded_on"] or "not recorded",
                r["language"] or "not recorded",
                _yes(r["interpreter_used"]),
                r["recorded_by"],
                r["source"],
            )
            for r in rows
        ],
    )


def _print_change(ref: str, change: ConsentChange) -> None:
    if not change.changed:
        output.console.print(f"{ref}: consent unchanged", markup=False)
        return
    for item in change.changes:
        output.console.print(
            f"{ref}: consent to share with the {item['recipient']} for {item['purpose']} now "
            f"{_yes(item['agreed'])} (was {_yes(item['before'])})",
            markup=False,
        )
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
    from safepassage.services.data_protection import audit_trail  # noqa: PLC0415 - opens the store only here

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
    from safepassage.services.data_protection import verify_event_log  # noqa: PLC0415 - opens the store only here

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
