"""`safepassage demo`: the README's main command, run on the embedded default.

Until the return-case flow exists, the demo takes every example case through validation and the
programme rules (a dry run: nothing is stored) and prints what each would get.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safepassage.cli import common, output
from safepassage.models.errors import ConfigurationError
from safepassage.models.intake import parse_intake
from safepassage.models.rules import decide

#: Where the example case files live in a checkout (the demo runs from one).
DEFAULT_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def demo(
    examples: Annotated[
        Path, typer.Option("--examples", help="Folder of example case files (*.json).")
    ] = DEFAULT_EXAMPLES,
) -> None:
    """Decide every example case (dry run) and print a summary table."""
    files = sorted(examples.glob("*.json"))
    if not files:
        raise ConfigurationError(f"--examples: no *.json case files in {examples}")
    today = common.now().date()
    rows = []
    for path in files:
        decision = decide(parse_intake(common.read_document(path, source=path.name)), today=today)
        rows.append(
            (path.name, decision.outcome.value, decision.rules_version, "; ".join(decision.reasons))
        )
    output.table(
        "example cases (dry run: nothing stored)", ["file", "decision", "rules", "why"], rows
    )


def register(app: typer.Typer) -> None:
    """Add the demo command to the app."""
    app.command("demo")(demo)
