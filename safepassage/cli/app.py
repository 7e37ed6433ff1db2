"""The `safepassage` command: one Typer app, each command group in its own module.

Every error SafePassage raises on purpose becomes one message per problem on standard error and
exit code 2; standard output carries only the command's result (with --json, only JSON).
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

import typer

from safepassage.cli import (
    accounts,
    cases,
    data_protection,
    demo,
    followups,
    intake,
    interventions,
    keys,
    notifications,
    output,
    report,
    rules,
    runs,
)
from safepassage.models.errors import (
    AccountInvalid,
    AccountNotFound,
    CaseNotFound,
    CaseStateError,
    ConfigurationError,
    DuplicateIntake,
    IntakeInvalid,
    KeyUnavailable,
    SafePassageError,
)
from safepassage.models.private_files import PRIVATE_UMASK
from safepassage.models.settings import get_settings
from safepassage.orchestration.connection import hand_prefect_its_environment

app = typer.Typer(
    name="safepassage",
    help="Safe, voluntary return and reintegration of victims of trafficking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (
    intake, cases, keys, runs, demo, notifications, interventions, report, followups,
    data_protection, accounts, rules,
):  # fmt: skip
    module.register(app)

USAGE_EXIT = 2


def report_error(exc: SafePassageError) -> int:
    """Print an error the way every command does and return its exit code."""
    if isinstance(exc, IntakeInvalid):
        _say_error(f"error: {exc.source} has {len(exc.problems)} problem(s):")
        for problem in exc.problems:
            _say_error(f"  {problem}")
        return USAGE_EXIT
    _say_error(f"error: {exc}")
    if isinstance(
        exc,
        ConfigurationError
        | CaseNotFound
        | CaseStateError
        | DuplicateIntake
        | KeyUnavailable
        | AccountInvalid
        | AccountNotFound,
    ):
        return USAGE_EXIT
    return 1


def _say_error(line: str) -> None:
    # A message may name a file or folder the person typed: its control characters are shown,
    # not sent to the terminal.
    print(output.visible(line, keep_newlines=True), file=sys.stderr)


def main() -> None:
    """Run the command line, turning SafePassage's own errors into messages and exit codes."""
    # Every file SafePassage or Prefect writes from here on (the case store and its WAL,
    # reports, logs, the processes this one starts) is the owner's alone, whatever the shell's
    # umask; the places that create files also ask for 0600 themselves.
    os.umask(PRIVATE_UMASK)
    # Prefect reads its settings when it is first imported: hand it SafePassage's before any
    # command can import it. A bad setting is left for the command that reads it to report.
    with contextlib.suppress(ConfigurationError):
        hand_prefect_its_environment(get_settings())
    # Prefect also tries to create its home then, and warns when SAFEPASSAGE_HOME does not exist
    # yet; the commands that need the folder (serve, connecting to a server) create it.
    warnings.filterwarnings("ignore", "Failed to create the Prefect home directory", UserWarning)
    # Standalone mode handles usage errors (exit 2) and Ctrl-C itself; it lets our errors through.
    try:
        app()
    except SafePassageError as exc:
        sys.exit(report_error(exc))


if __name__ == "__main__":
    main()
