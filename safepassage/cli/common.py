"""What the commands share: who is at the keyboard, reading input files, case references."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer

from safepassage.models.errors import FieldProblem, IntakeInvalid
from safepassage.models.reference import normalise_reference


def operator_name(explicit: str | None) -> str:
    """Return who is acting: `--by` if given, else the login name, for the audit trail."""
    if explicit and explicit.strip():
        return explicit.strip()[:120]
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry in some containers
        return "cli:unknown"


def read_document(path: Path, *, source: str) -> bytes:
    """Read an input file, or raise IntakeInvalid naming the file and the problem."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise IntakeInvalid([FieldProblem("", f"{path}: no such file")], source=source) from None
    except IsADirectoryError:
        raise IntakeInvalid(
            [FieldProblem("", f"{path} is a folder, not a file")], source=source
        ) from None
    except PermissionError:
        raise IntakeInvalid(
            [FieldProblem("", f"{path}: permission denied")], source=source
        ) from None


def reference_argument(text: str) -> str:
    """Return a canonical case reference, or raise IntakeInvalid explaining the expected form."""
    try:
        return normalise_reference(text)
    except ValueError as exc:
        raise IntakeInvalid([FieldProblem("REF", str(exc))], source="the case reference") from None


def action_or_reference(
    words: list[str] | None,
    action: str,
    *,
    reference_required: bool,
    usage: str,
    action_usage: str,
    refused: str | None = None,
) -> tuple[bool, str | None]:
    """Parse a `[REF | ACTION REF]` word list: return whether ACTION was given, and the REF.

    A command such as `notifications [REF | retry REF]` takes a free word list rather than
    being a group: click parses a group's own argument before its subcommand, so `CMD REF` and
    `CMD ACTION REF` could not both work. A reference can never be the word ACTION.
    `reference_required` says whether ACTION needs its REF; `usage` is the error for too many
    words without ACTION, `action_usage` with it; `refused`, if given, is the error for ACTION
    with an option that does not go with it.
    """
    args = list(words or [])
    acting = bool(args) and args[0].lower() == action
    rest = args[1:] if acting else args
    if acting and (len(rest) > 1 or (reference_required and not rest)):
        raise typer.BadParameter(action_usage)
    if acting and refused is not None:
        raise typer.BadParameter(refused)
    if len(rest) > 1:
        raise typer.BadParameter(usage)
    return acting, reference_argument(rest[0]) if rest else None
