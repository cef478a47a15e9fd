"""Unmet demand ("Nachfrage ohne Angebot"): refusals counted per service × region × month.

A portal or FIT-Connect submission that no authority is responsible for is refused (422) and
stores nothing — but that citizens ask for a service nobody offers online is the most useful
signal an OZG coordinator gets. So each refusal adds one to a counter keyed by month (UTC),
LeiKa key and ARS; no id, reference, content or sender is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.tables import unmet_demand

_LEIKA_KEY = re.compile(r"\d{14}")
_ARS = re.compile(r"\d{12}")


def month_of(at: datetime) -> str:
    """``YYYY-MM`` of ``at`` in UTC."""
    at = at.astimezone(UTC)
    return f"{at.year:04d}-{at.month:02d}"


async def record_refusal(engine: AsyncEngine, leika_key: str, ars: str, at: datetime) -> bool:
    """Count one refusal; False (and nothing stored) when key or ARS are not well-formed."""
    if not (_LEIKA_KEY.fullmatch(leika_key) and _ARS.fullmatch(ars)):
        return False
    values = {"month": month_of(at), "leika_key": leika_key, "ars": ars, "refusals": 1}
    insert: Any = (
        postgresql.insert(unmet_demand)
        if engine.dialect.name == "postgresql"
        else sqlite.insert(unmet_demand)
    )
    stmt = insert.values(**values, last_at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=[unmet_demand.c.month, unmet_demand.c.leika_key, unmet_demand.c.ars],
        set_={"refusals": unmet_demand.c.refusals + 1, "last_at": stmt.excluded.last_at},
    )
    async with engine.begin() as conn:
        await conn.execute(stmt)
    return True


@dataclass(frozen=True)
class DemandCount:
    """Refusals for one service in one region over a range of months."""

    leika_key: str
    ars: str
    refusals: int
    months: int  # months with at least one refusal
    last_month: str


async def demand_between(
    engine: AsyncEngine, first_month: str, last_month: str
) -> Sequence[DemandCount]:
    """Refusals per (LeiKa key, ARS) in the months ``first_month`` … ``last_month`` (inclusive)."""
    stmt = (
        select(
            unmet_demand.c.leika_key,
            unmet_demand.c.ars,
            func.sum(unmet_demand.c.refusals).label("refusals"),
            func.count().label("months"),
            func.max(unmet_demand.c.month).label("last_month"),
        )
        .where(unmet_demand.c.month >= first_month, unmet_demand.c.month <= last_month)
        .group_by(unmet_demand.c.leika_key, unmet_demand.c.ars)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [
        DemandCount(r.leika_key, r.ars, int(r.refusals), int(r.months), str(r.last_month))
        for r in rows
    ]
