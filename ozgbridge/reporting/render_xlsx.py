"""XLSX for people: German sheet names and headers, one sheet per view plus an overview.

Cells are real numbers, shares and dates with number formats (Excel shows them in the reader's
locale: ``1.234``, ``97,5 %``, ``31.10.2026``); yes/no is ``ja``/``nein``, codes are their German
labels. The coverage sheet mirrors the federal Dashboard Digitale Verwaltung export: its federal
columns keep the federal field names and values, so it can be joined column for column. Every
sheet has a bold, frozen header row and an autofilter. Text that a spreadsheet would take for a
formula is typed as a string with Excel's quote prefix (see `ozgbridge.reporting.formulas`).
"""

from __future__ import annotations

import io
from dataclasses import astuple
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ozgbridge.reporting import labels
from ozgbridge.reporting.fmt import fmt_period
from ozgbridge.reporting.formulas import formula_like
from ozgbridge.reporting.model import VIEWS, Report, columns, view_rows

_BOLD = Font(bold=True)
_DATE = "DD.MM.YYYY"
_MONTH = "MM.YYYY"
_TIME = "DD.MM.YYYY HH:MM"
_INT = "#,##0"
_SHARE = "0.0%"
_SECONDS = "#,##0.0"
_MONTH_COLUMNS = {"month", "last_month"}
_SHARES = {"availability"}
_LABELLED = {"reason": labels.reason, "verdict": labels.verdict}


def _header(sheet: Worksheet, names: list[str]) -> None:
    sheet.append(names)
    for cell in sheet[1]:
        cell.font = _BOLD
    sheet.freeze_panes = "A2"
    for index, name in enumerate(names, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, min(42, len(name) + 4))


def _as_text(sheet: Worksheet, row: int) -> None:
    """Make every formula-like text cell of ``row`` a string cell (openpyxl makes ``=…`` a
    formula) with the quote prefix, so that editing it in Excel keeps it text."""
    for cell in sheet[row]:
        if formula_like(cell.value):
            cell.data_type = "s"
            cell.quotePrefix = True


def _finish(sheet: Worksheet) -> None:
    sheet.auto_filter.ref = sheet.dimensions


def _cell(name: str, value: Any) -> tuple[Any, str | None]:
    """The cell value for a field and its number format."""
    if value is None:
        return None, None
    if name in _LABELLED:
        return _LABELLED[name](value), None
    if isinstance(value, bool):
        return ("ja" if value else "nein"), None
    if name in _MONTH_COLUMNS:
        year, month = str(value).split("-")
        return date(int(year), int(month), 1), _MONTH
    if isinstance(value, datetime):
        return value.replace(tzinfo=None), _TIME
    if name in _SHARES:
        return value, _SHARE
    if isinstance(value, float):
        return value, _SECONDS if name.endswith("_s") else "#,##0.00#"
    if isinstance(value, int) and name not in ("ozgid", "maturity_level"):
        return value, _INT
    return value, None


def _overview(sheet: Worksheet, report: Report) -> None:
    _header(sheet, ["Kennzahl", "Wert", "Vorzeitraum", "Veränderung"])
    previous = report.previous
    sheet.append(["Zeitraum von", report.period.first])
    sheet.append(["Zeitraum bis", report.period.last])
    for row in (2, 3):
        sheet.cell(row=row, column=2).number_format = _DATE
    sheet.append(["Vorzeitraum", fmt_period(previous.period) if previous else None])
    sheet.append(["erstellt (UTC)", report.generated_at.replace(tzinfo=None)])
    sheet.cell(row=5, column=2).number_format = _TIME
    sheet.append(["Kommunen", ", ".join(t.name for t in report.tenants)])
    _as_text(sheet, sheet.max_row)
    before = previous.headline if previous is not None else None
    for number, (name, label) in enumerate(labels.SUMMARY.items(), start=sheet.max_row + 1):
        value = getattr(report.totals, name)
        then = getattr(before, name, None) if before is not None else None
        change = value - then if value is not None and then is not None else None
        sheet.append([label, value, then, change])
        number_format = _SHARE if name in _SHARES else _INT
        for column in (2, 3, 4):
            sheet.cell(row=number, column=column).number_format = number_format
    sheet.column_dimensions["A"].width = 44
    sheet.column_dimensions["B"].width = 30
    _finish(sheet)


def render_xlsx(report: Report) -> bytes:
    workbook = Workbook()
    overview = workbook.active
    assert overview is not None  # a new workbook always has one sheet
    overview.title = labels.SHEETS["summary"]
    _overview(overview, report)
    for view in VIEWS:
        sheet = workbook.create_sheet(labels.SHEETS[view])
        names = columns(view)
        _header(sheet, [labels.column(view, name) for name in names])
        # Rows are counted here: openpyxl's max_row scans every cell on each call.
        for number, row in enumerate(view_rows(report, view), start=2):
            cells = [_cell(name, value) for name, value in zip(names, astuple(row), strict=True)]
            sheet.append([value for value, _ in cells])
            if any(formula_like(value) for value, _ in cells):
                _as_text(sheet, number)
            for index, (_, number_format) in enumerate(cells, start=1):
                if number_format is not None:
                    sheet.cell(row=number, column=index).number_format = number_format
        _finish(sheet)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
