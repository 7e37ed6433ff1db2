"""`safepassage demo`: the README's main command, on the embedded default.

What it does is in `safepassage.demo.run`; this command reads the example files and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from safepassage.cli import common, output
from safepassage.models.errors import ConfigurationError

if TYPE_CHECKING:
    from safepassage.demo.run import Outcome

#: Where the example case files live in a checkout (the demo runs from one).
DEFAULT_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def demo(
    examples: Annotated[
        Path, typer.Option("--examples", help="Folder of example case files (*.json).")
    ] = DEFAULT_EXAMPLES,
    port: Annotated[int, typer.Option(help="Port for the Prefect server if none runs.")] = 4200,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 900,
) -> None:
    """Take the example cases through their flows, playing the coordinator; print a summary."""
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
        report=demo_run.Report(say=say, notice=output.notice, summary=_print_summary),
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


def register(app: typer.Typer) -> None:
    """Add the demo command to the app."""
    app.command("demo")(demo)
