"""Route operations in the store: the overview, pause and resume, and recorded route tests.

Pause and resume change the route's row in ``route_states`` under its lock, write the transition
and its audit event in the same transaction. A free-text reason goes into ``route_transitions``
(deletable, for people reading the route's history); the audit event carries only its SHA-256.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.domain import RouteState, sha256_hex, utcnow
from ozgbridge.ids import new_id
from ozgbridge.ops.admission import RouteKey, RouteRuntime, display_state
from ozgbridge.ops.breaker import Breaker
from ozgbridge.store import route_state, stats
from ozgbridge.store.tables import route_checks

ERROR_CHARS = 500


@dataclass(frozen=True)
class RouteOverview:
    key: RouteKey
    runtime: RouteRuntime
    figures: stats.RouteFigures

    @property
    def state(self) -> RouteState:
        return display_state(self.runtime)


@dataclass(frozen=True)
class StateChange:
    key: RouteKey
    before: RouteState
    after: RouteState

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    status_code: int | None
    duration_ms: int
    error: str | None


def reason_details(reason: str | None) -> dict[str, object]:
    """How a free-text reason appears in the audit log: never as text, only as a fingerprint."""
    if not reason:
        return {}
    return {"reason_sha256": sha256_hex(reason.encode("utf-8")), "reason_chars": len(reason)}


class RouteStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def overview(
        self, keys: Sequence[RouteKey], *, tenants: Sequence[str] | None = None
    ) -> list[RouteOverview]:
        """Runtime and figures of the routes ``keys`` (configured routes), in that order."""
        async with self.engine.connect() as conn:
            runtimes = await route_state.load(conn, keys)
            figures = await stats.route_figures(conn, tenants=tenants)
        return [
            RouteOverview(
                key, runtimes.get(key, RouteRuntime()), figures.get(key) or stats.RouteFigures()
            )
            for key in keys
        ]

    async def pause(self, key: RouteKey, *, actor: str, reason: str | None = None) -> StateChange:
        return await self._set_paused(key, True, actor=actor, reason=reason)

    async def resume(self, key: RouteKey, *, actor: str, reason: str | None = None) -> StateChange:
        """Lift a pause; the breaker closes too (a resume says: the back-end is fine now)."""
        return await self._set_paused(key, False, actor=actor, reason=reason)

    async def _set_paused(
        self, key: RouteKey, paused: bool, *, actor: str, reason: str | None
    ) -> StateChange:
        now = utcnow()
        action = "route.paused" if paused else "route.resumed"
        async with self.engine.begin() as conn:
            before = (await route_state.lock(conn, [key], now))[key]
            after = replace(before, paused=paused)
            if not paused:
                after = replace(after, breaker=Breaker())
            if after != before:
                await route_state.save(conn, {key: after}, now)
            text = reason or ("paused" if paused else "resumed")
            change = route_state.transition(
                key, before, after, reason=f"{text} ({actor})", actor=actor, action=action
            )
            transitions = [change] if change is not None else []
            await route_state.record_transitions(conn, transitions, now)
            await audit.append(
                conn,
                audit.AuditEvent(
                    actor=actor,
                    action=action,
                    tenant_id=key[0],
                    details={
                        "route_id": key[1],
                        "from_state": str(display_state(before)),
                        "to_state": str(display_state(after)),
                        **reason_details(reason),
                    },
                ),
            )
        return StateChange(key, display_state(before), display_state(after))

    async def record_check(
        self, key: RouteKey, result: CheckResult, *, actor: str, at: datetime
    ) -> str:
        """Store a route test's result with its audit event; returns the check's id."""
        check_id = new_id()
        error = result.error[:ERROR_CHARS] if result.error else None
        async with self.engine.begin() as conn:
            await conn.execute(
                route_checks.insert().values(
                    id=check_id,
                    tenant_id=key[0],
                    route_id=key[1],
                    at=at,
                    ok=result.ok,
                    status_code=result.status_code,
                    duration_ms=result.duration_ms,
                    error=error,
                    actor=actor,
                )
            )
            await audit.append(
                conn,
                audit.AuditEvent(
                    actor=actor,
                    action="route.tested",
                    tenant_id=key[0],
                    details={
                        "route_id": key[1],
                        "check_id": check_id,
                        "ok": result.ok,
                        "status_code": result.status_code,
                        "duration_ms": result.duration_ms,
                        "error": error,
                    },
                ),
            )
        return check_id
