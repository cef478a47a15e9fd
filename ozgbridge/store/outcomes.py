"""What recording one attempt's outcome writes: the attempt row, the delivery's next state, the
application's status and the audit events — all inside the caller's transaction."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ozgbridge import audit
from ozgbridge.dataprotection.sealing import Sealer, attempt_response_aad
from ozgbridge.domain import ApplicationStatus, AttemptOutcome, DeliveryState, utcnow
from ozgbridge.ids import new_id
from ozgbridge.ops.admission import RouteKey, RoutePolicy
from ozgbridge.store.breakers import update_breakers
from ozgbridge.store.bulk_insert import execute_rows
from ozgbridge.store.records import AttemptResult, ClaimedDelivery
from ozgbridge.store.tables import UTCDateTime, applications, attempts, deliveries


def leased_to(worker_id: Any) -> ColumnElement[bool]:
    """The delivery is still leased to this worker — nobody took it over after a lease expiry.

    ``worker_id`` may be a value or a `bindparam` (for statements built once).
    """
    return and_(
        deliveries.c.lease_owner == worker_id,
        deliveries.c.state == DeliveryState.DELIVERING,
    )


_APPLICATION_STATUS = {
    DeliveryState.DELIVERED: ApplicationStatus.DELIVERED,
    DeliveryState.DEAD: ApplicationStatus.DEAD,
    None: ApplicationStatus.DELIVERING,
}


def _final_state(result: AttemptResult) -> DeliveryState | None:
    """Where the attempt leaves the delivery: delivered, dead, or None (pending again)."""
    if result.outcome == AttemptOutcome.DELIVERED:
        return DeliveryState.DELIVERED
    return DeliveryState.DEAD if result.retry_at is None else None


_ATTEMPT_OUTCOME_FIELDS = (
    "worker", "started_at", "finished_at", "outcome", "status_code", "error", "retry_at",
    "response_excerpt", "response_key_id",
)  # fmt: skip


# Built once: asked for every batch of outcomes.
_OWNERS = (
    select(deliveries.c.id, deliveries.c.state, deliveries.c.lease_owner)
    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(deliveries.c.id)
    .with_for_update()
)


# Built once, run through `execute_rows` (store/bulk_insert.py) with one row per delivery.
_NOW = bindparam("b_now", type_=UTCDateTime)
_DELIVERED = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"))
    .values(
        state=DeliveryState.DELIVERED,
        delivered_at=_NOW,
        remote_reference=bindparam("b_ref"),
        last_status_code=bindparam("b_code"),
        last_error=None,
        lease_owner=None,
        lease_expires_at=None,
        updated_at=_NOW,
    )
)
_FAILED = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        next_attempt_at=bindparam("b_next", type_=UTCDateTime),
        rung=deliveries.c.rung - bindparam("b_back"),
        last_error=bindparam("b_error"),
        last_status_code=bindparam("b_code"),
        lease_owner=None,
        lease_expires_at=None,
        updated_at=_NOW,
    )
)
_STATUSES = (
    update(applications)
    # Only a delivery to the tenant the application is with speaks for it: one to a tenant it
    # was forwarded away from may still finish, and changes nothing here.
    .where(
        applications.c.id == bindparam("b_id"),
        applications.c.tenant_id == bindparam("b_tenant"),
        # only forwarding (or an operator) settles an unroutable application
        applications.c.status != ApplicationStatus.UNROUTABLE,
    )
    .values(status=bindparam("b_status"), updated_at=_NOW)
)


async def upsert_attempts(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """One row per (delivery, attempt number); a late real outcome replaces a lease-expiry note."""
    latest = {(row["delivery_id"], row["number"]): row for row in rows}  # one write per row
    await execute_rows(
        conn,
        _upsert_attempt(conn.dialect.name),
        [
            {"id": new_id(), "response_excerpt": None, "response_key_id": None, **row}
            for row in latest.values()
        ],
    )


@functools.cache
def _upsert_attempt(dialect: str) -> Any:
    """The upsert as one statement run with many parameter sets: compiled once and cached,
    where a multi-row VALUES list is compiled anew for every batch size (the worker's hottest
    statement spent most of its time in SQLAlchemy's compiler)."""
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = dialect_insert(attempts)
    return statement.on_conflict_do_update(
        index_elements=["delivery_id", "number"],
        set_={name: statement.excluded[name] for name in _ATTEMPT_OUTCOME_FIELDS},
    )


def _attempt_event(
    claimed: ClaimedDelivery, worker_id: str, result: AttemptResult
) -> audit.AuditEvent:
    return audit.AuditEvent(
        actor=f"worker:{worker_id}",
        action="delivery.attempt",
        tenant_id=claimed.tenant_id,
        application_id=claimed.application_id,
        delivery_id=claimed.id,
        details={
            "attempt": claimed.attempt,
            "outcome": str(result.outcome),
            "status_code": result.status_code,
            "error": result.error,
            "retry_at": result.retry_at.isoformat() if result.retry_at else None,
        },
    )


def _final_event(
    claimed: ClaimedDelivery, state: DeliveryState, result: AttemptResult
) -> audit.AuditEvent:
    return audit.AuditEvent(
        actor="system:worker",
        action=f"delivery.{state}",
        tenant_id=claimed.tenant_id,
        application_id=claimed.application_id,
        delivery_id=claimed.id,
        details={
            "attempts": claimed.attempt,
            "remote_reference": result.remote_reference,
            "error": result.error,
        },
    )


def _sealed_excerpt(
    sealer: Sealer, claimed: ClaimedDelivery, result: AttemptResult
) -> dict[str, Any]:
    if result.response_excerpt is None:
        return {"response_excerpt": None, "response_key_id": None}
    aad = attempt_response_aad(claimed.id, claimed.attempt)
    sealer = sealer.pinned()
    return {
        "response_excerpt": sealer.seal(result.response_excerpt.encode("utf-8"), aad),
        "response_key_id": sealer.key_id,
    }


async def record_outcomes_together(
    conn: AsyncConnection,
    items: Sequence[tuple[ClaimedDelivery, str, AttemptResult]],
    policies: Mapping[RouteKey, RoutePolicy] | None = None,
    sealer: Sealer | None = None,
) -> tuple[list[bool], list[audit.AuditEvent]]:
    """Record a batch of outcomes in a fixed number of statements, whatever the batch size.

    The batch's deliveries are read first — locked with FOR UPDATE on PostgreSQL (in id order, so
    two flushes cannot deadlock), while on SQLite the transaction already holds the write lock —
    so whether each delivery is still ours is decided here, and the writes are executemany.
    """
    now = utcnow()
    ids = sorted({c.id for c, _w, _r in items})
    current = {row.id: row for row in await conn.execute(_OWNERS, {"ids": ids})}
    owned: list[bool] = []
    delivered: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    events: list[audit.AuditEvent] = []
    for claimed, worker_id, result in items:
        row = current.get(claimed.id)
        final = _final_state(result)
        if result.outcome == AttemptOutcome.DELIVERED:
            # the back-end has it, whatever the lease says
            ours = row is not None and row.state != DeliveryState.DELIVERED
            if ours:
                delivered.append(
                    {"b_id": claimed.id, "b_ref": result.remote_reference,
                     "b_code": result.status_code, "b_now": now}
                )  # fmt: skip
        else:
            ours = (
                row is not None
                and row.state == DeliveryState.DELIVERING
                and row.lease_owner == worker_id
            )
            if ours:
                failed.append(
                    {"b_id": claimed.id, "b_state": final or DeliveryState.PENDING,
                     "b_next": result.retry_at or now, "b_error": result.error,
                     "b_code": result.status_code, "b_back": int(result.keeps_rung),
                     "b_now": now}
                )  # fmt: skip
        owned.append(ours)
        events.append(_attempt_event(claimed, worker_id, result))
        if ours:
            statuses.append(
                {"b_id": claimed.application_id, "b_tenant": claimed.tenant_id,
                 "b_status": _APPLICATION_STATUS[final], "b_now": now}
            )  # fmt: skip
            if final is not None:
                events.append(_final_event(claimed, final, result))
    await upsert_attempts(
        conn,
        [
            {
                "delivery_id": c.id,
                "number": c.attempt,
                "worker": w,
                "started_at": r.started_at,
                "finished_at": now,
                "outcome": r.outcome,
                "status_code": r.status_code,
                "error": r.error,
                "retry_at": r.retry_at,
                **_sealed_excerpt(sealer or Sealer.plaintext(), c, r),
            }
            for c, w, r in items
        ],
    )
    await execute_rows(conn, _DELIVERED, delivered)
    await execute_rows(conn, _FAILED, failed)
    await execute_rows(conn, _STATUSES, statuses)
    events += await update_breakers(conn, items, policies or {}, now)
    return owned, events
