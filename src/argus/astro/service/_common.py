"""Helpers shared by the astronomy service modules: the acting user, audit rows, id parsing."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from argus.astro.service.errors import InvalidInput
from argus.db.models.astro import AuditLog


@dataclass(frozen=True)
class Actor:
    """Who calls a mutating service function (kept in the audit log)."""

    user_id: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None


SYSTEM = Actor(user_id=None)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_uuid(value: uuid.UUID | str, field: str) -> uuid.UUID:
    """``value`` as a UUID, or InvalidInput naming ``field``."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{field}: not a UUID ({str(value)[:40]!r})") from None


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it: UUIDs and datetimes as text, non-finite floats as null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return jsonable(value.item())
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def audit(
    session: Session,
    actor: Actor | None,
    entity_type: str,
    entity_id: Any,
    action: str,
    *,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    summary: str | None = None,
) -> AuditLog:
    """Add one audit row (in the caller's transaction: it commits or rolls back with the change)."""
    a = actor or SYSTEM
    row = AuditLog(
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        action=action,
        user_id=a.user_id,
        old_values=jsonable(old) if old is not None else None,
        new_values=jsonable(new) if new is not None else None,
        change_summary=summary,
        ip_address=a.ip_address,
        user_agent=(a.user_agent or None) and str(a.user_agent)[:400],
        created_at=now(),  # the call's own time: rows of one transaction keep their order
    )
    session.add(row)
    return row
