"""SigMF read/write of a :class:`~argus.rf.recording.Recording` (the ``sigmf`` package).

A recording becomes a ``.sigmf-meta`` (JSON) + ``.sigmf-data`` (raw little-endian complex64
samples, ``core:datatype = cf32_le``) pair, per the SigMF specification v1.2
(https://sigmf.org, ``sigmf-spec.md``):

- global: ``core:datatype``, ``core:sample_rate``, ``core:version``, ``core:sha512`` of the data
  file (computed by ``sigmf`` when the data file is attached), ``core:geolocation`` (a GeoJSON
  point ``[lon, lat, alt]``, RFC 7946 order), ``core:recorder``, the ``argus`` extension
  (declared in ``core:extensions``) with ``argus:receiver``, and whatever ``meta`` /
  ``extra_global`` add (namespaced keys);
- one capture: ``core:sample_start = 0``, ``core:frequency`` (centre, Hz), ``core:datetime``
  and the capture-scope ``core:geolocation`` (the scope the spec prefers);
- annotations as given.

Nanoseconds in ``core:datetime``: the spec allows any number of fractional-second digits
(RFC 3339 ``time-secfrac``). We write 9 digits (ns), or 12 when the recording's
``start_ns_frac`` has a sub-nanosecond part (picoseconds; finer parts are rounded to the
picosecond), and read any number: the first six digits are the ``datetime``'s microseconds,
the rest become ``start_ns_frac``.

:func:`read_sigmf` checks the sha512 of the data against ``core:sha512`` and every field it
needs, raising :class:`~argus.rf.recording.RecordingError` with the file and the field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from sigmf import SigMFFile, hashing
from sigmf.error import SigMFError

from argus.rf.recording import Recording, RecordingError

SIGMF_VERSION = "1.2.0"
DATATYPE = "cf32_le"
EXTENSION = {"name": "argus", "version": "1.0.0", "optional": True}
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$")
#: Global keys this module writes itself (everything else in the global goes to ``meta``).
_OWN_GLOBAL = {
    "core:datatype",
    "core:sample_rate",
    "core:version",
    "core:sha512",
    "core:geolocation",
    "core:recorder",
    "core:extensions",
    "core:num_channels",
    "core:offset",
    "argus:receiver",
}


def format_datetime(start: dt.datetime, ns_frac: float = 0.0) -> str:
    """``YYYY-MM-DDTHH:MM:SS.fffffffff[fff]Z`` for ``start`` + ``ns_frac`` nanoseconds."""
    utc = start.astimezone(dt.UTC)
    ps = round(ns_frac * 1000.0)  # picoseconds after the microsecond
    if ps >= 1_000_000:  # rounding carried into the next microsecond
        utc, ps = utc + dt.timedelta(microseconds=1), ps - 1_000_000
    digits = f"{utc.microsecond:06d}{ps:06d}"
    if ps % 1000 == 0:
        digits = digits[:9]
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + "." + digits + "Z"


def parse_datetime(text: str) -> tuple[dt.datetime, float]:
    """The inverse of :func:`format_datetime`: ``(datetime to the µs, nanoseconds after it)``."""
    m = _DATETIME.match(text)
    if not m:
        raise ValueError(f"{text!r} is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SS[.f…]Z)")
    base = dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    frac = m.group(2) or ""
    us = int((frac[:6]).ljust(6, "0"))
    rest = frac[6:]
    ns = int(rest) * 10.0 ** (3 - len(rest)) if rest else 0.0
    return base + dt.timedelta(microseconds=us), ns


def _paths(base_path: str | Path) -> tuple[Path, Path]:
    base = Path(base_path)
    name = base.name
    for ext in (".sigmf-meta", ".sigmf-data"):
        if name.endswith(ext):
            base = base.with_name(name[: -len(ext)])
    return base.with_name(base.name + ".sigmf-meta"), base.with_name(base.name + ".sigmf-data")


def _geojson(rec: Recording) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [rec.lon_deg, rec.lat_deg, rec.alt_m]}


def write_sigmf(
    base_path: str | Path, rec: Recording, *, extra_global: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write ``rec`` as ``<base>.sigmf-meta`` + ``<base>.sigmf-data``; return both paths.

    ``extra_global`` adds namespaced global fields (``"ns:key": value``; an ``argus:`` key needs
    no declaration, others must be declared by the caller in ``core:extensions``). Existing
    files are overwritten.
    """
    meta_path, data_path = _paths(base_path)
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    for key in extra_global or {}:
        if key in _OWN_GLOBAL:
            raise RecordingError(f"extra_global: {key!r} is written from the recording itself")
    # A recording read from SigMF carries its file's own fields in ``meta``: they are written
    # again from the recording (the sha512 of these bytes, this sample rate), never copied.
    kept = {k: v for k, v in rec.meta.items() if k not in _OWN_GLOBAL}
    extra = {**kept, **(extra_global or {})}
    for key in extra:
        if ":" not in key:
            raise RecordingError(
                f"extra_global: key {key!r} needs a namespace (e.g. 'argus:{key}')"
            )
        if key in _OWN_GLOBAL:
            raise RecordingError(f"extra_global: {key!r} is written from the recording itself")
    rec.iq.astype("<c8", copy=False).tofile(data_path)
    global_info = {
        "core:datatype": DATATYPE,
        "core:sample_rate": float(rec.sample_rate_hz),
        "core:version": SIGMF_VERSION,
        "core:recorder": "argus",
        "core:geolocation": _geojson(rec),
        "core:extensions": [dict(EXTENSION)],
        "argus:receiver": rec.receiver,
        **extra,
    }
    try:
        handle = SigMFFile(data_file=str(data_path), global_info=global_info)  # hashes the data
        handle.add_capture(
            0,
            metadata={
                "core:frequency": float(rec.center_frequency_hz),
                "core:datetime": format_datetime(rec.start, rec.start_ns_frac),
                "core:geolocation": _geojson(rec),
            },
        )
        for i, ann in enumerate(rec.annotations):
            ann = dict(ann)
            if "core:sample_start" not in ann:
                raise RecordingError(f"annotations[{i}]: core:sample_start is required")
            start = int(ann.pop("core:sample_start"))
            length = ann.pop("core:sample_count", None)
            handle.add_annotation(start, None if length is None else int(length), metadata=ann)
        handle.tofile(str(meta_path.with_suffix("")), overwrite=True)
    except SigMFError as exc:
        raise RecordingError(f"{meta_path.name}: SigMF rejected the metadata: {exc}") from exc
    return meta_path, data_path


