"""What every command module shares: the consoles, the settings in force, sessions, errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

from argus.config import Settings, get_settings

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


class _State:
    settings: Settings | None = None


state = _State()


def settings() -> Settings:
    return state.settings or get_settings()


@contextmanager
def session_scope_from_settings() -> Iterator[Any]:
    """One transaction on the configured database: committed on success, rolled back on error."""
    from argus.db.session import make_engine, make_sessionmaker, session_scope

    engine = make_engine(settings().database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def parse_when(value: str | None, option: str = "--at") -> dt.datetime:
    """An ISO 8601 time with a zone ('Z' or ±HH:MM); None means now (UTC)."""
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise fail(
            f"{option}: {value!r} is not an ISO 8601 time (e.g. 2025-06-01T06:03:00Z)"
        ) from None
    if when.tzinfo is None:
        raise fail(f"{option}: {value!r} has no time zone; add Z or an offset such as +05:30")
    return when.astimezone(dt.UTC)
