"""The database engine: SQLite file by default, PostgreSQL in production."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.checkpoints import AUTOCHECKPOINT_PAGES


def async_url(database_url: str) -> URL:
    """Heroku-style and plain URLs to the async driver this project uses."""
    url = make_url(database_url.replace("postgres://", "postgresql://", 1))
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        url = url.set(drivername="postgresql+asyncpg")
        # asyncpg names libpq's sslmode `ssl`; Heroku adds ?sslmode=require.
        if "sslmode" in url.query:
            query = dict(url.query)
            query["ssl"] = query.pop("sslmode")
            url = url.set(query=query)
        return url
    raise ValueError(f"unsupported database backend: {backend}")


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        # SQLite has one writer at a time and every transaction here takes
        # the write lock. One pooled connection queues transactions in the
        # event loop (FIFO, no sleeping) instead of in SQLite's busy handler,
        # which sleeps in steps of up to 100 ms. Never open a second session
        # while holding one: with one connection it would wait forever.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 30)
        # Every transaction here ends in COMMIT or ROLLBACK before its
        # connection goes back (sessions and `engine.begin()` see to it), so
        # the pool's extra ROLLBACK on return is a wasted round trip to
        # aiosqlite's thread on every transaction.
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(url, **kwargs)
        _tune_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers work while one writer commits; NORMAL sync in WAL
        # survives a process crash (the promise here), not an OS crash.
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            # Commits leave routine checkpoints to storage.checkpoints.
            cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
        except Exception:
            # A file that is not a database: don't leak the half-open handle.
            dbapi_connection.close()
            raise
        # Let SQLAlchemy's "begin" below open transactions, not the driver.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: a deferred transaction that reads and
        # then writes can fail with SQLITE_BUSY instead of waiting its turn.
        # Sent on aiosqlite's connection itself (SQLAlchemy's documented
        # `run_async`): one trip to its thread instead of three (cursor,
        # execute, close) through exec_driver_sql, on every transaction.
        dbapi_connection = conn.connection.dbapi_connection
        assert dbapi_connection is not None
        dbapi_connection.run_async(lambda driver: driver.execute("BEGIN IMMEDIATE"))


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
