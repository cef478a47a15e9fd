"""OZG status reports: what is online where, how mature, how available, how much used, and what
citizens ask for that nobody offers.

`build_report` computes a `Report` from the deployment's configuration and aggregate queries over
applications, deliveries and refusals; `render_json`, `render_csv`, `render_xlsx`, `render_html`
and (per Kreis) `render_summary`/`render_pdf` turn it into the formats coordinators use. Reports
hold aggregates only, never application content.
"""

from __future__ import annotations

from ozgbridge.reporting.build import build_report, kreis_reports
from ozgbridge.reporting.catalogue import Catalogue, ServiceInfo, default_catalogue
from ozgbridge.reporting.model import Report
from ozgbridge.reporting.period import Period, last_full_month, month_to_date, parse_period

__all__ = [
    "Catalogue",
    "Period",
    "Report",
    "ServiceInfo",
    "build_report",
    "default_catalogue",
    "kreis_reports",
    "last_full_month",
    "month_to_date",
    "parse_period",
]
