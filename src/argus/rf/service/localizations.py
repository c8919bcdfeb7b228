"""Stored localizations: list and get (they are written by ``acquisition.store_localization``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.db.models.rf import RfLocalization
from argus.rf.service.errors import NotFoundError


def get_localization(session: Session, localization_id: int) -> RfLocalization:
    row = session.get(RfLocalization, localization_id)
    if row is None:
        raise NotFoundError(f"localization_id: no localization {localization_id}")
    return row


def list_localizations(
    session: Session,
    *,
    acquisition_id: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[RfLocalization]:
    """By id, after ``after_id``, at most ``limit``."""
    q = select(RfLocalization).where(RfLocalization.id > after_id)
    if acquisition_id is not None:
        q = q.where(RfLocalization.acquisition_id == acquisition_id)
    if start is not None:
        q = q.where(RfLocalization.time >= start)
    if end is not None:
        q = q.where(RfLocalization.time < end)
    return list(session.scalars(q.order_by(RfLocalization.id).limit(limit)))


def localization_json(row: RfLocalization) -> dict[str, Any]:
    return {
        "id": row.id,
        "acquisition_id": row.acquisition_id,
        "time": row.time,
        "lat_deg": row.lat_deg,
        "lon_deg": row.lon_deg,
        "alt_m": row.alt_m,
        "method": row.method,
        "cov_enu_m2": row.cov_enu_m2,
        "ellipse95": {
            "a_m": row.ellipse_a_m,
            "b_m": row.ellipse_b_m,
            "orient_deg": row.ellipse_orient_deg,
        },
        "gdop": row.gdop,
        "crlb_m": row.crlb_m,
        "residuals": row.residuals,
        "receivers_used": row.receivers_used,
        "per_receiver": row.per_receiver,
        "truth": row.truth,
        "error_m": row.error_m,
    }
