"""SQL helpers the report's queries share: the period and tenant scope, conditional counts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, case, func

from ozgbridge.domain import ApplicationStatus
from ozgbridge.reporting.period import Period
from ozgbridge.store.tables import applications

DELIVERED = applications.c.status == ApplicationStatus.DELIVERED.value
DEAD = applications.c.status == ApplicationStatus.DEAD.value
GROUP: tuple[ColumnElement[str], ...] = (applications.c.tenant_id, applications.c.leika_key)


def scoped(
    stmt: Select[tuple[object, ...]], period: Period, tenants: Sequence[str] | None
) -> Select[tuple[object, ...]]:
    stmt = stmt.where(
        applications.c.received_at >= period.start, applications.c.received_at < period.end
    )
    if tenants is not None:
        stmt = stmt.where(applications.c.tenant_id.in_(list(tenants)))
    return stmt


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def sum_if(condition: ColumnElement[bool], value: ColumnElement[int]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)
