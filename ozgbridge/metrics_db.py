"""Gauges read from the database, cached for a few seconds so that scrapes stay cheap.

Every API process can serve them; Prometheus scraping several gets the same values from each
(aggregate with ``max by (tenant, route, state)``). A scrape while the database is away serves
the last values with ``ozgbridge_database_up 0``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.deployment import Deployment
from ozgbridge.domain import RouteState, utcnow
from ozgbridge.ops.admission import RouteKey, RouteRuntime, display_state
from ozgbridge.store import route_state, stats

log = structlog.get_logger("ozgbridge.metrics")
CACHE_SECONDS = 5.0


@dataclass
class _Snapshot:
    figures: dict[RouteKey, stats.RouteFigures] = field(default_factory=dict)
    runtimes: dict[RouteKey, RouteRuntime] = field(default_factory=dict)
    oldest: dict[RouteKey, float] = field(default_factory=dict)
    up: bool = False
    taken: float = float("-inf")  # monotonic


class DatabaseGauges(Collector):
    def __init__(
        self,
        engine: AsyncEngine,
        deployment: Deployment | Callable[[], Deployment],
        *,
        ttl: float = CACHE_SECONDS,
    ) -> None:
        """``deployment``: fixed, or a function giving the one in force (a reload replaces it)."""
        self.engine = engine
        self._deployment = deployment
        self.ttl = ttl
        self._snapshot = _Snapshot()
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Read the figures again unless the cached ones are younger than ``ttl``."""
        if time.monotonic() - self._snapshot.taken < self.ttl:
            return
        async with self._lock:  # concurrent scrapes share one read
            if time.monotonic() - self._snapshot.taken < self.ttl:
                return
            try:
                async with self.engine.connect() as conn:
                    figures = await stats.route_figures(conn)
                    runtimes = await route_state.load(conn)
            except Exception:
                log.exception("metrics.database_read_failed")
                self._snapshot.up = False
                self._snapshot.taken = time.monotonic()
                return
            now = utcnow()
            oldest = {
                key: max(0.0, (now - f.oldest_queued_at).total_seconds())
                for key, f in figures.items()
                if f.oldest_queued_at is not None
            }
            self._snapshot = _Snapshot(figures, runtimes, oldest, True, time.monotonic())

    @property
    def routes(self) -> list[RouteKey]:
        source = self._deployment
        deployment = source if isinstance(source, Deployment) else source()
        return [(t.id, r.id) for t in deployment.tenants.values() for r in t.routes]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = self._snapshot
        keys = sorted(set(self.routes) | set(snap.figures))
        deliveries = GaugeMetricFamily(
            "ozgbridge_deliveries",
            "Deliveries per state (pending, delivering, dead, cancelled) and route; delivered "
            "ones are not counted here, see ozgbridge_delivery_attempts_total",
            labels=["state", "tenant", "route"],
        )
        oldest = GaugeMetricFamily(
            "ozgbridge_oldest_pending_seconds",
            "Age of the route's oldest unfinished delivery since its ladder began (0: none)",
            labels=["tenant", "route"],
        )
        states = GaugeMetricFamily(
            "ozgbridge_route_state",
            "1 for the route's current state (active, paused, open, half-open), else 0",
            labels=["tenant", "route", "state"],
        )
        failures = GaugeMetricFamily(
            "ozgbridge_route_consecutive_failures",
            "Consecutive retriable failures of the route's deliveries",
            labels=["tenant", "route"],
        )
        for key in keys:
            tenant, route = key
            figures = snap.figures.get(key) or stats.RouteFigures()
            for state, count in figures.counts.items():
                deliveries.add_metric([str(state), tenant, route], count)
            oldest.add_metric([tenant, route], round(snap.oldest.get(key, 0.0), 3))
            runtime = snap.runtimes.get(key, RouteRuntime())
            current = display_state(runtime)
            for route_state_ in RouteState:
                value = 1.0 if route_state_ is current else 0.0
                states.add_metric([tenant, route, str(route_state_)], value)
            failures.add_metric([tenant, route], runtime.breaker.failures)
        up = GaugeMetricFamily(
            "ozgbridge_database_up",
            "1 if the last read of the database figures succeeded",
            value=1.0 if snap.up else 0.0,
        )
        yield from (deliveries, oldest, states, failures, up)
