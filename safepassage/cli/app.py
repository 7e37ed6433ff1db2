"""The `safepassage` command: one Typer app, each command group in its own module.

Every error SafePassage raises on purpose becomes one message per problem on standard error and
exit code 2; standard output carries only the command's result (with --json, only JSON).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import importlib
import os
import sys
import warnings
from typing import Any

import typer
import typer.main

from safepassage.cli import output
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

#: Each command module (safepassage/cli/NAME.py) and the commands it registers, in the order
#: `--help` lists them. `safepassage CMD` imports only CMD's module (tests/cli/
#: test_quick_commands.py checks this table against what the modules register).
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "intake": ("intake",),
    "cases": ("cases", "case"),
    "keys": ("keygen", "keys"),
    "runs": ("serve", "maintain", "status", "resume"),
    "demo": ("demo",),
    "notifications": ("notifications", "notify-test"),
    "interventions": ("withdraw", "risk"),
    "report": ("report",),
    "followups": ("followups", "arrival", "close"),
    "grant": ("grant",),
    "data_protection": ("erase", "retention", "consent", "audit"),
    "accounts": ("users", "tokens"),
    "rules": ("rules",),
}


def _new_app(**options: Any) -> typer.Typer:
    return typer.Typer(
        name="safepassage",
        help="Safe, voluntary return and reintegration of victims of trafficking.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        **options,
    )


def register(app: typer.Typer, module: str) -> None:
    """Add the commands of safepassage/cli/`module`.py to `app`."""
    importlib.import_module(f"safepassage.cli.{module}").register(app)


@functools.cache
def whole_app() -> typer.Typer:
    """Return the app with every command."""
    app = _new_app()
    for module in COMMAND_MODULES:
        register(app, module)
    return app


def _group_only() -> None:
    """(Keeps a one-command app a group: `safepassage CMD ...` is parsed as before.)"""


def app_for(args: list[str]) -> typer.Typer:
    """Return the app with only the command `args` name, or the whole app.

    A command run by name imports only its own module, and Typer turns only its signature
    into click options (for all of them, that is 30 ms each time). `safepassage --help`, no
    command, or a word that names none (click then suggests the nearest) get the whole app.
    """
    word = args[0] if args else ""
    module = next((m for m, names in COMMAND_MODULES.items() if word in names), None)
    if module is None:
        return whole_app()
    only = _new_app(callback=_group_only)
    register(only, module)
    only.registered_commands = [
        info
        for info in only.registered_commands
        if (info.name or typer.main.get_command_name(getattr(info.callback, "__name__", "")))
        == word
    ]
    only.registered_groups = [info for info in only.registered_groups if info.name == word]
    if not (only.registered_commands or only.registered_groups):  # the table is out of date
        return whole_app()
    return only


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
    # The garbage collector walks every object the imports made, again and again while a
    # command imports what it needs, and once more at exit: about 100 ms of a 0.5 s `status`.
    # What is imported by now lives as long as the process, so no collection need walk it;
    # at exit, freezing the rest skips the last walk. Every atexit handler still runs,
    # refcounting still frees what it frees, and the store is closed by its own context
    # manager; only objects left in reference cycles at exit are not finalized, which Python
    # never promises anyway.
    gc.freeze()
    atexit.register(gc.freeze)
    # Prefect reads its settings when it is first imported: hand it SafePassage's before any
    # command can import it. A bad setting is left for the command that reads it to report.
    with contextlib.suppress(ConfigurationError):
        hand_prefect_its_environment(get_settings())
    # Prefect also tries to create its home then, and warns when SAFEPASSAGE_HOME does not exist
    # yet; the commands that need the folder (serve, connecting to a server) create it.
    warnings.filterwarnings("ignore", "Failed to create the Prefect home directory", UserWarning)
    # Standalone mode handles usage errors (exit 2) and Ctrl-C itself; it lets our errors through.
    try:
        app_for(sys.argv[1:])()
    except SafePassageError as exc:
        sys.exit(report_error(exc))


if __name__ == "__main__":
    main()
