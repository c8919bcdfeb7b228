"""A temporary database for one benchmark run: a fresh PostgreSQL database on a server (created,
then dropped ``WITH (FORCE)`` at the end, whatever happened), or a SQLite file in a temporary
directory. The caller migrates it (``argus.db.migrate.upgrade``) when it needs the schema."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from argus.db.session import make_engine

from .cli import DEFAULT_PG_URL

__all__ = ["DEFAULT_PG_URL", "database", "database_name", "pg_database", "sqlite_database"]


def database_name(prefix: str = "argus_bench") -> str:
    """``<prefix>_<12 random hex digits>``: distinct per run, so parallel runs do not collide."""
    return f"{prefix}_{secrets.token_hex(6)}"


@contextmanager
def pg_database(admin_url: str = DEFAULT_PG_URL, prefix: str = "argus_bench") -> Iterator[str]:
    """Create an empty database on the server of ``admin_url``; yield its URL; drop it."""
    name = database_name(prefix)
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@contextmanager
def sqlite_database(prefix: str = "argus_bench_", filename: str = "bench.db") -> Iterator[str]:
    """A SQLite URL of a file in a temporary directory (removed at the end)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield f"sqlite:///{tmp}/{filename}"


@contextmanager
def database(pg_url: str, sqlite: bool, prefix: str = "argus_bench") -> Iterator[str]:
    """``--sqlite``: a temporary SQLite file; otherwise a temporary database on ``--pg-url``."""
    if sqlite:
        with sqlite_database(prefix + "_", "bench.db") as url:
            yield url
    else:
        with pg_database(pg_url, prefix) as url:
            yield url
