"""How commands print: JSON alone on standard output, tables for people, notices on stderr.

Everything printed for people is plain text: a value stored or typed by someone else (an
operator name given with --by, a reason, a file name) is never read as Rich markup, and its
control characters are shown as escapes (`\\x1b`) rather than sent to the terminal, where they
could clear the screen, hide text or rewrite what the operator sees.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal

from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

#: DEL, the C1 controls, and the bidirectional marks, embeddings, overrides and isolates (which
#: reorder what a terminal shows): JSON does not escape them itself.
_BEYOND_C0 = "\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: ... and the C0 controls, ESC among them; the second pattern spares the newline.
_INVISIBLE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
_INVISIBLE_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f{_BEYOND_C0}]")
_JSON_UNESCAPED = re.compile(f"[{_BEYOND_C0}]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """Return `text` with every control character written out as an escape, e.g. `\\x1b`.

    A value (a name, a reason) keeps nothing invisible, newlines included: a newline in it
    could fake a line of output. A whole message of ours may `keep_newlines`.
    """
    pattern = _INVISIBLE_BUT_NEWLINE if keep_newlines else _INVISIBLE
    return pattern.sub(_escaped, text)


def shown(value: Any) -> Text:
    """Return a value as a plain Text: never markup, control characters visible."""
    return Text("" if value is None else visible(str(value)))


class PlainTextConsole(Console):
    """A console that prints every string as plain text, whatever a caller passes.

    Rich turns each string it prints (a message, a table title or cell) into Text here; doing
    it in this one place means no caller can forget `markup=False`, and no emoji code or
    control character in a value reaches the terminal as such.
    """

    def render_str(
        self,
        text: str,
        *,
        style: str | Style = "",
        justify: Literal["default", "left", "center", "right", "full"] | None = None,
        overflow: Literal["fold", "crop", "ellipsis", "ignore"] | None = None,
        emoji: bool | None = None,
        markup: bool | None = None,
        highlight: bool | None = None,
        highlighter: Callable[[str | Text], Text] | None = None,
    ) -> Text:
        """Return `text` as Text as it is: no markup, emoji or highlighting; controls shown."""
        return Text(
            visible(text, keep_newlines=True), style=style, justify=justify, overflow=overflow
        )


# Piped output (tests, scripts, `| less`) gets wide lines rather than rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() else 160
console = PlainTextConsole(highlight=False, soft_wrap=True, width=_WIDTH, emoji=False)
errors = PlainTextConsole(stderr=True, highlight=False, soft_wrap=True, emoji=False)
#: What stands in for a personal value that was not revealed.
MASK = "•••"


def emit_json(value: Any) -> None:
    """Print `value` as JSON on standard output, and nothing else."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    # json escapes C0 controls itself, but not DEL, C1 or the bidi marks, which can only occur
    # inside strings, where \\uXXXX is their valid JSON spelling.
    sys.stdout.write(_JSON_UNESCAPED.sub(_json_escaped, text) + "\n")


def _json_escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def notice(message: str) -> None:
    """Print a notice for the person at the terminal, on standard error."""
    errors.print(message, markup=False)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table for people to read; every cell is shown as plain text."""
    grid = Table(title=None if title is None else shown(title), show_lines=False)
    for index, column in enumerate(columns):
        # Identifiers stay on one line; only the last column (free text) wraps.
        grid.add_column(column, no_wrap=index < len(columns) - 1)
    for row in rows:
        grid.add_row(*(shown(cell) for cell in row))
    console.print(grid)
