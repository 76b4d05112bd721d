"""Untrusted text on a terminal: shown as it is, never read as Rich markup or terminal commands.

Our CLIs print what customers, shops and operators typed (complaint comments, notes, names, order
ids from an imported file, problem messages quoting them). Rich reads `[...]` in a plain string as
markup: `[/bold]` crashed `oms ops complaints` with a MarkupError and `[link=...]` made a link.
And Rich passes ESC through, so a comment holding `\\x1b]8;;http://...` or `\\x1b[2J` drives the
operator's terminal. Every piece of data goes to Rich through `literal`: a `Text`, which Rich never
parses, with the control characters a terminal would act on shown as visible escapes.
"""

import re

from rich.text import Text

# C0 controls but tab and newline (a multi-line comment stays multi-line), DEL, the C1 controls
# (U+009B is a one-byte CSI on some terminals), and the bidirectional overrides/isolates that can
# make text display in another order than it reads.
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible_controls(text: str) -> str:
    """`text` with every terminal control character written out as `\\xNN` / `\\uNNNN`."""
    return _TERMINAL_CONTROLS.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


def literal(value: object, style: str = "") -> Text:
    """`value` as text for Rich, printed literally (markup and control characters shown, not run).
    None is the empty text."""
    return Text(visible_controls("" if value is None else str(value)), style=style)
