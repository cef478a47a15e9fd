"""Volume rows (tenant × service, tenant, usage, trend) and the report's assembly."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ozgbridge.reporting import findings, queries
from ozgbridge.reporting.availability import RouteFacts, combined_availability
from ozgbridge.reporting.inputs import Inputs, own_route
from ozgbridge.reporting.model import (
    Comparison,
    Report,
    TenantInfo,
    TenantRow,
    TenantServiceRow,
    Totals,
    TrendRow,
    UsageRow,
)
from ozgbridge.reporting.period import Period


def tenant_services(inp: Inputs) -> list[TenantServiceRow]:
    # Services a tenant routes explicitly are listed even without applications: "online, unused"
    # is a finding a coordinator needs to see.
    explicit = {
        (t.id, k) for t in inp.scope for r in t.routes if not r.is_catch_all for k in r.services
    }
    out = []
    for tenant_id, key in sorted(
        set(inp.facts.counts) | explicit, key=lambda p: (inp.order(p[0]), p[1])
    ):
        tenant = inp.deployment.tenants.get(tenant_id)
        route = own_route(tenant, key) if tenant is not None else None
        maturity = route.maturity if route is not None else None
        service = inp.catalogue.service(key)
        c = inp.facts.counts.get((tenant_id, key), queries.Counts(0, 0, 0, 0, 0))
        d = inp.facts.deliveries.get((tenant_id, key))
        out.append(
            TenantServiceRow(
                kreis=inp.kreis(tenant_id),
                tenant=tenant_id,
                tenant_name=inp.name(tenant_id) or tenant_id,
                ars=tenant.ars if tenant else "",
                leika_key=key,
                service_name=service.name,
                ozg_id=service.ozg_id,
                ozg_leistung=service.ozg_leistung,
                route_id=route.id if route else None,
                channel=route.connector if route else None,
                maturity_model=maturity.model if maturity else None,
                maturity_level=maturity.level if maturity else None,
                received=c.received,
                delivered=c.delivered,
                dead=c.dead,
                pending=c.received - c.delivered - c.dead,
                latency_median_s=d.median_s if d else None,
                latency_p95_s=d.p95_s if d else None,
                attempts_per_delivered=round(d.attempts / d.delivered, 3)
                if d and d.delivered
                else None,
            )
        )
    return out


def _tenant_routes(inp: Inputs, tenant_id: str) -> list[RouteFacts]:
    return [f for (t, _), f in inp.current.routes.items() if t == tenant_id]


def tenant_health(inp: Inputs, services: list[TenantServiceRow]) -> list[TenantRow]:
    out = []
    for tenant in inp.scope:
        mine = [r for r in services if r.tenant == tenant.id]
        d = inp.facts.tenant_deliveries.get(tenant.id)
        received = sum(r.received for r in mine)
        delivered = sum(r.delivered for r in mine)
        dead = sum(r.dead for r in mine)
        out.append(
            TenantRow(
                kreis=inp.kreis(tenant.id),
                tenant=tenant.id,
                tenant_name=tenant.name,
                received=received,
                delivered=delivered,
                dead=dead,
                pending=received - delivered - dead,
                latency_median_s=d.median_s if d else None,
                latency_p95_s=d.p95_s if d else None,
                attempts_per_delivered=round(d.attempts / d.delivered, 3)
                if d and d.delivered
                else None,
                availability=combined_availability(_tenant_routes(inp, tenant.id)),
            )
        )
    return out


def usage(inp: Inputs) -> list[UsageRow]:
    out = []
    for (tenant_id, key), c in sorted(
        inp.facts.counts.items(), key=lambda i: (inp.order(i[0][0]), i[0][1])
    ):
        extra, extra_delivered = inp.facts.attachment_bytes.get((tenant_id, key), (0, 0))
        service = inp.catalogue.service(key)
        out.append(
            UsageRow(
                kreis=inp.kreis(tenant_id),
                tenant=tenant_id,
                tenant_name=inp.name(tenant_id) or tenant_id,
                leika_key=key,
                service_name=service.name,
                ozg_id=service.ozg_id,
                ozg_leistung=service.ozg_leistung,
                applications=c.received,
                delivered=c.delivered,
                volume_bytes=c.data_bytes + extra,
                delivered_volume_bytes=c.delivered_data_bytes + extra_delivered,
            )
        )
    return out


def trend(inp: Inputs) -> list[TrendRow]:
    return [
        TrendRow(
            month,
            key,
            inp.catalogue.service(key).name,
            inp.catalogue.service(key).ozg_id,
            m.received,
            m.delivered,
            m.dead,
        )
        for (month, key), m in sorted(inp.facts.trend.items())
    ]


def assemble(
    inp: Inputs, *, period: Period, generated_at: datetime, tenants: tuple[TenantInfo, ...]
) -> Report:
    by_tenant = tenant_services(inp)
    demand = findings.unmet_demand(inp)
    service_rows = findings.services(inp, by_tenant, demand)
    used = usage(inp)
    received = sum(r.received for r in by_tenant)
    delivered = sum(r.delivered for r in by_tenant)
    dead = sum(r.dead for r in by_tenant)
    ids = {t.id for t in inp.scope}
    totals = Totals(
        received=received,
        delivered=delivered,
        dead=dead,
        pending=received - delivered - dead,
        volume_bytes=sum(u.volume_bytes for u in used),
        delivered_volume_bytes=sum(u.delivered_volume_bytes for u in used),
        services_offered=sum(1 for s in service_rows if s.tenants_offered),
        services_online=sum(1 for s in service_rows if s.tenants_online),
        services_area_wide=sum(1 for s in service_rows if s.area_wide),
        refusals=sum(d.refusals for d in demand),
        availability=combined_availability(
            [f for (tenant, _), f in inp.current.routes.items() if tenant in ids]
        ),
    )
    return Report(
        period=period,
        generated_at=generated_at,
        tenants=tenants,
        tenant_services=tuple(by_tenant),
        tenant_health=tuple(tenant_health(inp, by_tenant)),
        services=tuple(service_rows),
        coverage=tuple(findings.coverage(inp)),
        availability=tuple(findings.routes(inp)),
        unmet_demand=tuple(demand),
        usage=tuple(used),
        trend=tuple(trend(inp)),
        totals=totals,
        previous=None,
    )


def with_previous(report: Report, comparison: Comparison) -> Report:
    return replace(report, previous=comparison)
