"""Migrations run up and down on SQLite and PostgreSQL, and match the models exactly."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from argus.db import migrate
from argus.db.base import Base
from argus.db.session import make_engine

TEWA_TABLES = {
    "defended_asset",
    "scenario",
    "scenario_asset",
    "track",
    "track_sample",
    "model_params",
    "threat_score",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"spatial_ref_sys"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_db_url: str) -> None:
    assert not migrate.is_current(empty_db_url)
    migrate.upgrade(empty_db_url)
    assert _tables(empty_db_url) >= TEWA_TABLES
    assert migrate.is_current(empty_db_url)
    migrate.downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) == {"alembic_version"}
    migrate.upgrade(empty_db_url)
    assert _tables(empty_db_url) >= TEWA_TABLES


def test_models_match_the_migrations(db_url: str) -> None:
    """Autogenerate finds nothing to do: the migrations create exactly what the models declare."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_object": migrate.include_object(conn.dialect.name),
                },
            )
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_head_is_known() -> None:
    assert migrate.head_revision() is not None


@pytest.mark.pg
def test_postgis_columns_only_on_postgresql(pg_url: str, sqlite_url: str) -> None:
    for url, expect in ((pg_url, True), (sqlite_url, False)):
        engine = make_engine(url)
        try:
            insp = sa.inspect(engine)
            for table in ("defended_asset", "track"):
                cols = {c["name"] for c in insp.get_columns(table)}
                assert ("geog" in cols) is expect, (url, table)
        finally:
            engine.dispose()
