"""Helpers shared by the CLI tests."""

from __future__ import annotations

from typing import Any

from argus.db.session import make_engine, make_sessionmaker, session_scope


def with_session(url: str, fn: Any) -> Any:
    """``fn(session)`` in one committed transaction on its own engine (disposed afterwards)."""
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as s:
            return fn(s)
    finally:
        engine.dispose()
