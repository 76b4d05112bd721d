"""CSV cells that a spreadsheet shows as text, never runs as a formula (OWASP "CSV Injection").

Every CSV we hand to people (the `oms import` results, GET /reports/summary.csv) is opened in
Excel or LibreOffice, and those run a cell that starts with `=`, `+`, `-` or `@` as a formula
(`=HYPERLINK(...)` phones home, DDE payloads run commands); a leading tab or carriage return is
stripped by some importers and exposes the trigger behind it. Cells come from shops' exports and
customers, so each one passes through `safe_cell` on its way out: a risky cell gets a leading `'`,
which spreadsheets take as "this is text" and do not display.

One exception, on purpose: a plain number such as `-10.00` or `-3` stays as it is. Spreadsheets read
it as a number, not a formula, and quoting it would turn money columns into text that no longer sums.
"Plain" is strict: an optional `-`, digits, optionally `.` and digits; anything more (`-1+1`,
`-2e3`, `+5`) is quoted.

The CSV text that the importer posts to the API for one order (domain.channels.marketplace) is
not for people and must keep the shop's cells exactly, so it does not pass through here.
"""

import re
from collections.abc import Iterable

# The characters a spreadsheet treats as the start of a formula (OWASP), plus the full-width forms
# of = + - @ that Excel in East Asian locales reads as the ASCII ones.
FORMULA_TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # ASCII digits only: what every spreadsheet reads as a number


def is_plain_number(text: str) -> bool:
    """`-10.00`, `3`, `0.5`: read by spreadsheets as a number, never as a formula."""
    return _PLAIN_NUMBER.fullmatch(text) is not None


def safe_cell(value: object) -> str:
    """The cell's text, with a leading `'` when a spreadsheet would otherwise take it as a formula.
    None is the empty cell."""
    text = "" if value is None else str(value)
    if text and text[0] in FORMULA_TRIGGERS and not is_plain_number(text):
        return "'" + text
    return text


def safe_row(values: Iterable[object]) -> list[str]:
    """`safe_cell` of every cell of a row, for `csv.writer(...).writerow`."""
    return [safe_cell(value) for value in values]
