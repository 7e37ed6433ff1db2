"""How commands print: JSON alone on standard output, tables for people, notices on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

# Piped output (tests, scripts, `| less`) gets wide lines rather than rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(highlight=False, soft_wrap=True, width=_WIDTH)
errors = Console(stderr=True, highlight=False, soft_wrap=True)
#: What stands in for a personal value that was not revealed.
MASK = "•••"


def emit_json(value: Any) -> None:
    """Print `value` as JSON on standard output, and nothing else."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def notice(message: str) -> None:
    """Print a notice for the person at the terminal, on standard error."""
    errors.print(message, markup=False)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table for people to read."""
    grid = Table(title=title, show_lines=False)
    for index, column in enumerate(columns):
        # Identifiers stay on one line; only the last column (free text) wraps.
        grid.add_column(column, no_wrap=index < len(columns) - 1)
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    console.print(grid)
