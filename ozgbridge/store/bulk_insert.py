"""Many rows into one table with one executemany, without SQLAlchemy's work per row.

`Connection.execute(table.insert(), rows)` builds a parameter dictionary for every row and
passes every value through its column type (``construct_params``); intake writes a few rows per
application into several tables, and that work was the largest share of its transaction's CPU.
`insert_rows` renders the same statement once per dialect and column list, looks up each
column's bind processor once, and hands the driver tuples — the same SQL and the same values
SQLAlchemy would have sent, on SQLite and PostgreSQL alike. Driver errors are translated as for
any statement (an `IntegrityError` stays one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.ext.asyncio import AsyncConnection

Row = dict[str, Any]
_NOTHING = object()


@dataclass(frozen=True)
class _Rendered:
    sql: str
    values_of: Callable[[Row], tuple[Any, ...]]
    # (position, processor) for the columns whose values the type converts (UTCDateTime, ...)
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]
    width: int


# By table object and everything the rendered text depends on: the dialect and driver (their
# paramstyle), and the columns given.
_rendered: dict[tuple[Table, str, str, str, tuple[str, ...]], _Rendered] = {}


def _render(table: Table, columns: tuple[str, ...], dialect: Dialect) -> _Rendered:
    key = (table, dialect.name, dialect.driver, dialect.paramstyle, columns)
    found = _rendered.get(key)
    if found is None:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(columns))
        order = tuple(compiled.positiontup or ())
        if sorted(order) != sorted(columns):
            raise ValueError(f"cannot insert {columns} into {table.name} as given")
        processors = []
        for position, name in enumerate(order):
            processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors.append((position, processor))
        getter = itemgetter(*order)
        values_of = getter if len(order) > 1 else lambda row: (getter(row),)
        found = _rendered[key] = _Rendered(
            compiled.string, values_of, tuple(processors), len(columns)
        )
    return found


def _processed(rendered: _Rendered, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
    # The rows of a batch mostly share one timestamp object ("now"): each distinct value is
    # converted once per column (values are immutable, so the same object converts the same).
    last: list[tuple[Any, Any]] = [(_NOTHING, None)] * len(rendered.processors)
    params = []
    for row in rows:
        values = list(rendered.values_of(row))
        for index, (position, processor) in enumerate(rendered.processors):
            value = values[position]
            given, converted = last[index]
            if value is not given:
                converted = processor(value)
                last[index] = (value, converted)
            values[position] = converted
        params.append(tuple(values))
    return params


async def insert_rows(conn: AsyncConnection, table: Table, rows: Sequence[Row]) -> None:
    """INSERT ``rows`` (dictionaries by column name, all with the same columns) into ``table``."""
    if not rows:
        return
    rendered = _render(table, tuple(rows[0]), conn.dialect)
    for row in rows:
        if len(row) != rendered.width:
            raise ValueError(f"rows for {table.name} must all have the same columns")
    if rendered.processors:
        params = _processed(rendered, rows)
    else:
        params = [rendered.values_of(row) for row in rows]
    await conn.exec_driver_sql(rendered.sql, params)
