"""SystemConfig: configuration values by key (alert rules, the webhook URL, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.astro.service._common import Actor, audit, jsonable
from argus.astro.service.errors import InvalidInput
from argus.db.models.astro import SystemConfig

#: Keys the service reads.
WEBHOOK_URL = "astro.alerts.webhook_url"
ALERT_RULES = "astro.alerts.rules"


def get_config(session: Session, key: str, default: Any = None) -> Any:
    """The active value of ``key``, else ``default``."""
    row = session.scalar(select(SystemConfig).where(SystemConfig.key == key))
    if row is None or not row.is_active:
        return default
    return row.value


def set_config(
    session: Session,
    key: str,
    value: Any,
    *,
    description: str | None = None,
    is_active: bool = True,
    actor: Actor | None = None,
) -> SystemConfig:
    """Create or replace ``key`` (audited with the old and new values)."""
    key = (key or "").strip()
    if not key or len(key) > 200:
        raise InvalidInput("key: 1..200 characters")
    value = jsonable(value)
    row = session.scalar(select(SystemConfig).where(SystemConfig.key == key))
    old = None
    if row is None:
        row = SystemConfig(key=key, value=value, description=description, is_active=is_active)
        session.add(row)
    else:
        old = {"value": row.value, "is_active": row.is_active}
        row.value = value
        row.is_active = is_active
        if description is not None:
            row.description = description
    session.flush()
    audit(
        session,
        actor,
        "system_config",
        key,
        "set",
        old=old,
        new={"value": value, "is_active": is_active},
    )
    return row


def list_config(session: Session) -> Sequence[SystemConfig]:
    return list(session.scalars(select(SystemConfig).order_by(SystemConfig.key)))
