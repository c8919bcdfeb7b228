"""SystemConfig: configuration values by key (alert rules, the webhook URL, ...)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.astro.service._common import Actor, audit, jsonable
from argus.astro.service.errors import InvalidInput, NotFoundError
from argus.db.models.astro import SystemConfig

#: Keys the service reads.
WEBHOOK_URL = "astro.alerts.webhook_url"
ALERT_RULES = "astro.alerts.rules"
#: What a key may look like: lower-case words joined by dots, dashes or underscores.
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,199}$")


def check_config_value(key: str, value: Any) -> None:
    """Refuse a value the service could not use, naming the field: the webhook URL must be an
    http(s) URL with a host; the alert rules an object of known rule names with values of the
    rule's type and range (:class:`argus.astro.service.alerts.AlertRules`). ``None`` clears a
    key. Other keys take any JSON value."""
    if not KEY_PATTERN.match(key or ""):
        raise InvalidInput(
            f"key: {key[:60]!r} is not 1..200 characters of a-z, 0-9, '.', '_' or '-' "
            "(starting with a letter or digit)"
        )
    if value is None:
        return
    if key == WEBHOOK_URL:
        if not isinstance(value, str) or len(value) > 2000:
            raise InvalidInput("value: the webhook URL must be a string of at most 2000 characters")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"value: {value[:80]!r} is not an http(s) URL with a host")
    elif key == ALERT_RULES:
        from argus.astro.service.alerts import AlertRules

        if not isinstance(value, dict):
            raise InvalidInput("value: the alert rules must be an object of rule: value")
        fields = AlertRules.__dataclass_fields__
        for name, v in value.items():
            if name not in fields:
                raise InvalidInput(
                    f"value.{name}: not an alert rule (known: {', '.join(sorted(fields))})"
                )
            want_bool = name == "alert_known_sources"
            if want_bool != isinstance(v, bool) or not isinstance(v, bool | int | float):
                kind = "true or false" if want_bool else "a number"
                raise InvalidInput(f"value.{name}: {v!r} is not {kind}")
            if not want_bool and not (v == v and abs(v) != float("inf")):  # NaN, infinity
                raise InvalidInput(f"value.{name}: {v!r} is not a finite number")
        try:
            AlertRules(**value)
        except InvalidInput as exc:
            raise InvalidInput(f"value.{exc}") from None


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
    """Create or replace ``key`` (audited with the old and new values); the value is checked
    first (:func:`check_config_value`)."""
    key = (key or "").strip()
    check_config_value(key, value)
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


def get_config_row(session: Session, key: str) -> SystemConfig:
    """The stored row of ``key`` (active or not); ``NotFoundError`` when none."""
    row = session.scalar(select(SystemConfig).where(SystemConfig.key == key))
    if row is None:
        raise NotFoundError(f"key: no configuration entry {key[:200]!r}")
    return row


def list_config(session: Session) -> Sequence[SystemConfig]:
    return list(session.scalars(select(SystemConfig).order_by(SystemConfig.key)))
