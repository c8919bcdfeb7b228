"""Small helpers shared by the service modules (no database access of their own)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from argus.timefmt import iso_z

#: Result rows as columns, by name: {column name: the values of every row}.
Columns = dict[str, tuple[Any, ...]]

_IN_CHUNK = 900  # stays under SQLite's bound-parameter limit


def _in_chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i : i + _IN_CHUNK] for i in range(0, len(values), _IN_CHUNK)]


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _flat_json(obj: Any) -> dict[str, Any]:
    """A flat dataclass as JSON values: infinities as null, datetimes as ISO 8601 with Z.

    Field by field: ``dataclasses.asdict`` deep-copies and cost ~60 us a row (68 ms for a
    1,000-track board on PostgreSQL), more than the ranking query itself.
    """
    d: dict[str, Any] = {}
    for k in _field_names(type(obj)):
        v = getattr(obj, k)
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        elif isinstance(v, dt.datetime):
            v = iso_z(v)
        d[k] = v
    return d


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else iso_z(t.astimezone(dt.UTC))


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _or_inf(x: float | None) -> float:
    return math.inf if x is None else float(x)


def _columns(rows: Sequence[Any]) -> Columns:
    """SQL result rows (``Row`` objects of one statement) as columns, read by name; {} for none.

    One C-level transpose: ``row.name`` costs ~0.3 us a value (a ``Row.__getattr__``), 20x an
    index, which the hot paths (a ranking of 1,000 rows reads 14 values a row) would notice.
    """
    if not rows:
        return {}
    return dict(zip(rows[0]._fields, zip(*rows, strict=True), strict=True))
