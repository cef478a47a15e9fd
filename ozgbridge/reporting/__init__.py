"""OZG status reports: what is online where, how mature, how much used, how well delivered.

`build_report` computes a `Report` from the deployment's configuration and aggregate queries over
applications and deliveries; `render_json`, `render_csv`, `render_xlsx` and `render_html` turn it
into the formats coordinators use. Reports hold aggregates only, never application content.
"""

from __future__ import annotations

from ozgbridge.reporting.build import build_report
from ozgbridge.reporting.catalogue import Catalogue, ServiceInfo, default_catalogue
from ozgbridge.reporting.model import Report
from ozgbridge.reporting.period import Period, last_full_month, parse_period

__all__ = [
    "Catalogue",
    "Period",
    "Report",
    "ServiceInfo",
    "build_report",
    "default_catalogue",
    "last_full_month",
    "parse_period",
]
