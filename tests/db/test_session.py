"""argus.db.session: the API's read pool (autocommit, no pre-ping) and its retry on a dead
connection."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from argus.db.session import make_engine, make_read_engine, read_first

PID = sa.text("SELECT pg_backend_pid() AS pid")


def _count_errors(engine: sa.Engine) -> list[bool]:
    """Every DBAPI error the engine sees, as whether it was a disconnect."""
    seen: list[bool] = []

    @sa.event.listens_for(engine, "handle_error")
    def _on_error(ctx: Any) -> None:
        seen.append(bool(ctx.is_disconnect))

    return seen


@pytest.mark.pg
def test_read_first_survives_a_killed_connection_with_one_retry(pg_url: str) -> None:
    engine = make_engine(pg_url)
    reader = make_read_engine(engine, pool_size=1, max_overflow=0)
    errors = _count_errors(reader)
    try:
        first = read_first(reader, PID).pid
        # The pooled connection is idle now; the server ends it (restart, failover, idle timeout).
        with engine.connect() as admin:
            assert admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar()
        second = read_first(reader, PID).pid
        assert second != first  # a fresh connection answered
        assert errors == [True]  # after exactly one disconnect, which was retried
        # Autocommit: no transaction is left open on the connection between reads.
        with reader.connect() as conn:
            assert conn.execute(sa.text("SELECT now() = statement_timestamp()")).scalar() is True
    finally:
        reader.dispose()
        engine.dispose()


@pytest.mark.pg
def test_read_first_does_not_retry_other_errors(pg_url: str) -> None:
    engine = make_engine(pg_url)
    reader = make_read_engine(engine)
    errors = _count_errors(reader)
    try:
        with pytest.raises(sa.exc.ProgrammingError, match="no_such_table"):
            read_first(reader, sa.text("SELECT * FROM no_such_table"))
        assert errors == [False]  # ran once: only a dropped connection is worth a second try
    finally:
        reader.dispose()
        engine.dispose()


def test_sqlite_read_engine_shares_the_pool_so_memory_databases_stay_one() -> None:
    engine = make_engine("sqlite:///:memory:", poolclass=sa.pool.StaticPool)
    reader = make_read_engine(engine)
    assert reader.pool is engine.pool
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (42)"))
    assert read_first(reader, sa.text("SELECT x FROM t")).x == 42
    assert read_first(reader, sa.text("SELECT x FROM t WHERE x = 0")) is None
    engine.dispose()
