"""The JSON form of a report: pydantic models over the dataclasses of `ozgbridge.reporting.model`.

The same models generate the OpenAPI schema (``ReportDocument``), so the document and its
description cannot drift apart.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from ozgbridge.reporting.model import (
    CoverageRow,
    DemandRow,
    Headline,
    Report,
    RouteRow,
    ServiceRow,
    TenantInfo,
    TenantRow,
    TenantServiceRow,
    Totals,
    TrendRow,
    UsageRow,
)
from ozgbridge.reporting.period import Period
from ozgbridge.reporting.processing import ProcessingRow


class PeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", description="first day, inclusive (UTC)")
    to: date = Field(description="last day, inclusive (UTC)")


class ComparisonOut(BaseModel):
    period: PeriodOut = Field(description="the previous period (as long, directly before)")
    headline: Headline


class ReportDocument(BaseModel):
    """The JSON form of a report (``GET /v1/reports/ozg``, ``ozgbridge report --format json``)."""

    period: PeriodOut
    generated_at: datetime
    tenants: list[TenantInfo]
    totals: Totals
    previous: ComparisonOut | None
    tenant_services: list[TenantServiceRow]
    tenant_health: list[TenantRow]
    services: list[ServiceRow]
    coverage: list[CoverageRow]
    availability: list[RouteRow]
    unmet_demand: list[DemandRow]
    usage: list[UsageRow]
    trend: list[TrendRow]
    processing: list[ProcessingRow] = Field(
        default_factory=list,
        description="per tenant × service: completed (and median seconds from receipt), "
        "rejected, withdrawn, forwarded as not responsible, unroutable",
    )


def _period_out(period: Period) -> PeriodOut:
    return PeriodOut(from_=period.first, to=period.last)


def to_document(report: Report) -> ReportDocument:
    previous = report.previous
    return ReportDocument(
        period=_period_out(report.period),
        generated_at=report.generated_at,
        tenants=list(report.tenants),
        totals=report.totals,
        previous=(
            ComparisonOut(period=_period_out(previous.period), headline=previous.headline)
            if previous is not None
            else None
        ),
        tenant_services=list(report.tenant_services),
        tenant_health=list(report.tenant_health),
        services=list(report.services),
        coverage=list(report.coverage),
        availability=list(report.availability),
        unmet_demand=list(report.unmet_demand),
        usage=list(report.usage),
        trend=list(report.trend),
        processing=list(report.processing),
    )
