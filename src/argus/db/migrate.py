"""Alembic, driven from Python: ``argus db upgrade|downgrade|current`` and the tests call these."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from argus.db.session import make_engine, normalize_url

#: Foreign keys PostgreSQL enforces with statement-level triggers instead (migration 0007).
PG_TRIGGER_FOREIGN_KEYS = frozenset({"fk_track_sample_track_id_track"})
#: Foreign keys SQLite holds as a column clause added by ``ALTER TABLE ADD COLUMN`` (migration
#: 0013 avoids a table rebuild that would cascade): SQLAlchemy reflects them without their name
#: and type, so they are not compared there (a test checks they are enforced).
SQLITE_INLINE_FOREIGN_KEYS = frozenset({("weapon", "battery_type_id")})
#: The daily partitions of ``rf_measurement`` on PostgreSQL (migration 0015): created and dropped
#: at run time by ``argus.rf.service`` (ahead of the data, and by retention), not by a model.
PARTITION_TABLE = re.compile(r"^rf_measurement_p\d{8}$")


def include_object(dialect: str) -> Callable[..., bool]:
    """What Alembic compares between the models and a database of ``dialect``.

    PostGIS columns, their indexes and PostGIS's own table are managed by hand in the
    migrations; on PostgreSQL the foreign keys of ``PG_TRIGGER_FOREIGN_KEYS`` are triggers.
    """

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "column" and name == "geog":
            return False
        if type_ == "table" and name == "spatial_ref_sys":
            return False
        if type_ == "table" and reflected and name and PARTITION_TABLE.match(name):
            return False
        if type_ == "index" and name and name.endswith("_geog"):
            return False
        if dialect == "sqlite" and type_ == "foreign_key_constraint":
            cols = tuple(c.name for c in obj.columns)
            if (obj.table.name, *cols) in SQLITE_INLINE_FOREIGN_KEYS:
                return False
        return not (
            dialect == "postgresql"
            and type_ == "foreign_key_constraint"
            and name in PG_TRIGGER_FOREIGN_KEYS
        )

    return include


def alembic_config(url: str | URL) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "argus.db:migrations")
    # The URL travels as an attribute, not through configparser (which chokes on '%').
    cfg.attributes["url"] = normalize_url(url)
    return cfg


def upgrade(url: str | URL, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | URL, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(url: str | URL) -> bool:
    """True when the database is at the newest migration."""
    engine = make_engine(url)
    try:
        return current_revision(engine) == head_revision()
    finally:
        engine.dispose()
