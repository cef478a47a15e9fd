"""XLSX: one sheet per view plus a summary, with real number and date cells.

Every sheet has a bold, frozen header row and an autofilter, so a coordinator can sort and filter
at once. Column names are the same as in CSV and JSON (and, for coverage, as in the federal
Dashboard Digitale Verwaltung export), so files can be compared column by column.
"""

from __future__ import annotations

import io
from dataclasses import asdict, astuple
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ozgbridge.reporting.model import VIEWS, Report, columns, view_rows

_BOLD = Font(bold=True)
_DATE = "yyyy-mm-dd"
_MONTH = "yyyy-mm"


def _header(sheet: Worksheet, names: list[str]) -> None:
    sheet.append(names)
    for cell in sheet[1]:
        cell.font = _BOLD
    sheet.freeze_panes = "A2"
    for index, name in enumerate(names, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, min(40, len(name) + 4))


def _finish(sheet: Worksheet) -> None:
    sheet.auto_filter.ref = sheet.dimensions


def _summary(sheet: Worksheet, report: Report) -> None:
    _header(sheet, ["item", "value"])
    sheet.append(["period_from", report.period.first])
    sheet.append(["period_to", report.period.last])
    for row in (2, 3):
        sheet.cell(row=row, column=2).number_format = _DATE
    sheet.append(["generated_at_utc", report.generated_at.replace(tzinfo=None)])
    sheet.cell(row=4, column=2).number_format = "yyyy-mm-dd hh:mm:ss"
    sheet.append(["tenants", ", ".join(tenant_id for tenant_id, _ in report.tenants)])
    for name, value in asdict(report.totals).items():
        sheet.append([name, value])
    sheet.column_dimensions["B"].width = 30
    _finish(sheet)


def render_xlsx(report: Report) -> bytes:
    workbook = Workbook()
    summary = workbook.active
    assert summary is not None  # a new workbook always has one sheet
    summary.title = "summary"
    _summary(summary, report)
    for view in VIEWS:
        sheet = workbook.create_sheet(view)
        names = columns(view)
        _header(sheet, names)
        month_column = names.index("month") + 1 if "month" in names else None
        for row in view_rows(report, view):
            values: list[object] = list(astuple(row))
            if month_column is not None:
                year, month = str(values[month_column - 1]).split("-")
                values[month_column - 1] = date(int(year), int(month), 1)
            sheet.append(values)
            if month_column is not None:
                sheet.cell(row=sheet.max_row, column=month_column).number_format = _MONTH
        _finish(sheet)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
