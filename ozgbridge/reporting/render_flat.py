"""Flat renderers: JSON (the whole report) and CSV (one view per file).

CSV is RFC 4180 with a comma, UTF-8 without a byte-order mark, ``.`` as decimal point and empty
cells for "no value": it is meant for tools. People who open files in a spreadsheet get XLSX —
but some open the CSV anyway, so every text field is quoted and text a spreadsheet would take for
a formula is prefixed with ``'`` (see `ozgbridge.reporting.formulas`); numbers stay bare.
"""

from __future__ import annotations

import csv
import io
from dataclasses import astuple

from ozgbridge.reporting.document import to_document
from ozgbridge.reporting.formulas import csv_text
from ozgbridge.reporting.model import Report, columns, view_rows


def render_json(report: Report) -> bytes:
    return to_document(report).model_dump_json(by_alias=True, indent=1).encode("utf-8")


def render_csv(report: Report, view: str) -> bytes:
    """One view (see `ozgbridge.reporting.model.VIEWS`) as CSV with a header row."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(columns(view))  # our own names
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    for row in view_rows(report, view):
        writer.writerow(["" if value is None else csv_text(value) for value in astuple(row)])
    return buffer.getvalue().encode("utf-8")
