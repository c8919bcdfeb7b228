"""Awaitable one-statement reads for the API's hot paths (who is this token, which revision).

Every authenticated request asks the database who its user is now, and the ranking endpoint asks
for its scenario's ``scores_rev``. With synchronous SQLAlchemy each such read is a hand-off to
a worker thread and back (~0.2 ms of CPU on this project's reference machine) plus the pool
and Core layers (~0.1 ms) around a ~0.1 ms driver call. ``AsyncReader`` does these reads on
the event loop instead:

- PostgreSQL: psycopg 3's own async connections from ``psycopg_pool`` (autocommit, no
  pre-ping; a read that meets a connection the server has closed is retried once on a fresh
  one). The statement is a SQLAlchemy Core ``Select``, compiled once for the psycopg dialect.
- SQLite (no server, nothing to wait for on a socket): the synchronous
  :func:`argus.db.session.read_first` in a worker thread.

SQLAlchemy's own asyncio engine would do the same job, but it measured slower than the thread
hand-off it replaces (0.6 ms of CPU per read against 0.2 ms for psycopg_pool), so this thin
layer is written by hand.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
from sqlalchemy import Engine
from sqlalchemy.sql import Select

from argus.db.session import read_first


class AsyncReader:
    """``await reader.first(statement, params)``: the first row (attribute access) or None."""

    def __init__(self, engine: Engine, max_size: int = 10) -> None:
        self.engine = engine
        self.max_size = max_size
        self._pg = engine.dialect.name == "postgresql"
        self._sql: dict[int, tuple[Select[Any], str]] = {}
        self._pool: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Lock | None = None

    async def first(self, statement: Select[Any], params: dict[str, Any]) -> Any:
        if not self._pg:
            return await anyio.to_thread.run_sync(read_first, self.engine, statement, params)
        import psycopg

        sql = self._compiled(statement)
        pool = await self._pool_for_this_loop()
        for attempt in (1, 2):
            try:
                async with pool.connection() as conn:
                    cur = await conn.execute(sql, params)
                    return await cur.fetchone()
            except psycopg.OperationalError:
                # A connection the server closed (restart, failover, idle timeout) fails on
                # first use; the pool drops it as broken and the retry gets a fresh one.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _compiled(self, statement: Select[Any]) -> str:
        hit = self._sql.get(id(statement))
        if hit is None or hit[0] is not statement:
            # The statements are module constants: compiled once, kept with the object so a
            # recycled id() can never return another statement's SQL.
            hit = (statement, str(statement.compile(dialect=self.engine.dialect)))
            self._sql[id(statement)] = hit
        return hit[1]

    async def _pool_for_this_loop(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._loop is loop:
            return self._pool
        from psycopg.rows import namedtuple_row
        from psycopg_pool import AsyncConnectionPool

        if self._loop is not loop:
            # A pool is bound to the event loop that opened it (tests start several loops).
            self._loop, self._opening, self._pool = loop, asyncio.Lock(), None
        assert self._opening is not None
        async with self._opening:
            if self._pool is None:
                url = self.engine.url.set(drivername="postgresql")
                pool = AsyncConnectionPool(
                    url.render_as_string(hide_password=False),
                    min_size=1,
                    max_size=self.max_size,
                    kwargs={
                        "autocommit": True,
                        "row_factory": namedtuple_row,
                        "options": "-c timezone=UTC",
                    },
                    open=False,
                    name="argus-read",
                )
                await pool.open()
                self._pool = pool
        return self._pool

    async def close(self) -> None:
        if self._pool is not None and self._loop is asyncio.get_running_loop():
            await self._pool.close()
        self._pool = None
