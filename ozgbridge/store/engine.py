"""Engines for the two supported databases, configured for correctness first.

Both hide statement parameters in their errors (``hide_parameters``): SQLAlchemy puts them into
an error's text, and from there into logs and tracebacks, and they are form data, names and
content hashes.

SQLite (the embedded default): WAL so readers never block the writer, ``synchronous=FULL`` so an
application answered with 202 survives a power cut, and every transaction opened with
``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing with "database is locked"
when one upgrades a read lock; one connection per process, run on the event loop's own thread
(sqlite_inline.py), so the process's transactions queue in asyncio rather than in SQLite's
sleeping busy handler. PostgreSQL: asyncpg with a bounded pool.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import asyncpg
from asyncpg import exceptions as pg
from sqlalchemy import event
from sqlalchemy import exc as sa
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ozgbridge.errors import ConfigError, DatabaseUnavailable
from ozgbridge.store import sqlite_inline

SQLITE_BUSY_TIMEOUT_MS = 30_000

# What reaching or using the database can raise: the operating system's errors (refused, no
# route, unknown host), SQLAlchemy's wrapping of the driver's errors, and asyncpg's own errors
# while connecting, which SQLAlchemy passes on unwrapped (an unknown database or role, a wrong
# password: `asyncpg.PostgresError`; a broken TLS or URL option: `asyncpg.InterfaceError`).
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    sa.SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)

# Of those, what says "the database is away or refusing us now", not "this statement is wrong":
# the request may succeed when tried again later (HTTP 503), as opposed to a bug (500).
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, no route; a full disk too
    sa.OperationalError,  # the driver's connection or server trouble, SQLite's locked or full
    sa.InterfaceError,
    sa.DisconnectionError,
    sa.TimeoutError,  # no pooled connection came free in time
    asyncpg.InterfaceError,  # the connection is closed or broken
    pg.PostgresConnectionError,
    pg.OperatorInterventionError,  # shutting down, starting up, cancelled by an admin
    pg.InsufficientResourcesError,  # too many connections, disk full
    pg.InvalidAuthorizationSpecificationError,  # unknown role, wrong password
    pg.InvalidCatalogNameError,  # unknown database
)


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be used right now (try again later)."""
    if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _UNAVAILABLE)


def redacted(url: str) -> str:
    """The database URL with its password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def unusable(url: str, exc: BaseException) -> DatabaseUnavailable:
    """``exc`` (one of `DATABASE_ERRORS`) as one line naming the database: the error's first
    line only, since SQLAlchemy appends the statement and its parameters, which may hold form
    data and help no operator."""
    lines = str(exc).strip().splitlines()
    detail = lines[0] if lines else "no detail"
    return DatabaseUnavailable(
        f"cannot use the database {redacted(url)}: {type(exc).__name__}: {detail}"
    )


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An AsyncEngine for ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        return _sqlite_engine(url, parsed.database)
    if parsed.drivername == "postgresql+asyncpg":
        # No pre-ping: it costs a round trip per checkout on the hot path, and a connection
        # broken by a server restart fails once, after which SQLAlchemy invalidates the pool.
        return create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_recycle=1800,
            hide_parameters=True,
        )
    raise ConfigError(
        f"unsupported database URL scheme {parsed.drivername!r}: use "
        "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB"
    )


class _HintingSQLiteCompiler(SQLiteCompiler):
    """Renders ``with_hint(table, "INDEXED BY …", "sqlite")``, which SQLAlchemy's SQLite
    compiler drops: the claim names the partial index it must use (see claims.sqlite_index)."""

    def get_from_hint_text(self, table: Any, text: str | None) -> str | None:
        return text


def _sqlite_engine(url: str, database: str | None) -> AsyncEngine:
    if not database or database == ":memory:":
        raise ConfigError("SQLite needs a file (sqlite+aiosqlite:///var/ozgbridge.sqlite3)")
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    # One connection per process. Every transaction takes the write lock (BEGIN IMMEDIATE), so
    # a second connection could only wait for it in SQLite's busy handler, which sleeps in steps
    # of up to 100 ms: with several connections a process spent most of its time asleep there.
    # Waiting for the one connection in the pool's asyncio queue wakes up the moment it is free.
    engine = create_async_engine(
        url,
        async_creator=functools.partial(
            sqlite_inline.connect, database, busy_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000
        ),
        pool_size=1,
        max_overflow=0,
        pool_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
        hide_parameters=True,
    )

    engine.sync_engine.dialect.statement_compiler = _HintingSQLiteCompiler

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so "begin" below decides the lock mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
