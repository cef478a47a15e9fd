"""What every table of the schema is built from: the one `metadata`, the UTC timestamp type, ids.

The schema is split by area (`tables_applications`, `tables_status`, `tables_operations`); this
module holds what they share, so that none of them depends on another. Its `metadata` has no
tables until those modules are imported: take it from `ozgbridge.store.tables`, where it is
complete.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Dialect, MetaData, String
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out — also on SQLite, which stores no zone.

    The audit chain hashes timestamps, so a value must read back exactly as it was written.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use ozgbridge.domain.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def id_column(name: str = "id", *args: Any, **kwargs: Any) -> Column[str]:
    """An id column: ULIDs are 26 characters."""
    return Column(name, String(26), *args, **kwargs)
