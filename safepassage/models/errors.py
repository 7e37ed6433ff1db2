"""The errors SafePassage raises on purpose.

    SafePassageError
    ├── ConfigurationError      a setting or configuration file is wrong (CLI exit 2)
    ├── IntakeInvalid           a case file or checkpoint answer fails validation (CLI exit 2)
    ├── CaseNotFound            no case has that reference (CLI exit 2)
    ├── CaseStateError          the case is not in a state that allows the action (CLI exit 2)
    │   └── CaseWithdrawn       the person withdrew: stages stop, compensations run
    ├── AccountInvalid          an account's or a mission token's field is wrong (CLI exit 2)
    ├── AccountNotFound         no account or mission token has that name (CLI exit 2)
    ├── KeyUnavailable          a case's data key was destroyed (erased) or the master key is wrong
    ├── StoredRecordInvalid     a sealed record no longer fits its form (damaged, or not migrated)
    └── ChainBroken             the event log's hash chain does not verify

Messages never carry a personal value: they name the field and what is expected.
"""

from __future__ import annotations

from collections.abc import Sequence


class SafePassageError(Exception):
    """Base class of every error SafePassage raises on purpose."""


class ConfigurationError(SafePassageError):
    """A setting or a configuration file is wrong; the message names it and the fix."""


class StoreUnreachable(ConfigurationError):
    """The case store did not answer when opened: a wrong setting, or a database that is down.

    A command reports it as the configuration error it most often is. A stage task retries it
    (orchestration/task_options.py), since a database restarting answers again seconds later.
    """


class FieldProblem:
    """One problem in an input document: where it is and what is expected there."""

    __slots__ = ("message", "path")

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def __repr__(self) -> str:
        return f"FieldProblem({self.path!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldProblem) and (self.path, self.message) == (
            other.path,
            other.message,
        )

    def __hash__(self) -> int:
        return hash((self.path, self.message))


class IntakeInvalid(SafePassageError):
    """An input document failed validation; `problems` has one entry per field at fault."""

    def __init__(self, problems: Sequence[FieldProblem], *, source: str = "input") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(str(p) for p in self.problems))


class CaseNotFound(SafePassageError):
    """No case has the given reference."""

    def __init__(self, reference: str) -> None:
        self.reference = reference
        super().__init__(f"no case with reference {reference}: check it with `safepassage cases`")


class CaseStateError(SafePassageError):
    """The case's stage or status does not allow the action asked for."""


class CaseWithdrawn(CaseStateError):
    """The person withdrew: no stage of the return may do anything more."""


class CaseErased(CaseStateError):
    """The case was erased: its personal data is gone and no stage may act on it."""


class AccountInvalid(SafePassageError):
    """An account's or a mission token's field is wrong; the message names it and the fix."""


class AccountNotFound(SafePassageError):
    """No account (or mission token) has the given name; the message does not repeat it."""


class DuplicateIntake(SafePassageError):
    """The same intake was taken in before; nothing was written."""


class KeyUnavailable(SafePassageError):
    """A case's personal data cannot be decrypted: its key is gone or the master key is wrong."""


class StoredRecordInvalid(SafePassageError):
    """A record read back from the case store does not fit its form; names fields, not values."""


class ChainBroken(SafePassageError):
    """The event log's hash chain does not verify at the named event."""
