"""argus.db.reader.AsyncReader: awaited one-statement reads, on both databases."""

from __future__ import annotations

import asyncio

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


@pytest.mark.pg
def test_each_event_loop_gets_its_own_pool(pg_url: str) -> None:
    engine = make_engine(pg_url)
    reader = AsyncReader(engine)
    pools = []

    async def run() -> None:
        await reader.first(REV, {"sid": 1})
        pools.append(reader._pool)

    asyncio.run(run())  # the first loop ends without closing: its pool is abandoned
    asyncio.run(run())
    assert pools[0] is not pools[1] and pools[1] is not None

    async def close() -> None:
        await reader.close()

    asyncio.run(close())
    engine.dispose()
