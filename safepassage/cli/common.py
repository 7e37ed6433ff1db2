"""What the commands share: opening the store, the clock, who is at the keyboard."""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path

from safepassage.models.errors import FieldProblem, IntakeInvalid
from safepassage.models.reference import normalise_reference
from safepassage.models.settings import get_settings
from safepassage.models.store.db import Store, open_store


def now() -> dt.datetime:
    """Return the current time, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


def operator_name(explicit: str | None) -> str:
    """Return who is acting: `--by` if given, else the login name, for the audit trail."""
    if explicit and explicit.strip():
        return explicit.strip()[:120]
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry in some containers
        return "cli:unknown"


def store() -> Store:
    """Open the configured case store (created on first use)."""
    return open_store(get_settings())


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
