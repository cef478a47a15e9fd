"""Turning configuration and aggregate facts into a `Report`.

What "offered", "online" and the area mean is defined in `ozgbridge.reporting.coverage`, route
availability in `ozgbridge.reporting.availability`. Service volumes count where applications
were *received*, so a service delegated to a Kreis shows its volume on the Kreis. The headline
figures are computed for the previous period too (`ozgbridge.reporting.period.previous`), from
the volumes, route facts and unmet demand of that period only.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.errors import InvalidValue
from ozgbridge.reporting import queries, route_queries, rows
from ozgbridge.reporting.availability import combined_availability
from ozgbridge.reporting.catalogue import Catalogue, default_catalogue
from ozgbridge.reporting.coverage import Cell, coverage
from ozgbridge.reporting.inputs import Inputs, PeriodFacts, demand_in_scope
from ozgbridge.reporting.model import Comparison, Headline, Report, TenantInfo
from ozgbridge.reporting.period import Period, previous
from ozgbridge.reporting.processing import processing_rows
from ozgbridge.reporting.tenant_tree import RegionIndex, groups, placed
from ozgbridge.store.demand import demand_between
from ozgbridge.tenants import Deployment, TenantConfig

T = TypeVar("T")


class UnknownTenantError(InvalidValue):
    """A tenant asked for is not in the deployment."""


async def _all(engine: AsyncEngine, *work: Awaitable[Any]) -> list[Any]:
    """The results in order. PostgreSQL runs the queries at once, one connection each; SQLite
    one after the other, since every transaction there takes the write lock."""
    if engine.dialect.name == "postgresql":
        return list(await asyncio.gather(*work))
    return [await w for w in work]


def _at(values: list[T] | None, index: int) -> T | None:
    return values[index] if values is not None else None


async def build_report(
    engine: AsyncEngine,
    deployment: Deployment,
    period: Period,
    tenant_ids: Sequence[str] | None = None,
    *,
    catalogue: Catalogue | None = None,
    now: datetime | None = None,
    compare: bool = True,
) -> Report:
    """The OZG report for ``period`` over ``tenant_ids`` (None or empty: every tenant)."""
    catalogue = catalogue or default_catalogue()
    now = now or datetime.now(UTC)
    unknown = sorted(set(tenant_ids or ()) - set(deployment.tenants))
    if unknown:
        raise UnknownTenantError(f"no such tenant: {', '.join(unknown)}")
    filtered = sorted(set(tenant_ids)) if tenant_ids else None
    in_scope = set(filtered or deployment.tenants)
    places = [p for p in placed(deployment) if p.tenant.id in in_scope]
    scope = [p.tenant for p in places]
    periods = [period, previous(period)] if compare else [period]

    facts, earlier_counts, route_facts, checks, open_s, *demand = await _all(
        engine,
        queries.fetch_facts(engine, period, filtered),
        queries.fetch_counts(engine, periods[-1], filtered) if compare else _none(),
        route_queries.route_facts(engine, periods, now),
        route_queries.checks_per_route(engine, periods),
        route_queries.breaker_open(engine, periods, now),
        *(demand_between(engine, p.months()[0], p.months()[-1]) for p in periods),
    )
    current = PeriodFacts(facts.counts, route_facts[0], _at(checks, 0), _at(open_s, 0), demand[0])
    cells, keys = await _cells(
        engine, deployment=deployment, period=period, filtered=filtered, facts=current
    )
    report = rows.assemble(
        Inputs(deployment, scope, filtered, places, catalogue, facts, current, cells, keys),
        period=period,
        generated_at=now,
        tenants=tuple(
            TenantInfo(
                p.tenant.id,
                p.tenant.name,
                p.tenant.ars,
                p.tenant.parent,
                deployment.tenants[p.group].name,
                p.depth,
            )
            for p in places
        ),
    )
    report = dataclasses.replace(
        report,
        processing=tuple(await processing_rows(engine, deployment, period, filtered, catalogue)),
    )
    if not compare:
        return report
    earlier = PeriodFacts(earlier_counts, route_facts[1], _at(checks, 1), _at(open_s, 1), demand[1])
    earlier_cells, earlier_keys = await _cells(
        engine, deployment=deployment, period=periods[1], filtered=filtered, facts=earlier
    )
    headline = _headline(
        deployment,
        scope=scope,
        filtered=filtered,
        facts=earlier,
        cells=earlier_cells,
        keys=earlier_keys,
    )
    return rows.with_previous(report, Comparison(periods[1], headline))


async def _none() -> None:
    return None


async def _cells(
    engine: AsyncEngine,
    *,
    deployment: Deployment,
    period: Period,
    filtered: list[str] | None,
    facts: PeriodFacts,
) -> tuple[dict[tuple[str, str], Cell], list[str]]:
    counts = facts.counts
    explicit = {k for t in deployment.tenants.values() for r in t.routes for k in r.services}
    keys = sorted((explicit - {"*"}) | {key for _, key in counts})

    async def active_pairs(tenants: Sequence[str]) -> set[tuple[str, str]]:
        # The counts already know the tenants in scope; ask the database only about the others.
        known = set(deployment.tenants) if filtered is None else set(filtered)
        pairs = {pair for pair in counts if pair[0] in tenants}
        others = [t for t in tenants if t not in known]
        return pairs | (await queries.active_pairs(engine, period, others) if others else set())

    cells = await coverage(deployment, keys, active_pairs, facts.verdicts(deployment))
    return cells, keys


def _headline(
    deployment: Deployment,
    *,
    scope: list[TenantConfig],
    filtered: list[str] | None,
    facts: PeriodFacts,
    cells: dict[tuple[str, str], Cell],
    keys: list[str],
) -> Headline:
    ids = {t.id for t in scope}
    regions = RegionIndex(deployment.tenants.values())
    wanted = set(filtered) if filtered is not None else None
    counts = [c for (tenant, _), c in facts.counts.items() if tenant in ids]
    online = [sum(cells[(t.id, k)].online for t in scope) for k in keys]
    return Headline(
        received=sum(c.received for c in counts),
        delivered=sum(c.delivered for c in counts),
        dead=sum(c.dead for c in counts),
        services_offered=sum(any(cells[(t.id, k)].offered for t in scope) for k in keys),
        services_online=sum(1 for n in online if n),
        services_area_wide=sum(1 for n in online if scope and n == len(scope)),
        refusals=sum(d.refusals for d in facts.demand if demand_in_scope(regions, d.ars, wanted)),
        availability=combined_availability(
            [f for (tenant, _), f in facts.routes.items() if tenant in ids]
        ),
    )


async def kreis_reports(
    engine: AsyncEngine,
    deployment: Deployment,
    period: Period,
    tenant_ids: Sequence[str] | None = None,
) -> list[tuple[str, Report]]:
    """One report per Kreis (group) among ``tenant_ids`` (None: all), for the printed summary."""
    unknown = sorted(set(tenant_ids or ()) - set(deployment.tenants))
    if unknown:
        raise UnknownTenantError(f"no such tenant: {', '.join(unknown)}")
    return [
        (head.name, await build_report(engine, deployment, period, members))
        for head, members in groups(deployment, tenant_ids or list(deployment.tenants))
    ]
