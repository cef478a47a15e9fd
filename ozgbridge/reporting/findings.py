"""Finding rows: coverage (federal columns), services, route availability, unmet demand."""

from __future__ import annotations

from collections import defaultdict

from ozgbridge.domain import RegionRef
from ozgbridge.errors import RoutingError
from ozgbridge.reporting import federal
from ozgbridge.reporting.availability import RouteFacts
from ozgbridge.reporting.inputs import OUTSIDE, Inputs, demand_in_scope, ozgid
from ozgbridge.reporting.model import CoverageRow, DemandRow, RouteRow, ServiceRow, TenantServiceRow
from ozgbridge.reporting.tenant_tree import RegionIndex
from ozgbridge.routing import Router


def coverage(inp: Inputs) -> list[CoverageRow]:
    out = []
    for tenant in inp.scope:
        for key in inp.keys:
            c = inp.cells[(tenant.id, key)]
            service = inp.catalogue.service(key)
            facts = (
                inp.current.routes.get((c.served_by, c.route_id))
                if c.offered and c.served_by is not None and c.route_id is not None
                else None
            )
            m = c.maturity
            out.append(
                CoverageRow(
                    leika_key=key,
                    leika_name=service.name,
                    ars=tenant.ars,
                    ars_name=tenant.name,
                    ars_federal_state=tenant.ars[:2],
                    bundesland=federal.LAENDER.get(tenant.ars[:2]),
                    leika_bezeichnung=service.name,
                    ozgid=ozgid(service.ozg_id),
                    ozg_bezeichnung=service.ozg_leistung,
                    url=None,
                    online_status=federal.ONLINE_OK if c.online else federal.ONLINE_NOT_OK,
                    aktiv=federal.ACTIVE_YES if c.offered else federal.ACTIVE_NO,
                    art_flaechendeckung=c.area,
                    tenant=tenant.id,
                    kreis=inp.kreis(tenant.id),
                    offered=c.offered,
                    reason=c.reason.value,
                    served_by=c.served_by,
                    served_by_name=inp.name(c.served_by),
                    route_id=c.route_id,
                    maturity_model=m.model if m else None,
                    maturity_level=m.level if m else None,
                    maturity_meets_threshold=(
                        federal.meets_online_threshold(m.model, m.level) if m else None
                    ),
                    availability=facts.availability if facts else None,
                )
            )
    return out


def services(
    inp: Inputs, by_tenant: list[TenantServiceRow], demand: list[DemandRow]
) -> list[ServiceRow]:
    volume: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in by_tenant:
        v = volume[row.leika_key]
        for i, n in enumerate((row.received, row.delivered, row.dead, row.pending)):
            v[i] += n
    refused: dict[str, int] = defaultdict(int)
    for d in demand:
        refused[d.leika_key] += d.refusals
    out = []
    for key in inp.keys:
        service = inp.catalogue.service(key)
        cells = [inp.cells[(t.id, key)] for t in inp.scope]
        online = sum(c.online for c in cells)
        received, delivered, dead, pending = volume.get(key, [0, 0, 0, 0])
        out.append(
            ServiceRow(
                leika_key=key,
                service_name=service.name,
                ozg_id=service.ozg_id,
                ozg_leistung=service.ozg_leistung,
                tenants_in_scope=len(cells),
                tenants_offered=sum(c.offered for c in cells),
                tenants_online=online,
                area_wide=bool(cells) and online == len(cells),
                received=received,
                delivered=delivered,
                dead=dead,
                pending=pending,
                refusals=refused[key],
            )
        )
    return out


def routes(inp: Inputs) -> list[RouteRow]:
    verdicts = inp.current.verdicts(inp.deployment)
    out = []
    for tenant in inp.scope:
        connectors = {r.id: r.connector for r in tenant.routes}
        seen = sorted({r for (t, r) in inp.current.routes if t == tenant.id} - set(connectors))
        for route_id in [r.id for r in tenant.routes] + seen:
            key = (tenant.id, route_id)
            f = inp.current.routes.get(key) or RouteFacts(0, 0, 0, 0, 0, 0, None)
            checks = inp.current.checks.get(key) if inp.current.checks is not None else None
            out.append(
                RouteRow(
                    kreis=inp.kreis(tenant.id),
                    tenant=tenant.id,
                    tenant_name=tenant.name,
                    route_id=route_id,
                    connector=connectors.get(route_id),
                    verdict=verdicts[key].value,
                    deliveries=f.deliveries,
                    delivered_within_hour=f.within_hour,
                    undecided=f.undecided,
                    availability=f.availability,
                    delivered=f.delivered,
                    dead=f.dead,
                    last_delivered_at=f.last_delivered_at,
                    checks_ok=(checks.ok if checks else 0)
                    if inp.current.checks is not None
                    else None,
                    checks_failed=(checks.failed if checks else 0)
                    if inp.current.checks is not None
                    else None,
                    breaker_open_s=inp.current.open_s.get(key, 0.0)
                    if inp.current.open_s is not None
                    else None,
                )
            )
    return out


def unmet_demand(inp: Inputs) -> list[DemandRow]:
    regions = RegionIndex(inp.deployment.tenants.values())
    router = Router(inp.deployment)
    wanted = set(inp.filtered) if inp.filtered is not None else None
    out = []
    for d in inp.current.demand:
        if not demand_in_scope(regions, d.ars, wanted):
            continue
        tenant = regions.tenant(d.ars)
        service = inp.catalogue.service(d.leika_key)
        try:
            router.resolve(d.leika_key, RegionRef.of(ars=d.ars))
            routed_now = True
        except (RoutingError, ValueError):
            routed_now = False
        out.append(
            DemandRow(
                leika_key=d.leika_key,
                service_name=service.name,
                ozg_id=service.ozg_id,
                ozg_leistung=service.ozg_leistung,
                ars=d.ars,
                region_name=tenant.name if tenant else OUTSIDE,
                tenant=tenant.id if tenant else None,
                kreis=inp.kreis(tenant.id) if tenant else None,
                refusals=d.refusals,
                months=d.months,
                last_month=d.last_month,
                routed_now=routed_now,
            )
        )
    out.sort(key=lambda r: (-r.refusals, inp.order(r.tenant or ""), r.ars, r.leika_key))
    return out
