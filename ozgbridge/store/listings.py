"""Lists of applications by status (e.g. the unroutable ones operators must settle)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, TextClause, and_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.tables import UNROUTABLE_SQL, applications


@dataclass(frozen=True)
class ApplicationSummary:
    id: str
    status: str
    processing_status: str | None
    tenant_id: str
    leika_key: str
    service_name: str | None
    ars: str
    ags: str
    received_at: datetime
    updated_at: datetime


async def list_applications(
    engine: AsyncEngine,
    *,
    status: str | None = None,
    tenant_id: str | None = None,
    submitted_by: str | None = None,
    before: str | None = None,
    limit: int = 100,
) -> list[ApplicationSummary]:
    """Newest first (ids sort by creation); ``before`` is the last id of the previous page."""
    conditions: list[ColumnElement[bool] | TextClause] = []
    if status == "unroutable":
        conditions.append(text(UNROUTABLE_SQL))  # literal, so the partial index applies
    elif status is not None:
        conditions.append(applications.c.status == status)
    if tenant_id is not None:
        conditions.append(applications.c.tenant_id == tenant_id)
    if submitted_by is not None:
        conditions.append(applications.c.submitted_by == submitted_by)
    if before is not None:
        conditions.append(applications.c.id < before)
    query = (
        select(
            applications.c.id,
            applications.c.status,
            applications.c.processing_status,
            applications.c.tenant_id,
            applications.c.leika_key,
            applications.c.service_name,
            applications.c.ars,
            applications.c.ags,
            applications.c.received_at,
            applications.c.updated_at,
        )
        .where(and_(True, *conditions))
        .order_by(applications.c.id.desc())
        .limit(limit)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        ApplicationSummary(
            id=row.id,
            status=row.status,
            processing_status=row.processing_status,
            tenant_id=row.tenant_id,
            leika_key=row.leika_key,
            service_name=row.service_name,
            ars=row.ars,
            ags=row.ags,
            received_at=row.received_at,
            updated_at=row.updated_at,
        )
        for row in rows
    ]
