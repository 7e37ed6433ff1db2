"""What the commands share: who is at the keyboard, reading input files, case references."""

from __future__ import annotations

import getpass
import os
import stat
from pathlib import Path

import typer

from safepassage.models.errors import FieldProblem, IntakeInvalid
from safepassage.models.reference import normalise_reference


def operator_name(explicit: str | None) -> str:
    """Return who is acting, for the audit trail: `cli:<login>`, with `--by`'s name kept.

    The command line is an operator's tool on the server, and the login is what the machine
    vouches for; the name given with --by (whom the operator acts for, or their own name when
    several share a login) is recorded beside it, never instead of it.
    """
    try:
        login = f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry in some containers
        login = "cli:unknown"
    if explicit and explicit.strip():
        return f"{login} (by {explicit.strip()[:80]})"
    return login


def read_document(path: Path, *, source: str) -> bytes:
    """Read an input file, or raise IntakeInvalid naming the file and the problem.

    Reads at most one byte more than a document may have (the parser then says it is too
    large), and only from a regular file: a FIFO would hang, /dev/zero never end.
    """
    from safepassage.models.intake import MAX_DOCUMENT_BYTES  # noqa: PLC0415 - pydantic and pycountry; only commands that read a file pay

    try:
        # Without blocking: opening a FIFO would wait for a writer. What was opened is then
        # checked and read, whatever replaces the name meanwhile.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise _unreadable(path, exc, source) from None
    try:
        _refuse_unless_regular(path, os.fstat(fd).st_mode, source)
    except IntakeInvalid:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        try:
            return handle.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            raise _unreadable(path, exc, source) from None


def _refuse_unless_regular(path: Path, mode: int, source: str) -> None:
    if stat.S_ISDIR(mode):
        raise _problem(f"{path} is a folder, not a file", source)
    if not stat.S_ISREG(mode):
        raise _problem(
            f"{path} is not a regular file (a pipe, device or socket): save the "
            f"{source} as a file and give its path",
            source,
        )


def _unreadable(path: Path, exc: OSError, source: str) -> IntakeInvalid:
    if isinstance(exc, FileNotFoundError):
        return _problem(f"{path}: no such file", source)
    if isinstance(exc, PermissionError):
        return _problem(f"{path}: permission denied", source)
    return _problem(f"{path}: cannot be read ({exc.strerror})", source)


def _problem(message: str, source: str) -> IntakeInvalid:
    return IntakeInvalid([FieldProblem("", message)], source=source)


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
