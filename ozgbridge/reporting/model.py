"""The report's shape: plain frozen dataclasses, one per view, and their JSON form.

Every renderer (JSON, CSV, XLSX, HTML, PDF) reads these; none of them queries anything. Field
names are the stable snake_case keys of JSON and CSV; people see the German labels of
`ozgbridge.reporting.labels`. Latencies are seconds (float), volumes bytes (int), shares 0…1;
``None`` means "no value" (e.g. no delivery to measure), never zero.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from ozgbridge.reporting.period import Period
from ozgbridge.reporting.processing import ProcessingRow


@dataclass(frozen=True)
class TenantServiceRow:
    """Per tenant × service where applications were received: volumes, health, maturity."""

    kreis: str
    tenant: str
    tenant_name: str
    ars: str
    leika_key: str
    service_name: str
    ozg_id: str | None
    ozg_leistung: str | None
    route_id: str | None
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

    kreis: str
    tenant: str
    tenant_name: str
    received: int
    delivered: int
    dead: int
    pending: int
    latency_median_s: float | None
    latency_p95_s: float | None
    attempts_per_delivered: float | None
    availability: float | None


@dataclass(frozen=True)
class CoverageRow:
    """One service in one tenant's region. The first thirteen fields are the federal Dashboard
    Digitale Verwaltung export's (`ozgbridge.reporting.federal`), names and values alike."""

    leika_key: str
    leika_name: str
    ars: str
    ars_name: str
    ars_federal_state: str
    bundesland: str | None
    leika_bezeichnung: str
    ozgid: int | None
    ozg_bezeichnung: str | None
    url: str | None
    online_status: str
    aktiv: str
    art_flaechendeckung: str | None
    tenant: str
    kreis: str
    offered: bool
    reason: str
    served_by: str | None
    served_by_name: str | None
    route_id: str | None
    maturity_model: str | None
    maturity_level: int | None
    maturity_meets_threshold: bool | None
    availability: float | None


@dataclass(frozen=True)
class ServiceRow:
    """Per service across the tenants in scope: coverage, volume and unmet demand."""

    leika_key: str
    service_name: str
    ozg_id: str | None
    ozg_leistung: str | None
    tenants_in_scope: int
    tenants_offered: int
    tenants_online: int
    area_wide: bool
    received: int
    delivered: int
    dead: int
    pending: int
    refusals: int


@dataclass(frozen=True)
class RouteRow:
    """Per route of a tenant in scope: availability in the period."""

    kreis: str
    tenant: str
    tenant_name: str
    route_id: str
    connector: str | None
    verdict: str
    deliveries: int
    delivered_within_hour: int
    undecided: int
    availability: float | None
    delivered: int
    dead: int
    last_delivered_at: datetime | None
    checks_ok: int | None
    checks_failed: int | None
    breaker_open_s: float | None


@dataclass(frozen=True)
class DemandRow:
    """Nachfrage ohne Angebot: refusals for want of a responsible authority, service × region."""

    leika_key: str
    service_name: str
    ozg_id: str | None
    ozg_leistung: str | None
    ars: str
    region_name: str
    tenant: str | None
    kreis: str | None
    refusals: int
    months: int
    last_month: str
    routed_now: bool


@dataclass(frozen=True)
class UsageRow:
    """Per tenant × service, for cost allocation: applications and bytes."""

    kreis: str
    tenant: str
    tenant_name: str
    leika_key: str
    service_name: str
    ozg_id: str | None
    ozg_leistung: str | None
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
    ozg_id: str | None
    received: int
    delivered: int
    dead: int


@dataclass(frozen=True)
class Headline:
    """The figures compared with the previous period."""

    received: int
    delivered: int
    dead: int
    services_offered: int
    services_online: int
    services_area_wide: int
    refusals: int
    availability: float | None


@dataclass(frozen=True)
class Totals:
    received: int
    delivered: int
    dead: int
    pending: int
    volume_bytes: int
    delivered_volume_bytes: int
    services_offered: int
    services_online: int
    services_area_wide: int
    refusals: int
    availability: float | None

    def headline(self) -> Headline:
        return Headline(
            **{f.name: getattr(self, f.name) for f in fields(Headline)},
        )


@dataclass(frozen=True)
class TenantInfo:
    """A tenant in scope, with its place among the others (``kreis``: its group's head)."""

    id: str
    name: str
    ars: str
    parent: str | None
    kreis: str
    depth: int


@dataclass(frozen=True)
class Comparison:
    period: Period
    headline: Headline


@dataclass(frozen=True)
class Report:
    period: Period
    generated_at: datetime
    tenants: tuple[TenantInfo, ...]  # in scope, in report order (each Kreis first)
    tenant_services: tuple[TenantServiceRow, ...]
    tenant_health: tuple[TenantRow, ...]
    services: tuple[ServiceRow, ...]
    coverage: tuple[CoverageRow, ...]
    availability: tuple[RouteRow, ...]
    unmet_demand: tuple[DemandRow, ...]
    usage: tuple[UsageRow, ...]
    trend: tuple[TrendRow, ...]
    totals: Totals
    previous: Comparison | None
    processing: tuple[ProcessingRow, ...] = ()  # see ozgbridge.reporting.processing

    def months(self) -> list[str]:
        return self.period.months()

    def tenant_names(self) -> dict[str, str]:
        return {t.id: t.name for t in self.tenants}


# The views a flat format (CSV, one XLSX sheet each) can show, by name.
VIEWS: dict[str, type[Any]] = {
    "tenant-services": TenantServiceRow,
    "tenant-health": TenantRow,
    "services": ServiceRow,
    "coverage": CoverageRow,
    "availability": RouteRow,
    "unmet-demand": DemandRow,
    "usage": UsageRow,
    "trend": TrendRow,
    "processing": ProcessingRow,
}
DEFAULT_VIEW = "tenant-services"


def view_rows(report: Report, view: str) -> tuple[Any, ...]:
    rows: tuple[Any, ...] = getattr(report, view.replace("-", "_"))
    return rows


def columns(view: str) -> list[str]:
    return [f.name for f in fields(VIEWS[view])]
