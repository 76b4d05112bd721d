"""cli.terminal.literal: data printed through Rich comes out as typed, markup and all, and
cannot send the terminal commands."""

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

from cli.terminal import literal, visible_controls

HOSTILE = "[/] [bold red]loud[/bold red] [link=http://evil.example]click[/link] [/bold] \\[x]"


def printed(renderable: object, *, terminal: bool = False) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=400, force_terminal=terminal, color_system="truecolor" if terminal else None).print(
        renderable
    )
    return buffer.getvalue()


def test_markup_is_printed_as_typed() -> None:
    assert printed(literal(HOSTILE)).rstrip("\n") == HOSTILE
    table = Table("comment")
    table.add_row(literal(HOSTILE))
    assert HOSTILE in printed(table)
    # On a real terminal too: no hyperlink (OSC 8) and no bold/red escape is produced.
    on_terminal = printed(literal(HOSTILE), terminal=True)
    assert HOSTILE in on_terminal and "\x1b]8;" not in on_terminal and "\x1b[1" not in on_terminal


def test_terminal_controls_are_shown_not_sent() -> None:
    comment = "fine\x1b[2J\x1b]8;;http://evil.example\x07x\rover\u202ereversed\x9b\nsecond line\ttab"
    out = printed(literal(comment), terminal=True)
    assert "\x1b[2J" not in out and "\x1b]8" not in out and "\x07" not in out and "\r" not in out
    assert "\\x1b[2J" in out and "\\x07" in out and "\\r" in out and "\\u202e" in out and "\\x9b" in out
    assert "second line\ttab" in visible_controls(comment)  # newline and tab are kept


def test_style_applies_to_the_whole_text_and_none_is_empty() -> None:
    assert literal(None).plain == ""
    assert literal(-3).plain == "-3"
    assert literal("[x]", style="red").style == "red"


@given(st.text())
def test_any_text_prints_without_error(text: str) -> None:
    table = Table("cell")
    table.add_row(literal(text))
    printed(table)
