"""Text someone else typed or stored is shown as it is: never markup, never a terminal command.

An operator name given with --by goes into the audit trail; `case REF` and `audit REF` show it
to every coordinator after. Rich markup in it must not crash them or hide the actor, and an
escape sequence in it must not reach the terminal.
"""

from __future__ import annotations

import pytest

from safepassage.cli import output
from safepassage.models.store.db import Store
from tests.cli.helpers import run_cli
from tests.stored import stored_case

ESC = "\x1b"
#: (what the attacker gives as --by, what a coordinator must see instead)
HOSTILE_ACTORS = [
    ("[/oops]", "[/oops]"),  # a closing tag with no opening one: rich raised MarkupError
    ("[black on black]hidden", "[black on black]hidden"),  # the actor printed invisibly
    (f"{ESC}[2J{ESC}[31mclean", "\\x1b[2J\\x1b[31mclean"),  # clears the screen, turns it red
]


@pytest.mark.parametrize(("actor", "shown"), HOSTILE_ACTORS)
def test_a_hostile_operator_name_is_shown_literally_in_the_case_and_its_audit(
    sqlite_store: Store, actor: str, shown: str
) -> None:
    reference = stored_case(sqlite_store, "BG")
    revealed = run_cli("case", reference, "--reveal", "--by", actor)
    assert revealed.code == 0, revealed.stderr

    for command in (("case", reference), ("audit", reference)):
        result = run_cli(*command)
        assert result.code == 0, (command, result.stderr)
        assert shown in result.stdout, command
        assert ESC not in result.stdout + result.stderr, command


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("\x00\x07\x08\r", "\\x00\\x07\\x08\\x0d"),  # C0: NUL, bell, backspace, carriage return
        ("a\tb\x0bc", "a\\x09b\\x0bc"),  # tab, vertical tab
        ("\x7f\x9b31m", "\\x7f\\x9b31m"),  # DEL; C1 CSI, an escape sequence in one byte
        ("\u202etxt.exe", "\\u202etxt.exe"),  # right-to-left override: reorders what is shown
        (":warning: [bold]x[/bold]", ":warning: [bold]x[/bold]"),  # no emoji codes, no markup
    ],
)
def test_table_cells_titles_and_lines_show_control_characters_as_escapes(
    capsys: pytest.CaptureFixture[str], value: str, shown: str
) -> None:
    output.table(value, ["who"], [(value,)])
    output.console.print(f"by {value}")
    output.notice(f"by {value}")
    printed = capsys.readouterr()
    assert printed.out.count(shown) == 3  # the title, the cell, the line
    assert shown in printed.err
    for character in value:
        if not character.isprintable():
            assert character not in printed.out + printed.err


def test_json_output_escapes_the_controls_json_itself_lets_through(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output.emit_json({"actor": f"\x9b2J{ESC}\u202e"})
    printed = capsys.readouterr().out
    assert printed == '{\n  "actor": "\\u009b2J\\u001b\\u202e"\n}\n'


def test_a_newline_in_a_value_cannot_fake_a_row_or_a_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output.table(None, ["who"], [("dpo\n│ admin",)])
    forged = "dpo\nreport 2 (by admin):"
    output.console.print(f"by {output.visible(forged)}")
    printed = capsys.readouterr().out
    assert "dpo\\x0a│ admin" in printed
    assert "by dpo\\x0areport 2 (by admin):" in printed
