"""`safepassage demo`: the README's main command, on the embedded default.

What it does is in `safepassage.demo.run`; this command reads the example files and prints.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from safepassage.cli import common, output
from safepassage.models.errors import ConfigurationError

if TYPE_CHECKING:
    from safepassage.demo.run import Outcome, SignIn

#: Where the example case files live in a checkout (the demo runs from one).
DEFAULT_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def demo(
    examples: Annotated[
        Path, typer.Option("--examples", help="Folder of example case files (*.json).")
    ] = DEFAULT_EXAMPLES,
    port: Annotated[
        int,
        typer.Option(
            min=1,
            max=65535,
            help="The gateway's port (where people sign in) if no `serve` runs; a free one if "
            "it is taken. The Prefect server takes 4201, or a free port.",
        ),
    ] = 4200,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 900,
) -> None:
    """Take the example cases through their flows, playing the coordinator and the missions;
    print a summary and how to sign in with the demo's accounts."""
    files = sorted(examples.glob("*.json"))
    if not files:
        raise ConfigurationError(f"--examples: no *.json case files in {examples}")
    from safepassage.demo import run as demo_run  # noqa: PLC0415 - imports prefect (3 s); only this command pays

    demo_run.run(
        [
            demo_run.Example(path.name, common.read_document(path, source=path.name))
            for path in files
        ],
        port=port,
        timeout=timeout,
        report=demo_run.Report(
            say=say, notice=output.notice, summary=_print_summary, sign_in=_print_sign_in
        ),
    )


def say(line: str) -> None:
    """Print a progress line at once (stdout may be a pipe)."""
    output.console.print(line, markup=False)
    output.console.file.flush()


def _print_summary(outcomes: list[Outcome]) -> None:
    output.table(
        "demo summary",
        ["reference", "example", "stage", "notifications sent"],
        [(o.reference, o.example, o.stage, f"{o.sent} of {o.notifications}") for o in outcomes],
    )


#: Prints the current TOTP code of the URI given: for trying the demo without an authenticator.
_CODE_NOW = "import pyotp, sys; print(pyotp.parse_uri(sys.argv[1]).now())"


def _print_sign_in(sign_in: SignIn) -> None:
    """Print where and how to sign in: the demo's own throwaway accounts, in its own home."""
    lines = ["", "Sign in to the gateway"]
    if sign_in.serving:
        lines.append(f"  {sign_in.url}/  (the running `safepassage serve`)")
    else:
        lines.append(f"  start `safepassage serve`, then open {sign_in.url}/")
    lines.append(
        "  with one of the demo's own accounts (for trying SafePassage only; "
        + (
            "reset by this demo: earlier passwords and authenticator entries no longer work"
            if sign_in.access.reset
            else "shown once, here"
        )
        + "):"
    )
    for made in sign_in.access.accounts:
        role = f"mission officer, {made.mission}" if made.mission else made.role
        lines += [
            f"  {made.name} ({role})",
            f"    password: {made.password}",
            f"    TOTP URI: {made.totp_uri}",
        ]
    lines += [
        "  Add a TOTP URI to an authenticator app for the sign-in code, or print a current code:",
        f"    {shlex.quote(sys.executable)} -c '{_CODE_NOW}' 'TOTP URI'",
        "  There a coordinator finds the Prefect UI (/prefect/), a mission officer their "
        "mission's cases (/mission/), an auditor the audit trail (/audit/).",
        "",
        "The missions' systems' tokens for the mission API, with which the demo sends their "
        f"answers (the API's reference: {sign_in.url}/mission/api/v1/docs):",
    ]
    lines += [
        f"  {token.mission}  {token.name}: {token.token}"
        for token in sign_in.access.tokens.values()
    ]
    for line in lines:
        output.console.print(line, markup=False)


def register(app: typer.Typer) -> None:
    """Add the demo command to the app."""
    app.command("demo")(demo)
