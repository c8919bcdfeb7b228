"""Alembic, driven from Python: ``argus db upgrade|downgrade|current`` and the tests call these."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from argus.db.session import make_engine, normalize_url


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
