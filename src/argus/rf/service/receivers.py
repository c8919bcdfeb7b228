"""Receivers (the seed's WebSDR configuration database): CRUD and health checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from argus.db.models.rf import CLOCK_SOURCES, RECEIVER_KINDS, Receiver
from argus.rf.service.errors import InvalidInput, NotFoundError

#: Fields a caller may set (``receiver_json`` gives them all back, with the health fields).
EDITABLE = (
    "name",
    "kind",
    "url",
    "lat_deg",
    "lon_deg",
    "alt_m",
    "min_frequency_hz",
    "max_frequency_hz",
    "sample_rate_hz",
    "clock_source",
    "clock_sigma_s",
)
#: Seconds a health check waits for the receiver to answer.
CHECK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ReceiverInfo:
    """A receiver as the acquisition sources see it (detached from the session)."""

    id: int
    name: str
    kind: str
    url: str | None
    lat_deg: float
    lon_deg: float
    alt_m: float
    sample_rate_hz: float
    clock_sigma_s: float
    min_frequency_hz: float | None = None
    max_frequency_hz: float | None = None


def info(r: Receiver) -> ReceiverInfo:
    return ReceiverInfo(
        id=r.id,
        name=r.name,
        kind=r.kind,
        url=r.url,
        lat_deg=r.lat_deg,
        lon_deg=r.lon_deg,
        alt_m=r.alt_m,
        sample_rate_hz=r.sample_rate_hz,
        clock_sigma_s=r.clock_sigma_s,
        min_frequency_hz=r.min_frequency_hz,
        max_frequency_hz=r.max_frequency_hz,
    )


def receiver_json(r: Receiver) -> dict[str, Any]:
    out: dict[str, Any] = {"id": r.id}
    out.update({k: getattr(r, k) for k in EDITABLE})
    out.update(status=r.status, last_seen_at=r.last_seen_at, last_error=r.last_error)
    return out


def _validate(values: dict[str, Any]) -> None:
    """Check a complete set of receiver values; every problem is listed, field first."""
    errors: list[str] = []
    name = values.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 80:
        errors.append("name: 1..80 characters")
    if values.get("kind") not in RECEIVER_KINDS:
        errors.append(f"kind: one of {', '.join(RECEIVER_KINDS)}, got {values.get('kind')!r}")
    if values.get("clock_source", "unknown") not in CLOCK_SOURCES:
        errors.append(f"clock_source: one of {', '.join(CLOCK_SOURCES)}")
    for field, lo, hi in (("lat_deg", -90.0, 90.0), ("lon_deg", -180.0, 180.0)):
        v = values.get(field)
        if not isinstance(v, int | float) or not lo <= v <= hi:
            errors.append(f"{field}: a number in [{lo:g}, {hi:g}], got {v!r}")
    sr = values.get("sample_rate_hz")
    if not isinstance(sr, int | float) or not sr > 0:
        errors.append(f"sample_rate_hz: a positive number, got {sr!r}")
    sigma = values.get("clock_sigma_s", 50e-9)
    if not isinstance(sigma, int | float) or not 0 <= sigma <= 1:
        errors.append(f"clock_sigma_s: a number of seconds in [0, 1], got {sigma!r}")
    lo_f, hi_f = values.get("min_frequency_hz"), values.get("max_frequency_hz")
    if lo_f is not None and hi_f is not None and lo_f > hi_f:
        errors.append("min_frequency_hz: greater than max_frequency_hz")
    url = values.get("url")
    kind = values.get("kind")
    if kind in ("network", "websdr"):
        scheme = urlsplit(url or "").scheme
        allowed = ("ws", "wss") if kind == "network" else ("http", "https", "ws", "wss")
        if scheme not in allowed or not urlsplit(url or "").hostname:
            errors.append(
                f"url: a {' or '.join(s + '://' for s in allowed)} URL for a {kind} receiver"
            )
    if errors:
        raise InvalidInput("; ".join(errors))


def list_receivers(session: Session) -> list[Receiver]:
    return list(session.scalars(select(Receiver).order_by(Receiver.id)))


def get_receiver(session: Session, receiver_id: int) -> Receiver:
    r = session.get(Receiver, receiver_id)
    if r is None:
        raise NotFoundError(f"receiver_id: no receiver {receiver_id}")
    return r


def find_receiver(session: Session, name_or_id: str | int) -> Receiver:
    """A receiver by id, or by name (the CLI's ``argus rf receivers remove NAME``)."""
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        return get_receiver(session, int(name_or_id))
    r = session.scalars(select(Receiver).where(Receiver.name == name_or_id)).first()
    if r is None:
        raise NotFoundError(f"receiver: no receiver named {name_or_id!r}")
    return r


def receivers_by_ids(session: Session, receiver_ids: list[int]) -> list[Receiver]:
    """The receivers, in the order asked; InvalidInput listing every unknown id."""
    if not receiver_ids:
        raise InvalidInput("receiver_ids: at least one receiver")
    if len(set(receiver_ids)) != len(receiver_ids):
        raise InvalidInput("receiver_ids: a receiver is listed twice")
    found = {
        r.id: r for r in session.scalars(select(Receiver).where(Receiver.id.in_(receiver_ids)))
    }
    missing = [i for i in receiver_ids if i not in found]
    if missing:
        raise InvalidInput(f"receiver_ids: no receiver {', '.join(map(str, missing))}")
    return [found[i] for i in receiver_ids]


def add_receiver(session: Session, **values: Any) -> Receiver:
    """A new receiver; InvalidInput names every bad field, a taken name included."""
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not a receiver field")
    _validate(values)
    if session.scalars(select(Receiver.id).where(Receiver.name == values["name"])).first():
        raise InvalidInput(f"name: a receiver named {values['name']!r} exists already")
    r = Receiver(**{k: v for k, v in values.items() if v is not None or k in ("url",)})
    session.add(r)
    session.flush()
    return r


def update_receiver(session: Session, receiver_id: int, **changes: Any) -> Receiver:
    r = get_receiver(session, receiver_id)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not a receiver field")
    merged = {k: getattr(r, k) for k in EDITABLE} | changes
    _validate(merged)
    if "name" in changes and changes["name"] != r.name:
        taken = session.scalars(select(Receiver.id).where(Receiver.name == changes["name"])).first()
        if taken:
            raise InvalidInput(f"name: a receiver named {changes['name']!r} exists already")
    for k, v in changes.items():
        setattr(r, k, v)
    session.flush()
    return r


def remove_receiver(session: Session, receiver_id: int) -> None:
    """Delete a receiver (its measurements and hourly aggregates go with it)."""
    session.delete(get_receiver(session, receiver_id))
    session.flush()


def probe(url: str | None, *, timeout_s: float = CHECK_TIMEOUT_S) -> tuple[bool, str | None]:
    """(up, why not): an HTTP GET of an ``http(s)://`` URL (any answer below 500 is up), a
    WebSocket ping for ``ws(s)://``. Nothing else is probed."""
    if not url:
        return False, "no url to check"
    scheme = urlsplit(url).scheme
    try:
        if scheme in ("http", "https"):
            import httpx

            resp = httpx.get(url, timeout=timeout_s, follow_redirects=False)
            if resp.status_code >= 500:
                return False, f"HTTP {resp.status_code}"
            return True, None
        if scheme in ("ws", "wss"):
            from websockets.sync.client import connect

            with connect(url, open_timeout=timeout_s, close_timeout=1) as ws:
                if not ws.ping().wait(timeout_s):
                    return False, f"no pong within {timeout_s:g} s"
            return True, None
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:500]
    return False, f"url: scheme {scheme!r} cannot be checked (http, https, ws, wss)"


def check_receiver(
    session: Session, receiver_id: int, *, timeout_s: float = CHECK_TIMEOUT_S
) -> Receiver:
    """Probe the receiver and record ``status`` (up/down), ``last_seen_at`` and ``last_error``.

    A receiver that is not on the network (simulated, SigMF folder) is ``up`` when its source
    can serve it: always for a simulated one, when its folder exists for a SigMF one.
    """
    r = get_receiver(session, receiver_id)
    if r.kind == "simulated":
        up, why = True, None
    elif r.kind == "sigmf":
        from pathlib import Path

        up = bool(r.url) and Path(r.url or "").is_dir()
        why = None if up else f"folder {r.url!r} does not exist"
    else:
        up, why = probe(r.url, timeout_s=timeout_s)
    r.status = "up" if up else "down"
    r.last_error = why
    if up:
        r.last_seen_at = dt.datetime.now(dt.UTC)
    session.flush()
    return r
