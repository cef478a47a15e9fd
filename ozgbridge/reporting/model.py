"""The report's shape: plain frozen dataclasses, one per view, and their JSON form.

Every renderer (JSON, CSV, XLSX, HTML) reads these; none of them queries anything. Latencies are
seconds (float), volumes bytes (int); ``None`` means "no value" (e.g. no delivery to measure),
never zero.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ozgbridge.reporting.period import Period
from ozgbridge.reporting.processing import ProcessingRow

AREA_WIDE = "flaechendeckend"
PARTIAL = "teilweise"
NOWHERE = "keine"
ONLINE = "online"
NOT_ONLINE = "nicht_online"


@dataclass(frozen=True)
class TenantServiceRow:
    """Per tenant × service: volumes, delivery health and the route's declared maturity."""

    tenant: str
    tenant_name: str
    ars: str
    leika_key: str
    service_name: str
    ozg_id: str | None
    ozg_leistung: str | None
    channel: str | None
    maturity_model: str | None
    maturity_level: int | None
    received: int
    delivered: int
    dead: int
    pending: int
    latency_median_s: float | None
    latency_p95_s: float | None
    attempts_per_delivered: float | None


@dataclass(frozen=True)
class TenantRow:
    """Delivery health per tenant: all services together, percentiles over all deliveries."""

    tenant: str
    tenant_name: str
    received: int
    delivered: int
    dead: int
    pending: int
    latency_median_s: float | None
    latency_p95_s: float | None
    attempts_per_delivered: float | None


@dataclass(frozen=True)
class CoverageCell:
    """Whether ``leika_key`` is online for ``tenant``'s region, and who serves it there.

    One row of the federal Dashboard Digitale Verwaltung export shape: ``leika_key``, ``ars``,
    ``ozgid``, ``online_status``, ``art_flaechendeckung`` (the last repeated from the service).
    """

    leika_key: str
    tenant: str
    ars: str
    ozgid: str | None
    online_status: str
    art_flaechendeckung: str
    served_by: str | None
    maturity_model: str | None
    maturity_level: int | None


@dataclass(frozen=True)
class ServiceRow:
    """Per service across the tenants in scope: coverage and volume."""

    leika_key: str
    service_name: str
    ozg_id: str | None
    ozg_leistung: str | None
    tenants_in_scope: int
    tenants_online: int
    art_flaechendeckung: str
    received: int
    delivered: int
    dead: int
    pending: int


@dataclass(frozen=True)
class UsageRow:
    """Per tenant × service, for cost allocation: applications and bytes."""

    tenant: str
    tenant_name: str
    leika_key: str
    service_name: str
    applications: int
    delivered: int
    volume_bytes: int
    delivered_volume_bytes: int


@dataclass(frozen=True)
class TrendRow:
    """Per month × service (months as ``YYYY-MM``, UTC)."""

    month: str
    leika_key: str
    service_name: str
    received: int
    delivered: int
    dead: int


@dataclass(frozen=True)
class Totals:
    received: int
    delivered: int
    dead: int
    pending: int
    volume_bytes: int
    delivered_volume_bytes: int
    services_online: int
    services_area_wide: int


@dataclass(frozen=True)
class Report:
    period: Period
    generated_at: datetime
    tenants: tuple[tuple[str, str], ...]  # (id, name) in scope, by id
    tenant_services: tuple[TenantServiceRow, ...]
    tenant_health: tuple[TenantRow, ...]
    services: tuple[ServiceRow, ...]
    coverage: tuple[CoverageCell, ...]
    usage: tuple[UsageRow, ...]
    trend: tuple[TrendRow, ...]
    totals: Totals
    processing: tuple[ProcessingRow, ...] = ()  # see ozgbridge.reporting.processing

    def months(self) -> list[str]:
        return self.period.months()


# The views a flat format (CSV, one XLSX sheet each) can show, by name.
VIEWS: dict[str, type[Any]] = {
    "tenant-services": TenantServiceRow,
    "tenant-health": TenantRow,
    "services": ServiceRow,
    "coverage": CoverageCell,
    "usage": UsageRow,
    "trend": TrendRow,
    "processing": ProcessingRow,
}
DEFAULT_VIEW = "tenant-services"


def view_rows(report: Report, view: str) -> tuple[Any, ...]:
    rows: dict[str, tuple[Any, ...]] = {
        "tenant-services": report.tenant_services,
        "tenant-health": report.tenant_health,
        "services": report.services,
        "coverage": report.coverage,
        "usage": report.usage,
        "trend": report.trend,
        "processing": report.processing,
    }
    return rows[view]


def columns(view: str) -> list[str]:
    return [f.name for f in fields(VIEWS[view])]


class PeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", description="first day, inclusive (UTC)")
    to: date = Field(description="last day, inclusive (UTC)")


class TenantRef(BaseModel):
    id: str
    name: str


class ReportDocument(BaseModel):
    """The JSON form of a report (``GET /v1/reports/ozg``, ``ozgbridge report --format json``)."""

    period: PeriodOut
    generated_at: datetime
    tenants: list[TenantRef]
    totals: Totals
    tenant_services: list[TenantServiceRow]
    tenant_health: list[TenantRow]
    services: list[ServiceRow]
    coverage: list[CoverageCell]
    usage: list[UsageRow]
    trend: list[TrendRow]
    processing: list[ProcessingRow] = Field(
        default_factory=list,
        description="per tenant × service: completed (and median seconds from receipt), "
        "rejected, withdrawn, forwarded as not responsible, unroutable",
    )


def to_document(report: Report) -> ReportDocument:
    return ReportDocument(
        period=PeriodOut(from_=report.period.first, to=report.period.last),
        generated_at=report.generated_at,
        tenants=[TenantRef(id=tid, name=name) for tid, name in report.tenants],
        totals=report.totals,
        tenant_services=list(report.tenant_services),
        tenant_health=list(report.tenant_health),
        services=list(report.services),
        coverage=list(report.coverage),
        usage=list(report.usage),
        trend=list(report.trend),
        processing=list(report.processing),
    )
