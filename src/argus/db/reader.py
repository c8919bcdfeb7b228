"""Awaitable one-statement reads for the API's hot paths (who is this token, which revision).

Every authenticated request asks the database who its user is now, and the ranking endpoint asks
for its scenario's ``scores_rev``. With synchronous SQLAlchemy each such read is a hand-off to
a worker thread and back (~0.2 ms of CPU on this project's reference machine) plus the pool
and Core layers (~0.1 ms) around a ~0.1 ms driver call. ``AsyncReader`` does these reads on
the event loop instead:

- PostgreSQL: psycopg 3's own async connections (autocommit, no pre-ping, kept per event loop;
  a read that meets a connection the server has closed is retried once on a fresh one). The statement is a SQLAlchemy Core ``Select``, compiled once for the psycopg dialect.
- SQLite (no server, nothing to wait for on a socket): the synchronous
  :func:`argus.db.session.read_first` in a worker thread.

SQLAlchemy's own asyncio engine would do the same job, but it measured slower than the thread
hand-off it replaces (0.6 ms of CPU per read against 0.2 ms for a plain psycopg async
connection), so this thin layer is written by hand.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
from sqlalchemy import Engine
from sqlalchemy.sql import Select

from argus.db.session import read_first


class _LoopConnections:
    """Idle async connections of one event loop, at most ``max_size`` in use at once.

    Written by hand (~40 lines) rather than ``psycopg_pool.AsyncConnectionPool``, whose
    background worker tasks belong to the loop that opened the pool: when that loop ends
    without closing it (a test client that runs each request on a new loop), those tasks hang
    the loop's shutdown and its connections are never closed. Here nothing runs in the
    background, and a loop's idle connections can be closed from any thread.
    """

    def __init__(self, conninfo: str, max_size: int) -> None:
        self.conninfo = conninfo
        self.max_size = max_size
        self.idle: list[Any] = []
        self.slots = asyncio.Semaphore(max_size)

    async def get(self) -> Any:
        import psycopg
        from psycopg.rows import namedtuple_row

        while self.idle:
            conn = self.idle.pop()
            if not conn.closed and not conn.broken:
                return conn
        return await psycopg.AsyncConnection.connect(
            self.conninfo,
            autocommit=True,
            row_factory=namedtuple_row,
            options="-c timezone=UTC",
        )

    def put(self, conn: Any) -> None:
        if conn.closed or conn.broken or len(self.idle) >= self.max_size:
            conn.pgconn.finish()  # synchronous libpq close: no event loop needed
        else:
            self.idle.append(conn)

    def close(self) -> None:
        while self.idle:
            self.idle.pop().pgconn.finish()


class AsyncReader:
    """``await reader.first(statement, params)``: the first row (attribute access) or None."""

    def __init__(self, engine: Engine, max_size: int = 10) -> None:
        self.engine = engine
        self.max_size = max_size
        self._pg = engine.dialect.name == "postgresql"
        self._sql: dict[int, tuple[Select[Any], str]] = {}
        self._conns: _LoopConnections | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def first(self, statement: Select[Any], params: dict[str, Any]) -> Any:
        if not self._pg:
            return await anyio.to_thread.run_sync(read_first, self.engine, statement, params)
        import psycopg

        sql = self._compiled(statement)
        conns = self._for_this_loop()
        async with conns.slots:
            for attempt in (1, 2):
                conn = await conns.get()
                try:
                    cur = await conn.execute(sql, params)
                    return await cur.fetchone()
                except psycopg.OperationalError:
                    # A connection the server closed (restart, failover, idle timeout) fails on
                    # first use; it is dropped as broken and the retry gets a fresh one.
                    if attempt == 2:
                        raise
                finally:
                    conns.put(conn)
        raise AssertionError("unreachable")  # pragma: no cover

    def _compiled(self, statement: Select[Any]) -> str:
        hit = self._sql.get(id(statement))
        if hit is None or hit[0] is not statement:
            # The statements are module constants: compiled once, kept with the object so a
            # recycled id() can never return another statement's SQL.
            hit = (statement, str(statement.compile(dialect=self.engine.dialect)))
            self._sql[id(statement)] = hit
        return hit[1]

    def _for_this_loop(self) -> _LoopConnections:
        loop = asyncio.get_running_loop()
        if self._conns is None or self._loop is not loop:
            # Async connections wait on the loop that uses them: a new loop gets its own, and
            # the previous loop's idle ones are closed.
            if self._conns is not None:
                self._conns.close()
            url = self.engine.url.set(drivername="postgresql")
            self._conns = _LoopConnections(url.render_as_string(hide_password=False), self.max_size)
            self._loop = loop
        return self._conns

    async def close(self) -> None:
        if self._conns is not None:
            self._conns.close()
        self._conns = None
