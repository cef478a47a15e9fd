"""Spreadsheet formula injection: text from configuration or input must stay text.

A tenant's name, a route id or a service name sent by a portal ends up in CSV and XLSX exports
that coordinators open in Excel or LibreOffice, which read a cell starting with ``=`` — or ``+``,
``-``, ``@``, tab or carriage return — as a formula (``=HYPERLINK(…)``, DDE). OWASP's rules
(https://owasp.org/www-community/attacks/CSV_Injection): no cell may begin with one of those
characters; take care of field separators and quotes too, or else wrap each field in double
quotes, prepend a single quote and double every double quote. ozgbridge does both for CSV
(`csv_text`, and `render_flat` quotes every text field, so a ``;`` — the list separator German
Excel splits on — cannot start a new cell) and, in XLSX, types such cells as strings with Excel's
"quote prefix" (the apostrophe Excel itself shows for text typed as ``'=…``), so the value stays
as written and is text even when the cell is edited. Numbers are not text and stay numbers.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_text(value: Any) -> Any:
    """The value for a CSV cell: text that a spreadsheet would evaluate gets a leading ``'``."""
    return "'" + value if formula_like(value) else value
