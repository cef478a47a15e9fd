"""Many rows through one statement with one executemany, without SQLAlchemy's work per row.

`Connection.execute(statement, rows)` builds a parameter dictionary for every row and passes
every value through its column type (``construct_params``), and first works out the statement's
cache key; intake writes a few rows per application into several tables and the worker updates
a few per delivery, and that work was the largest share of their transactions' CPU.
`insert_rows` and `execute_rows` render the statement once per dialect (and column list), look up
each parameter's bind processor once, and hand the driver tuples — the same SQL and the same
values SQLAlchemy would have sent, on SQLite and PostgreSQL alike. Driver errors are translated as
for any statement (an `IntegrityError` stays one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert as _Insert

Row = dict[str, Any]
_NOTHING = object()


@dataclass(frozen=True)
class _Rendered:
    sql: str
    values_of: Callable[[Row], tuple[Any, ...]]
    # (position, processor) for the parameters whose values the type converts (UTCDateTime, ...)
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]
    width: int


# By statement (or table) and everything the rendered text depends on: the dialect and driver
# (their paramstyle), and for inserts the columns given.
_rendered: dict[tuple[object, str, str, str, tuple[str, ...]], _Rendered] = {}


def _render(statement: Any, owner: object, columns: tuple[str, ...], dialect: Dialect) -> _Rendered:
    """``owner``: what the rendering is kept by; ``columns``: the names each row gives (an insert
    is compiled for exactly those)."""
    key = (owner, dialect.name, dialect.driver, dialect.paramstyle, columns)
    found = _rendered.get(key)
    if found is not None:
        return found
    compiled = statement.compile(
        dialect=dialect, column_keys=list(columns) if isinstance(statement, _Insert) else None
    )
    if compiled.insert_prefetch or compiled.update_prefetch:
        # Python-side column defaults are computed per execution; a rendering kept for reuse
        # would freeze them.
        raise ValueError("statements with Python-side column defaults are not supported")
    order = tuple(compiled.positiontup or ())
    if isinstance(statement, _Insert) and sorted(order) != sorted(columns):
        raise ValueError(f"cannot insert {columns} into {statement.table.name} as given")
    unknown = set(columns) - set(order)
    if unknown:
        raise ValueError(f"the statement has no parameters {sorted(unknown)}")
    # Parameters no row gives are the statement's own constants (``.values(state='dead')``),
    # processed once here; a parameter that needs a value must come with every row.
    constants: dict[int, Any] = {}
    processors = []
    for position, name in enumerate(order):
        bind = compiled.binds[name]
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name in columns:
            if processor is not None:
                processors.append((position, processor))
        elif bind.required or bind.callable is not None:
            raise ValueError(f"every row must give a value for parameter {name!r}")
        else:
            constants[position] = processor(bind.value) if processor else bind.value
    found = _rendered[key] = _Rendered(
        compiled.string, _values_of(order, constants), tuple(processors), len(columns)
    )
    return found


def _values_of(
    order: tuple[str, ...], constants: dict[int, Any]
) -> Callable[[Row], tuple[Any, ...]]:
    """A row's values in the statement's parameter order, its constants in their places."""
    getter = itemgetter(*(name for position, name in enumerate(order) if position not in constants))
    picked: Callable[[Row], tuple[Any, ...]] = (
        (lambda row: (getter(row),)) if len(order) - len(constants) == 1 else getter
    )
    if not constants:
        return picked
    width = len(order)

    def with_constants(row: Row) -> tuple[Any, ...]:
        given = iter(picked(row))
        return tuple(constants[i] if i in constants else next(given) for i in range(width))

    return with_constants


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
    if rows:
        await _execute(conn, table.insert(), table, rows)


async def execute_rows(conn: AsyncConnection, statement: Executable, rows: Sequence[Row]) -> None:
    """Run ``statement`` once per row (dictionaries by parameter name, all with the same names).

    ``statement`` must be built once (a module constant): its rendering is kept by identity.
    Its own constants (``.values(last_error=None)``) are sent as compiled; anything that changes
    between calls — a timestamp — must be a `bindparam` the rows give.
    """
    if rows:
        await _execute(conn, statement, statement, rows)


async def _execute(
    conn: AsyncConnection, statement: Any, owner: object, rows: Sequence[Row]
) -> None:
    rendered = _render(statement, owner, tuple(rows[0]), conn.dialect)
    for row in rows:
        if len(row) != rendered.width:
            raise ValueError("rows must all have the same columns")
    if rendered.processors:
        params = _processed(rendered, rows)
    else:
        params = [rendered.values_of(row) for row in rows]
    await conn.exec_driver_sql(rendered.sql, params)
