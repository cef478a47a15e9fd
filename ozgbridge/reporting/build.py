"""Turning configuration and aggregate facts into a `Report`.

What "online" and "area-wide" (flächendeckend) mean is defined in `ozgbridge.reporting.coverage`.
Service volumes count where applications were *received*, so a service delegated to a Kreis shows
its volume on the Kreis.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.errors import InvalidValue
from ozgbridge.reporting import queries
from ozgbridge.reporting.catalogue import Catalogue, default_catalogue
from ozgbridge.reporting.coverage import Cell, coverage
from ozgbridge.reporting.coverage import art as coverage_art
from ozgbridge.reporting.model import (
    AREA_WIDE,
    NOT_ONLINE,
    ONLINE,
    CoverageCell,
    Report,
    ServiceRow,
    TenantRow,
    TenantServiceRow,
    Totals,
    TrendRow,
    UsageRow,
)
from ozgbridge.reporting.period import Period
from ozgbridge.tenants import Deployment, RouteConfig, TenantConfig


class UnknownTenantError(InvalidValue):
    """A tenant asked for is not in the deployment."""


def own_route(tenant: TenantConfig, leika_key: str) -> RouteConfig | None:
    """The tenant's route for the key: one naming it, else its catch-all, else None."""
    catch_all = None
    for route in tenant.routes:
        if route.is_catch_all:
            catch_all = catch_all or route
        elif route.matches(leika_key):
            return route
    return catch_all


def _explicit_keys(tenants: Iterable[TenantConfig]) -> set[str]:
    return {key for t in tenants for r in t.routes if not r.is_catch_all for key in r.services}


async def build_report(
    engine: AsyncEngine,
    deployment: Deployment,
    period: Period,
    tenant_ids: Sequence[str] | None = None,
    *,
    catalogue: Catalogue | None = None,
    now: datetime | None = None,
) -> Report:
    """The OZG report for ``period`` over ``tenant_ids`` (None or empty: every tenant)."""
    catalogue = catalogue or default_catalogue()
    unknown = sorted(set(tenant_ids or ()) - set(deployment.tenants))
    if unknown:
        raise UnknownTenantError(f"no such tenant: {', '.join(unknown)}")
    filtered = sorted(set(tenant_ids)) if tenant_ids else None
    scope = [deployment.tenants[t] for t in (filtered or sorted(deployment.tenants))]
    facts = await queries.fetch_facts(engine, period, filtered)

    tenant_services = _tenant_services(deployment, scope, facts, catalogue)
    keys = _explicit_keys(deployment.tenants.values()) | {r.leika_key for r in tenant_services}

    async def active_pairs(tenants: Sequence[str]) -> set[tuple[str, str]]:
        # The counts already know the tenants in scope; ask the database only about the others.
        known = set(deployment.tenants) if filtered is None else set(filtered)
        pairs = {pair for pair in facts.counts if pair[0] in tenants}
        others = [t for t in tenants if t not in known]
        return pairs | (await queries.active_pairs(engine, period, others) if others else set())

    cells = await coverage(deployment, scope, keys, active_pairs)
    online = {pair: c.online for pair, c in cells.items()}
    art = {key: coverage_art(sum(online[(t.id, key)] for t in scope), len(scope)) for key in keys}
    coverage_rows = _coverage(scope, sorted(keys), cells=cells, art=art, catalogue=catalogue)
    services = _services(
        scope,
        sorted(keys),
        tenant_services=tenant_services,
        online=online,
        art=art,
        catalogue=catalogue,
    )
    usage = _usage(deployment, facts, catalogue)
    trend = [
        TrendRow(month, key, catalogue.service(key).name, m.received, m.delivered, m.dead)
        for (month, key), m in sorted(facts.trend.items())
    ]
    tenants_shown = {t.id: t.name for t in scope}
    for row in tenant_services:
        tenants_shown.setdefault(row.tenant, row.tenant_name)
    return Report(
        period=period,
        generated_at=now or datetime.now(UTC),
        tenants=tuple(sorted(tenants_shown.items())),
        tenant_services=tuple(tenant_services),
        tenant_health=tuple(_tenant_health(tenant_services, facts)),
        services=tuple(services),
        coverage=tuple(coverage_rows),
        usage=tuple(usage),
        trend=tuple(trend),
        totals=_totals(tenant_services, services, usage),
    )


