"""CSV and XLSX exports keep formula-like text as text (OWASP CSV injection rules)."""

from __future__ import annotations

import csv
import io

import pytest

from ozgbridge.reporting.formulas import csv_text, formula_like


@pytest.mark.parametrize("value", ["=1+2", "+49", "-x", "@SUM(A1)", "\tx", "\rx"])
def test_formula_starts_get_a_quote(value: str) -> None:
    assert formula_like(value)
    assert csv_text(value) == "'" + value


@pytest.mark.parametrize("value", ["Erkelenz", "", "a=b", "'=x", 5, -5, -1.5, None, True])
def test_everything_else_is_left_alone(value: object) -> None:
    assert not formula_like(value)
    assert csv_text(value) == value


def test_owasp_examples_survive_a_round_trip() -> None:
    # The OWASP page's examples: what a spreadsheet reads back is the text, with the quote.
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow([csv_text('=1+2";=1+2'), csv_text("=1+2'\" ;,=1+2"), 3])
    assert buffer.getvalue() == '"\'=1+2"";=1+2","\'=1+2\'"" ;,=1+2",3\r\n'
