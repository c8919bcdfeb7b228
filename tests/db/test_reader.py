"""argus.db.reader.AsyncReader: awaited one-statement reads, on both databases."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from argus.accounts.service import USER_BY_NAME, create_user
from argus.db.models import Scenario
from argus.db.reader import AsyncReader
from argus.db.session import make_engine, make_sessionmaker, session_scope

PID = sa.select(sa.func.pg_backend_pid().label("pid"))
REV = sa.select(Scenario.scores_rev).where(Scenario.id == sa.bindparam("sid"))


def test_first_row_or_none_with_bound_parameters(db_url: str) -> None:
    engine = make_engine(db_url)
    with session_scope(make_sessionmaker(engine)) as s:
        create_user(s, "ada", "a-long-enough-password", "operator")
        s.add(Scenario(name="S1"))

    async def run() -> None:
        reader = AsyncReader(engine)
        try:
            row = await reader.first(USER_BY_NAME, {"username": "ada"})
            assert (row.username, row.role, bool(row.active)) == ("ada", "operator", True)
            # A bound parameter, never spliced into SQL: a quote is just a character.
            assert await reader.first(USER_BY_NAME, {"username": "ada' OR '1'='1"}) is None
            rev = await reader.first(REV, {"sid": 1})
            assert rev.scores_rev == 0
            assert await reader.first(REV, {"sid": 2}) is None
        finally:
            await reader.close()

    asyncio.run(run())
    engine.dispose()


@pytest.mark.pg
def test_a_connection_closed_by_the_server_is_retried_once(pg_url: str) -> None:
    engine = make_engine(pg_url)

    async def run() -> tuple[int, int]:
        reader = AsyncReader(engine, max_size=1)
        try:
            first = (await reader.first(PID, {})).pid
            with engine.connect() as admin:  # the server ends the idle pooled connection
                admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first})
            second = (await reader.first(PID, {})).pid
            return first, second
        finally:
            await reader.close()

    first, second = asyncio.run(run())
    assert first != second
    engine.dispose()


@pytest.mark.pg
def test_other_errors_are_raised_not_retried(pg_url: str) -> None:
    import psycopg

    engine = make_engine(pg_url)
    bad = sa.select(sa.column("x")).select_from(sa.table("no_such_table"))

    async def run() -> None:
        reader = AsyncReader(engine)
        try:
            with pytest.raises(psycopg.errors.UndefinedTable):
                await reader.first(bad, {})
            assert (await reader.first(REV, {"sid": 1})) is None  # the pool still serves
        finally:
            await reader.close()

    asyncio.run(run())
    engine.dispose()


def _gone(engine: sa.Engine, pid: int, wait_s: float = 3.0) -> bool:
    """Whether the server backend ``pid`` has exited (a closed socket ends it within ms)."""
    deadline = time.monotonic() + wait_s
    while True:
        with engine.connect() as c:
            alive = set(c.execute(sa.text("SELECT pid FROM pg_stat_activity")).scalars())
        if pid not in alive:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


@pytest.mark.pg
def test_each_event_loop_gets_its_own_connections_and_the_old_ones_are_closed(
    pg_url: str,
) -> None:
    engine = make_engine(pg_url)
    reader = AsyncReader(engine)
    pids: list[int] = []

    async def run() -> None:
        pids.append((await reader.first(PID, {})).pid)

    asyncio.run(run())  # this loop ends without closing the reader (a test client's loop does)
    asyncio.run(run())  # a new loop: new connections; the old loop's idle one is closed
    assert pids[0] != pids[1]
    assert _gone(engine, pids[0]) and not _gone(engine, pids[1], wait_s=0)

    async def close() -> None:
        await reader.close()

    asyncio.run(close())
    assert _gone(engine, pids[1])
    engine.dispose()