def _tenant_services(
    deployment: Deployment,
    scope: list[TenantConfig],
    facts: queries.Facts,
    catalogue: Catalogue,
) -> list[TenantServiceRow]:
    # Services a tenant routes explicitly are listed even without applications: "online, unused"
    # is a finding a coordinator needs to see.
    pairs = set(facts.counts) | {(t.id, key) for t in scope for key in _explicit_keys([t])}
    rows: list[TenantServiceRow] = []
    for tenant_id, key in sorted(pairs):
        tenant = deployment.tenants.get(tenant_id)
        route = own_route(tenant, key) if tenant is not None else None
        maturity = route.maturity if route is not None else None
        service = catalogue.service(key)
        c = facts.counts.get((tenant_id, key), queries.Counts(0, 0, 0, 0, 0))
        d = facts.deliveries.get((tenant_id, key))
        rows.append(
            TenantServiceRow(
                tenant=tenant_id,
                tenant_name=tenant.name if tenant else tenant_id,
                ars=tenant.ars if tenant else "",
                leika_key=key,
                service_name=service.name,
                ozg_id=service.ozg_id,
                ozg_leistung=service.ozg_leistung,
                channel=route.connector if route else None,
                maturity_model=maturity.model if maturity else None,
                maturity_level=maturity.level if maturity else None,
                received=c.received,
                delivered=c.delivered,
                dead=c.dead,
                pending=c.received - c.delivered - c.dead,
                latency_median_s=d.median_s if d else None,
                latency_p95_s=d.p95_s if d else None,
                attempts_per_delivered=(
                    round(d.attempts / d.delivered, 3) if d and d.delivered else None
                ),
            )
        )
    return rows


def _tenant_health(
    tenant_services: list[TenantServiceRow], facts: queries.Facts
) -> list[TenantRow]:
    rows = []
    for tenant_id in sorted({r.tenant for r in tenant_services}):
        mine = [r for r in tenant_services if r.tenant == tenant_id]
        d = facts.tenant_deliveries.get(tenant_id)
        received = sum(r.received for r in mine)
        delivered = sum(r.delivered for r in mine)
        dead = sum(r.dead for r in mine)
        rows.append(
            TenantRow(
                tenant=tenant_id,
                tenant_name=mine[0].tenant_name,
                received=received,
                delivered=delivered,
                dead=dead,
                pending=received - delivered - dead,
                latency_median_s=d.median_s if d else None,
                latency_p95_s=d.p95_s if d else None,
                attempts_per_delivered=(
                    round(d.attempts / d.delivered, 3) if d and d.delivered else None
                ),
            )
        )
    return rows


def _coverage(
    scope: list[TenantConfig],
    keys: list[str],
    *,
    cells: dict[tuple[str, str], Cell],
    art: dict[str, str],
    catalogue: Catalogue,
) -> list[CoverageCell]:
    rows = []
    for key in keys:
        for tenant in scope:
            c = cells[(tenant.id, key)]
            rows.append(
                CoverageCell(
                    leika_key=key,
                    tenant=tenant.id,
                    ars=tenant.ars,
                    ozgid=catalogue.service(key).ozg_id,
                    online_status=ONLINE if c.online else NOT_ONLINE,
                    art_flaechendeckung=art[key],
                    served_by=c.served_by,
                    maturity_model=c.maturity.model if c.maturity else None,
                    maturity_level=c.maturity.level if c.maturity else None,
                )
            )
    return rows


def _services(
    scope: list[TenantConfig],
    keys: list[str],
    *,
    tenant_services: list[TenantServiceRow],
    online: dict[tuple[str, str], bool],
    art: dict[str, str],
    catalogue: Catalogue,
) -> list[ServiceRow]:
    volume: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in tenant_services:
        v = volume[row.leika_key]
        v[0] += row.received
        v[1] += row.delivered
        v[2] += row.dead
        v[3] += row.pending
    rows = []
    for key in keys:
        service = catalogue.service(key)
        received, delivered, dead, pending = volume.get(key, [0, 0, 0, 0])
        rows.append(
            ServiceRow(
                leika_key=key,
                service_name=service.name,
                ozg_id=service.ozg_id,
                ozg_leistung=service.ozg_leistung,
                tenants_in_scope=len(scope),
                tenants_online=sum(online[(t.id, key)] for t in scope),
                art_flaechendeckung=art[key],
                received=received,
                delivered=delivered,
                dead=dead,
                pending=pending,
            )
        )
    return rows


def _usage(deployment: Deployment, facts: queries.Facts, catalogue: Catalogue) -> list[UsageRow]:
    rows = []
    for (tenant_id, key), c in sorted(facts.counts.items()):
        extra, extra_delivered = facts.attachment_bytes.get((tenant_id, key), (0, 0))
        tenant = deployment.tenants.get(tenant_id)
        rows.append(
            UsageRow(
                tenant=tenant_id,
                tenant_name=tenant.name if tenant else tenant_id,
                leika_key=key,
                service_name=catalogue.service(key).name,
                applications=c.received,
                delivered=c.delivered,
                volume_bytes=c.data_bytes + extra,
                delivered_volume_bytes=c.delivered_data_bytes + extra_delivered,
            )
        )
    return rows


def _totals(
    tenant_services: list[TenantServiceRow], services: list[ServiceRow], usage: list[UsageRow]
) -> Totals:
    received = sum(r.received for r in tenant_services)
    delivered = sum(r.delivered for r in tenant_services)
    dead = sum(r.dead for r in tenant_services)
    return Totals(
        received=received,
        delivered=delivered,
        dead=dead,
        pending=received - delivered - dead,
        volume_bytes=sum(u.volume_bytes for u in usage),
        delivered_volume_bytes=sum(u.delivered_volume_bytes for u in usage),
        services_online=sum(1 for s in services if s.tenants_online),
        services_area_wide=sum(1 for s in services if s.art_flaechendeckung == AREA_WIDE),
    )
