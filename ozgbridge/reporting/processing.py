"""The report's processing figures: what authorities did with applications after delivery.

Per tenant × service, over the applications *received* in the period (like every other view):

- ``completed`` and ``completion_median_s`` — applications whose processing status is completed
  (beschieden), and the median time from receipt to their first ``completed`` report;
- ``rejected``, ``withdrawn`` — closed otherwise;
- ``forwarded`` — applications this tenant passed on as not responsible: where misrouting
  happens, which a coordinator wants to fix (counted at the tenant that had them);
- ``unroutable`` — applications this tenant was not responsible for and nobody else was either.

Completed, rejected, withdrawn and unroutable count at the tenant the application is with now.
Medians are `percentile_cont(0.5)`; SQLite gets the same formula over window functions (see
`ozgbridge.reporting.queries`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.domain import ApplicationStatus
from ozgbridge.reporting.catalogue import Catalogue
from ozgbridge.reporting.period import Period
from ozgbridge.status_rules import ProcessingStatus
from ozgbridge.store.tables import applications, forwardings, status_history
from ozgbridge.tenants import Deployment

Pair = tuple[str, str]


@dataclass(frozen=True)
class ProcessingRow:
    """Per tenant × service: how applications were settled, and where they were misrouted."""

    tenant: str
    tenant_name: str
    leika_key: str
    service_name: str
    completed: int
    completion_median_s: float | None
    rejected: int
    withdrawn: int
    forwarded: int
    unroutable: int


def _in_period(stmt: Select[Any], period: Period) -> Select[Any]:
    return stmt.where(
        applications.c.received_at >= period.start, applications.c.received_at < period.end
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _closed_statement(period: Period, tenants: Sequence[str] | None) -> Select[Any]:
    processing = applications.c.processing_status
    stmt = _in_period(
        select(
            applications.c.tenant_id.label("tenant"),
            applications.c.leika_key,
            _count_if(processing == ProcessingStatus.REJECTED.value).label("rejected"),
            _count_if(processing == ProcessingStatus.WITHDRAWN.value).label("withdrawn"),
            _count_if(applications.c.status == ApplicationStatus.UNROUTABLE.value).label(
                "unroutable"
            ),
        ).where(applications.c.processing_status.is_not(None)),
        period,
    )
    if tenants is not None:
        stmt = stmt.where(applications.c.tenant_id.in_(list(tenants)))
    return stmt.group_by(applications.c.tenant_id, applications.c.leika_key)


def _forwarded_statement(period: Period, tenants: Sequence[str] | None) -> Select[Any]:
    stmt = _in_period(
        select(
            forwardings.c.from_tenant.label("tenant"),
            applications.c.leika_key,
            func.count(func.distinct(forwardings.c.application_id)).label("forwarded"),
        ).select_from(
            forwardings.join(applications, applications.c.id == forwardings.c.application_id)
        ),
        period,
    )
    if tenants is not None:
        stmt = stmt.where(forwardings.c.from_tenant.in_(list(tenants)))
    return stmt.group_by(forwardings.c.from_tenant, applications.c.leika_key)


def _seconds(dialect: str, later: Any, earlier: Any) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * literal(86400.0)


def _completed_statement(
    dialect: str, period: Period, tenants: Sequence[str] | None
) -> Select[Any]:
    """Count and median seconds from receipt to the first completed report, per pair."""
    first = (
        select(
            status_history.c.application_id,
            func.min(status_history.c.at).label("at"),
        )
        .where(status_history.c.status == ProcessingStatus.COMPLETED.value)
        .group_by(status_history.c.application_id)
        .subquery("first_completed")
    )
    seconds = _seconds(dialect, first.c.at, applications.c.received_at)
    source = applications.join(first, first.c.application_id == applications.c.id)
    group = (applications.c.tenant_id, applications.c.leika_key)
    scoped = _in_period(
        select()
        .select_from(source)
        .where(applications.c.processing_status == ProcessingStatus.COMPLETED.value),
        period,
    )
    if tenants is not None:
        scoped = scoped.where(applications.c.tenant_id.in_(list(tenants)))
    if dialect == "postgresql":
        return scoped.add_columns(
            applications.c.tenant_id.label("tenant"),
            applications.c.leika_key,
            func.count().label("completed"),
            func.percentile_cont(0.5).within_group(seconds.asc()).label("median"),
        ).group_by(*group)
    ranked = scoped.add_columns(
        applications.c.tenant_id.label("tenant"),
        applications.c.leika_key,
        seconds.label("s"),
        func.row_number().over(partition_by=list(group), order_by=seconds).label("rn"),
        func.count().over(partition_by=list(group)).label("n"),
    ).subquery()
    h = (ranked.c.n - 1) * literal(0.5)
    lower = cast(h, Integer)
    fraction = h - lower
    upper = lower + case((fraction > 0, 1), else_=0)
    position = ranked.c.rn - 1
    median = func.sum(case((position == lower, ranked.c.s * (1 - fraction)), else_=0.0)) + func.sum(
        case((position == upper, ranked.c.s * fraction), else_=0.0)
    )
    return select(
        ranked.c.tenant,
        ranked.c.leika_key,
        func.count().label("completed"),
        median.label("median"),
    ).group_by(ranked.c.tenant, ranked.c.leika_key)


async def processing_rows(
    engine: AsyncEngine,
    deployment: Deployment,
    period: Period,
    tenants: Sequence[str] | None,
    catalogue: Catalogue,
) -> list[ProcessingRow]:
    """The rows, by tenant and service; pairs with nothing to show are left out."""
    dialect = engine.dialect.name
    async with engine.connect() as conn:
        closed = (await conn.execute(_closed_statement(period, tenants))).all()
        forwarded = (await conn.execute(_forwarded_statement(period, tenants))).all()
        completed = (await conn.execute(_completed_statement(dialect, period, tenants))).all()
    figures: dict[Pair, dict[str, Any]] = {}

    def at(row: Any) -> dict[str, Any]:
        return figures.setdefault((row.tenant, row.leika_key), {})

    for row in closed:
        at(row).update(rejected=row.rejected, withdrawn=row.withdrawn, unroutable=row.unroutable)
    for row in forwarded:
        at(row)["forwarded"] = row.forwarded
    for row in completed:
        median = None if row.median is None else round(float(row.median), 3)
        at(row).update(completed=row.completed, completion_median_s=median)
    rows = []
    for (tenant_id, key), values in sorted(figures.items()):
        counts = {
            name: int(values.get(name) or 0)
            for name in ("completed", "rejected", "withdrawn", "forwarded", "unroutable")
        }
        if not any(counts.values()):
            continue
        tenant = deployment.tenants.get(tenant_id)
        rows.append(
            ProcessingRow(
                tenant=tenant_id,
                tenant_name=tenant.name if tenant else tenant_id,
                leika_key=key,
                service_name=catalogue.service(key).name,
                completion_median_s=values.get("completion_median_s"),
                **counts,
            )
        )
    return rows


def _cell(value: str, numeric: bool) -> str:
    return f'<td class="num">{escape(value)}</td>' if numeric else f"<td>{escape(value)}</td>"


def _number(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def fmt_duration(seconds: float | None) -> str:
    """A processing time the German way: minutes, hours or days (``3,5 Tage``)."""
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{_number(seconds / 60, 1)} min"
    if seconds < 86400:
        return f"{_number(seconds / 3600, 1)} Std."
    return f"{_number(seconds / 86400, 1)} Tage"


def processing_section(rows: Sequence[ProcessingRow]) -> str:
    """The dashboard's and the HTML report's block for these figures (German, like the rest)."""

    def fmt_int(value: int) -> str:
        return _number(value, 0)

    headers = [
        "Mandant", "Leistung", "beschieden", "Median bis Bescheid", "abgelehnt",
        "zurückgezogen", "weitergeleitet (unzuständig)", "ohne Zuständigkeit",
    ]  # fmt: skip
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        f'<tr><th scope="row">{escape(r.tenant_name)}</th>'
        + _cell(r.service_name, numeric=False)
        + _cell(fmt_int(r.completed), numeric=True)
        + _cell(fmt_duration(r.completion_median_s), numeric=True)
        + _cell(fmt_int(r.rejected), numeric=True)
        + _cell(fmt_int(r.withdrawn), numeric=True)
        + _cell(fmt_int(r.forwarded), numeric=True)
        + _cell(fmt_int(r.unroutable), numeric=True)
        + "</tr>"
        for r in rows
    )
    table = (
        '<table id="table-processing"><caption>Bearbeitung nach Zustellung: Bescheide, '
        "Weiterleitungen wegen Unzuständigkeit</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        if rows
        else '<p id="table-processing" class="muted">Keine Rückmeldungen der Behörden im '
        "Zeitraum.</p>"
    )
    return (
        '<section aria-labelledby="h-processing"><h2 id="h-processing">Bearbeitung</h2>'
        f"{table}</section>"
    )
