"""Engine and session factories. No global engine: callers build one from a URL or the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Executable, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str | URL) -> URL:
    """Accept ``postgresql://`` and ``postgres://`` as psycopg 3 URLs; leave others as they are."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")  # SQLite enforces FKs only when asked, per connection
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine with the per-dialect settings Argus relies on.

    SQLite: the parent folder is created, foreign keys are switched on for every connection,
    WAL journal. PostgreSQL: psycopg 3 driver, pre-ping, UTC session time zone.
    """
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"options": "-c timezone=UTC"})
    return create_engine(u, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def make_read_engine(engine: Engine, **kwargs: Any) -> Engine:
    """An engine for the API's hot single-statement reads (who is this token, which revision).

    PostgreSQL: a second pool of autocommit connections without pre-ping, so such a read is one
    round trip instead of four (pre-ping, BEGIN, SELECT, COMMIT); a connection that died under
    it is retried once by :func:`read_first`. SQLite (no server, nothing to ping): the same pool
    in autocommit mode, so an in-memory database stays one database.
    """
    if engine.dialect.name == "sqlite":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("isolation_level", "AUTOCOMMIT")
    return make_engine(engine.url, **kwargs)


def read_first(engine: Engine, statement: Executable, params: dict[str, Any] | None = None) -> Any:
    """The first row of one read-only statement, or None; retried once on a dropped connection.

    Without pre-ping, the first use of a connection the server has closed (restart, failover,
    idle timeout) fails with a disconnect error; SQLAlchemy then invalidates the pool's older
    connections, and the retry runs on a fresh one. Safe because the statement only reads.
    """
    for attempt in (1, 2):
        try:
            with engine.connect() as conn:
                return conn.execute(statement, params or {}).first()
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
