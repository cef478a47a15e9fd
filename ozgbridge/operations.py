"""What operators and municipalities do to deliveries and routes — one façade for the API, the
CLI and the dashboard, so all three behave the same. Who may act on what is the caller's check;
here every action names its actor and is audited by the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import metrics
from ozgbridge.connector import Connector, ConnectorContext, connector_class
from ozgbridge.deployment import Deployment
from ozgbridge.domain import DeliveryState, RouteState, utcnow
from ozgbridge.errors import ConfigError, DeliveryError, NotFound
from ozgbridge.ops.admission import RouteKey
from ozgbridge.settings import Settings
from ozgbridge.store.delivery_actions import BulkResult, DeliveryActions
from ozgbridge.store.delivery_views import DeliveryFilter, DeliveryItem, DeliveryViews
from ozgbridge.store.routes import CheckResult, RouteOverview, RouteStore
from ozgbridge.tenant_models import RouteConfig

log = structlog.get_logger("ozgbridge.operations")


class UnknownRoute(NotFound):
    """No such configured route (or none the caller may see)."""


@dataclass(frozen=True)
class RouteRow:
    tenant_id: str
    route_id: str
    connector: str
    state: RouteState
    pending: int
    delivering: int
    dead: int
    cancelled: int
    oldest_pending_seconds: float | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    consecutive_failures: int
    open_until: datetime | None
    max_in_flight: int | None
    rate_limit: float | None


def _row(route: RouteConfig, overview: RouteOverview, now: datetime) -> RouteRow:
    counts = overview.figures.counts
    oldest = overview.figures.oldest_queued_at
    breaker = overview.runtime.breaker
    return RouteRow(
        tenant_id=overview.key[0],
        route_id=overview.key[1],
        connector=route.connector,
        state=overview.state,
        pending=counts[DeliveryState.PENDING],
        delivering=counts[DeliveryState.DELIVERING],
        dead=counts[DeliveryState.DEAD],
        cancelled=counts[DeliveryState.CANCELLED],
        oldest_pending_seconds=(
            round(max(0.0, (now - oldest).total_seconds()), 3) if oldest is not None else None
        ),
        last_success_at=overview.runtime.last_success_at,
        last_failure_at=overview.runtime.last_failure_at,
        consecutive_failures=breaker.failures,
        open_until=breaker.open_until if overview.state is RouteState.OPEN else None,
        max_in_flight=route.max_in_flight,
        rate_limit=route.rate_limit,
    )


class Operations:
    def __init__(
        self,
        engine: AsyncEngine,
        deployment: Deployment | Callable[[], Deployment],
        settings: Settings,
        *,
        wake: Callable[[], None] | None = None,
    ) -> None:
        """``deployment``: fixed, or a function giving the one in force (a reload replaces it)."""
        self._deployment = deployment
        self.settings = settings
        self.views = DeliveryViews(engine)
        self.actions = DeliveryActions(engine, notify=settings.pg_notify)
        self.routes = RouteStore(engine)
        self._wake = wake

    @property
    def deployment(self) -> Deployment:
        source = self._deployment
        return source if isinstance(source, Deployment) else source()

    # Routes

    def route_keys(self, tenants: Sequence[str] | None = None) -> list[RouteKey]:
        """Configured routes (of ``tenants``, or all), sorted by tenant and route."""
        return [
            (tenant.id, route.id)
            for tenant in self.deployment.tenants.values()
            if tenants is None or tenant.id in tenants
            for route in tenant.routes
        ]

    def route(self, key: RouteKey) -> RouteConfig:
        try:
            return self.deployment.route(*key)
        except KeyError:
            raise UnknownRoute(f"{key[0]}/{key[1]}") from None

    async def route_rows(self, tenants: Sequence[str] | None = None) -> list[RouteRow]:
        keys = self.route_keys(tenants)
        overviews = await self.routes.overview(keys, tenants=tenants)
        now = utcnow()
        return [_row(self.route(o.key), o, now) for o in overviews]

    async def route_row(self, key: RouteKey) -> RouteRow:
        route = self.route(key)
        [overview] = await self.routes.overview([key], tenants=[key[0]])
        return _row(route, overview, utcnow())

    async def pause(self, key: RouteKey, *, actor: str, reason: str | None = None) -> RouteRow:
        self.route(key)
        await self.routes.pause(key, actor=actor, reason=reason)
        return await self.route_row(key)

    async def resume(self, key: RouteKey, *, actor: str, reason: str | None = None) -> RouteRow:
        self.route(key)
        await self.routes.resume(key, actor=actor, reason=reason)
        self._notify()
        return await self.route_row(key)

    async def test_route(self, key: RouteKey, *, actor: str) -> CheckResult:
        """Ping the route through its real connector; the result is stored in route_checks."""
        route = self.route(key)
        at = utcnow()
        started = time.perf_counter()
        connector: Connector[Any] | None = None
        try:
            connector = self._connector(key, route)
            receipt = await connector.check()
            result = CheckResult(True, receipt.status_code, _ms(started), None)
        except DeliveryError as exc:
            result = CheckResult(False, exc.status_code, _ms(started), exc.detail)
        except (ConfigError, ValidationError) as exc:
            detail = f"the route's connector cannot be built: {_first_line(exc)}"
            result = CheckResult(False, None, _ms(started), detail)
        finally:
            if connector is not None:
                await connector.aclose()
        await self.routes.record_check(key, result, actor=actor, at=at)
        metrics.ROUTE_CHECKS.labels(key[0], key[1], str(result.ok).lower()).inc()
        log.info(
            "route.tested",
            tenant_id=key[0],
            route_id=key[1],
            ok=result.ok,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            actor=actor,
        )
        return result

    def _connector(self, key: RouteKey, route: RouteConfig) -> Connector[Any]:
        context = ConnectorContext(
            tenant_id=key[0], route_id=key[1], data_dir=self.settings.data_dir.resolve()
        )
        return connector_class(route.connector).from_config(
            route.options, context=context, timeout=route.timeout or self.settings.delivery_timeout
        )

    # Deliveries

    async def replay(
        self, delivery_id: str, *, actor: str, force: bool = False, tenants: list[str] | None = None
    ) -> DeliveryItem:
        item = await self.actions.replay(delivery_id, actor=actor, force=force, tenants=tenants)
        self._notify()
        return item

    async def bulk_replay(
        self, where: DeliveryFilter, *, actor: str, dry_run: bool = False
    ) -> BulkResult:
        result = await self.actions.bulk_replay(where, actor=actor, dry_run=dry_run)
        if result.replayed:
            self._notify()
        return result

    async def cancel(
        self, delivery_id: str, *, actor: str, reason: str, tenants: list[str] | None = None
    ) -> DeliveryItem:
        return await self.actions.cancel(delivery_id, actor=actor, reason=reason, tenants=tenants)

    def _notify(self) -> None:
        if self._wake is None:
            return
        try:
            self._wake()
        except Exception:
            log.exception("operations.wake_failed")  # only a hint: workers poll anyway


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _first_line(exc: Exception) -> str:
    """A short description that never echoes option values (they may hold secrets)."""
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "options"
        return f"options.{where}: {first['msg']}"[:300]
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