def _field(obj: dict[str, Any], key: str, where: str, path: Path) -> Any:
    if key not in obj:
        raise RecordingError(f"{path.name}: {where} {key} is missing")
    return obj[key]


def _location(geo: Any, where: str, path: Path) -> tuple[float, float, float]:
    bad = RecordingError(
        f"{path.name}: {where} core:geolocation must be a GeoJSON Point "
        f"{{'type': 'Point', 'coordinates': [lon, lat(, alt)]}}, got {geo!r}"
    )
    if not isinstance(geo, dict) or geo.get("type") != "Point":
        raise bad
    coords = geo.get("coordinates")
    if not isinstance(coords, list) or len(coords) not in (2, 3):
        raise bad
    try:
        lon, lat = float(coords[0]), float(coords[1])
        alt = float(coords[2]) if len(coords) == 3 else 0.0
    except (TypeError, ValueError):
        raise bad from None
    if not all(math.isfinite(v) for v in (lon, lat, alt)):
        raise bad
    return lat, lon, alt


def read_sigmf(meta_path: str | Path) -> Recording:
    """Read a ``.sigmf-meta`` (+ its ``.sigmf-data``) into a :class:`Recording`.

    Checks the ``core:sha512`` of the data file, ``core:datatype == cf32_le``, the presence and
    form of ``core:sample_rate``, one capture with ``core:frequency`` and ``core:datetime``, and a
    ``core:geolocation`` (capture scope, else global). Errors name the file and the field.
    """
    meta_path, data_path = _paths(meta_path)
    if not meta_path.is_file():
        raise RecordingError(f"{meta_path}: no such metadata file")
    try:
        doc = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingError(f"{meta_path.name}: not a JSON document: {exc}") from exc
    if not isinstance(doc, dict):
        raise RecordingError(f"{meta_path.name}: the metadata must be a JSON object")
    glob = _field(doc, "global", "top-level", meta_path)
    captures = _field(doc, "captures", "top-level", meta_path)
    if not isinstance(glob, dict):
        raise RecordingError(f"{meta_path.name}: global must be an object")
    datatype = _field(glob, "core:datatype", "global", meta_path)
    if datatype != DATATYPE:
        raise RecordingError(
            f"{meta_path.name}: global core:datatype is {datatype!r}; only {DATATYPE} "
            "(complex float32, little-endian) is read"
        )
    _field(glob, "core:version", "global", meta_path)
    rate = _field(glob, "core:sample_rate", "global", meta_path)
    if not isinstance(rate, int | float) or not rate > 0:
        raise RecordingError(f"{meta_path.name}: global core:sample_rate must be > 0, got {rate!r}")
    expected = _field(glob, "core:sha512", "global", meta_path)
    if not data_path.is_file():
        raise RecordingError(f"{meta_path.name}: its data file {data_path.name} is missing")
    actual = hashing.calculate_sha512(filename=str(data_path))
    if actual != expected:
        raise RecordingError(
            f"{meta_path.name}: global core:sha512 does not match {data_path.name} "
            "(the data file is corrupt or belongs to another recording)"
        )
    if not isinstance(captures, list) or not captures:
        raise RecordingError(f"{meta_path.name}: captures must hold at least one capture")
    if len(captures) > 1:
        raise RecordingError(
            f"{meta_path.name}: captures holds {len(captures)} segments; one contiguous capture "
            "is read"
        )
    cap = captures[0]
    if int(_field(cap, "core:sample_start", "captures[0]", meta_path)) != 0:
        raise RecordingError(f"{meta_path.name}: captures[0] core:sample_start must be 0")
    freq = _field(cap, "core:frequency", "captures[0]", meta_path)
    if not isinstance(freq, int | float):
        raise RecordingError(f"{meta_path.name}: captures[0] core:frequency must be a number")
    when = _field(cap, "core:datetime", "captures[0]", meta_path)
    try:
        start, ns_frac = parse_datetime(str(when))
    except ValueError as exc:
        raise RecordingError(f"{meta_path.name}: captures[0] core:datetime: {exc}") from None
    if "core:geolocation" in cap:
        lat, lon, alt = _location(cap["core:geolocation"], "captures[0]", meta_path)
    elif "core:geolocation" in glob:
        lat, lon, alt = _location(glob["core:geolocation"], "global", meta_path)
    else:
        raise RecordingError(
            f"{meta_path.name}: core:geolocation (the receiver's GeoJSON point) is missing from "
            "captures[0] and global"
        )
    raw = np.fromfile(data_path, dtype="<c8")
    annotations = tuple(dict(a) for a in doc.get("annotations", []) or [])
    try:
        return Recording(
            iq=raw.astype(np.complex64, copy=False),
            sample_rate_hz=float(rate),
            center_frequency_hz=float(freq),
            start=start,
            start_ns_frac=ns_frac,
            lat_deg=lat,
            lon_deg=lon,
            alt_m=alt,
            receiver=str(glob.get("argus:receiver", meta_path.name[: -len(".sigmf-meta")])),
            annotations=annotations,
            meta={k: v for k, v in glob.items() if k not in _OWN_GLOBAL},
        )
    except RecordingError as exc:
        raise RecordingError(f"{meta_path.name}: {exc}") from None
