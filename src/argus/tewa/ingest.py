"""Parsing and validation of track files (CSV and JSON lines) into column arrays.

Pure: no database. The service (``argus.tewa.service.import_tracks``) writes what this returns.

A file is read whole, every row is checked, and every problem is reported with its line
number, column, value and reason, so a user fixes a file in one pass instead of one error at
a time. Checks: missing columns, wrong field count, empty or non-numeric or non-finite numbers,
values out of range (lat, lon, speed, heading), unparsable or naive timestamps, and duplicate
(track_id, timestamp) keys inside the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

#: Columns of a track file, in the seed guide's order.
TRACK_COLUMNS: tuple[str, ...] = (
    "track_id",
    "lat",
    "lon",
    "alt_m",
    "speed_mps",
    "heading_deg",
    "timestamp",
)
NUMERIC_COLUMNS: tuple[str, ...] = ("lat", "lon", "alt_m", "speed_mps", "heading_deg")
#: Columns a track file may add. ``pos_sigma_m``: the tracker's radial RMS position error at the
#: sample (m, finite and >= 0; an empty value means "not given"), an input of the track-quality
#: factor (argus.tewa.quality).
OPTIONAL_COLUMNS: tuple[str, ...] = ("pos_sigma_m",)
_COLUMN_ORDER = TRACK_COLUMNS + OPTIONAL_COLUMNS

#: (low, high, high_inclusive) for the range-checked columns.
RANGES: dict[str, tuple[float, float, bool]] = {
    "lat": (-90.0, 90.0, True),
    "lon": (-180.0, 180.0, True),
    "speed_mps": (0.0, math.inf, True),
    "heading_deg": (0.0, 360.0, False),
}

MAX_TRACK_ID_LENGTH = 100
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_US = dt.timedelta(microseconds=1)

FileFormat = Literal["csv", "jsonl"]
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row: ``line`` is the 1-based line number in the file."""

    line: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column!r}: {self.reason} (value {self.value!r})"


@dataclass(frozen=True)
class TrackSamples:
    """Validated samples as parallel arrays (time as int64 microseconds since the Unix epoch, UTC)."""

    track_id: npt.NDArray[np.object_]
    t_us: npt.NDArray[np.int64]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    alt_m: npt.NDArray[np.float64]
    speed_mps: npt.NDArray[np.float64]
    heading_deg: npt.NDArray[np.float64]
    line: npt.NDArray[np.int64]
    #: Radial RMS position error (m) per sample, NaN where not given; None: no such column.
    pos_sigma_m: npt.NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return int(self.t_us.shape[0])

    def take(self, index: npt.NDArray[Any]) -> TrackSamples:
        return TrackSamples(
            track_id=self.track_id[index],
            t_us=self.t_us[index],
            lat=self.lat[index],
            lon=self.lon[index],
            alt_m=self.alt_m[index],
            speed_mps=self.speed_mps[index],
            heading_deg=self.heading_deg[index],
            line=self.line[index],
            pos_sigma_m=None if self.pos_sigma_m is None else self.pos_sigma_m[index],
        )

    @staticmethod
    def empty() -> TrackSamples:
        f = np.empty(0, dtype=np.float64)
        return TrackSamples(
            np.empty(0, dtype=object),
            np.empty(0, dtype=np.int64),
            f,
            f,
            f,
            f,
            f,
            np.empty(0, dtype=np.int64),
        )


@dataclass
class ParseResult:
    """The valid samples, every error found, and the number of data rows read."""

    samples: TrackSamples
    errors: list[RowError] = field(default_factory=list)
    rows_read: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bad_lines(self) -> list[int]:
        return sorted({e.line for e in self.errors})


class TrackFileError(ValueError):
    """A track file that cannot be imported; ``errors`` lists every problem found."""

    def __init__(self, message: str, errors: Sequence[RowError] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


def us_to_datetime(t_us: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=int(t_us))


def datetime_to_us(value: dt.datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("naive datetime: give a time zone")
    return (value - _EPOCH) // _ONE_US


def detect_format(path: Path) -> FileFormat:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise TrackFileError(
        f"{path.name}: unknown file type {suffix!r}; use .csv or .jsonl (or pass the format)"
    )


def parse_track_file(
    path: str | Path, fmt: FileFormat | None = None, progress: ProgressCallback | None = None
) -> ParseResult:
    """Read and validate a CSV or JSON-lines track file."""
    p = Path(path)
    fmt = fmt or detect_format(p)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TrackFileError(
            f"{p.name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    return parse_track_text(text, fmt, progress=progress)


def parse_track_text(
    text: str, fmt: FileFormat, progress: ProgressCallback | None = None
) -> ParseResult:
    if fmt == "csv":
        lines, columns, ignored, errors = _read_csv(text)
    elif fmt == "jsonl":
        lines, columns, ignored, errors = _read_jsonl(text)
    else:  # pragma: no cover - guarded by the Literal type
        raise TrackFileError(f"unknown format {fmt!r}")
    if progress:
        progress("parsed", len(lines), len(lines))
    rejected_early = len({e.line for e in errors})  # rows the reader could not split into fields
    result = _validate(lines, columns, errors)
    result.rows_read = len(lines) + rejected_early
    result.ignored_columns = ignored
    if progress:
        progress("validated", len(lines), len(lines))
    return result


# ---- readers: text -> (line numbers, raw string columns, errors) ----

_RawColumns = dict[str, list[str]]


def _check_header(header: Sequence[str]) -> tuple[list[str], list[str]]:
    names = [h.strip() for h in header]
    missing = [c for c in TRACK_COLUMNS if c not in names]
    if missing:
        raise TrackFileError(
            f"missing column(s) {', '.join(missing)}; a track file needs: {', '.join(TRACK_COLUMNS)}",
            [RowError(1, c, "", "missing column") for c in missing],
        )
    dupes = sorted({n for n in names if names.count(n) > 1 and n in TRACK_COLUMNS})
    if dupes:
        raise TrackFileError(
            f"column(s) given twice in the header: {', '.join(dupes)}",
            [RowError(1, c, "", "duplicate column") for c in dupes],
        )
    dupes = sorted({n for n in names if names.count(n) > 1 and n in OPTIONAL_COLUMNS})
    if dupes:
        raise TrackFileError(
            f"column(s) given twice in the header: {', '.join(dupes)}",
            [RowError(1, c, "", "duplicate column") for c in dupes],
        )
    ignored = [n for n in names if n not in TRACK_COLUMNS and n not in OPTIONAL_COLUMNS]
    return names, ignored


def _read_csv(text: str) -> tuple[list[int], _RawColumns, list[str], list[RowError]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise TrackFileError(
            f"the file is empty: expected a header line ({','.join(TRACK_COLUMNS)})"
        ) from None
    names, ignored = _check_header(header)
    width = len(names)
    index = [names.index(c) for c in TRACK_COLUMNS]
    errors: list[RowError] = []
    lines: list[int] = []
    good: list[list[str]] = []
    # csv parsing is per record by nature (done in C by the csv module); line_num is read so
    # quoted fields with newlines still report the right line.
    for row in reader:
        if not row:
            continue  # blank line
        if len(row) != width:
            errors.append(
                RowError(
                    reader.line_num,
                    "*",
                    ",".join(row)[:80],
                    f"expected {width} fields, found {len(row)}",
                )
            )
            continue
        lines.append(reader.line_num)
        good.append(row)
    cols = list(zip(*good, strict=True)) if good else [() for _ in range(width)]
    columns = {c: list(cols[i]) for c, i in zip(TRACK_COLUMNS, index, strict=True)}
    for c in OPTIONAL_COLUMNS:
        if c in names:
            columns[c] = list(cols[names.index(c)])
    return lines, columns, ignored, errors


def _read_jsonl(text: str) -> tuple[list[int], _RawColumns, list[str], list[RowError]]:
    errors: list[RowError] = []
    lines: list[int] = []
    columns: _RawColumns = {c: [] for c in TRACK_COLUMNS}
    ignored: set[str] = set()
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(
                RowError(lineno, "*", raw[:80], f"invalid JSON ({exc.msg} at column {exc.colno})")
            )
            continue
        if not isinstance(obj, dict):
            errors.append(RowError(lineno, "*", raw[:80], "expected a JSON object per line"))
            continue
        missing = [c for c in TRACK_COLUMNS if c not in obj]
        if missing:
            errors.extend(RowError(lineno, c, "", "missing field") for c in missing)
            continue
        ignored.update(k for k in obj if k not in TRACK_COLUMNS and k not in OPTIONAL_COLUMNS)
        lines.append(lineno)
        for c in TRACK_COLUMNS:
            v = obj[c]
            columns[c].append("" if v is None else (v if isinstance(v, str) else json.dumps(v)))
        for c in OPTIONAL_COLUMNS:
            if c in obj:  # an optional column seen late: earlier rows did not give it
                v = obj[c]
                col = columns.setdefault(c, [""] * (len(lines) - 1))
                col.append("" if v is None else (v if isinstance(v, str) else json.dumps(v)))
            elif c in columns:
                columns[c].append("")
    if not lines and not errors:
        raise TrackFileError("the file is empty: expected one JSON object per line")
    return lines, columns, sorted(ignored), errors


# ---- validation: raw columns -> arrays + errors ----


def _parse_floats(values: list[str]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Parse strings to float64; the mask marks values that are not a finite number."""
    n = len(values)
    try:
        out = np.fromiter(map(float, values), dtype=np.float64, count=n)
        bad = ~np.isfinite(out)
    except ValueError:
        # Error path only: find which ones failed.
        out = np.empty(n, dtype=np.float64)
        bad = np.zeros(n, dtype=bool)
        for i, v in enumerate(values):
            try:
                out[i] = float(v)
            except ValueError:
                out[i] = np.nan
                bad[i] = True
        bad |= ~np.isfinite(out)
    return out, bad


def _parse_timestamps(values: list[str]) -> tuple[npt.NDArray[np.int64], list[tuple[int, str]]]:
    """ISO 8601 with a zone ('Z' or ±HH:MM) → int64 µs since the epoch; returns (t_us, [(index, reason)])."""
    n = len(values)
    out = np.zeros(n, dtype=np.int64)
    problems: list[tuple[int, str]] = []
    parse = dt.datetime.fromisoformat
    # datetime.fromisoformat is C code and, measured here, faster than numpy's datetime64
    # string parsing once the zone handling numpy lacks is added; it is per value by nature.
    for i, v in enumerate(values):
        try:
            d = parse(v)
        except ValueError:
            problems.append(
                (i, "unparsable timestamp (expected ISO 8601, e.g. 2025-01-01T12:00:00Z)")
            )
            continue
        if d.tzinfo is None or d.utcoffset() is None:
            problems.append((i, "naive timestamp: add 'Z' or a UTC offset such as +05:30"))
            continue
        out[i] = (d - _EPOCH) // _ONE_US
    return out, problems


def _validate(lines: list[int], raw: _RawColumns, errors: list[RowError]) -> ParseResult:
    n = len(lines)
    line = np.asarray(lines, dtype=np.int64)
    bad_row = np.zeros(n, dtype=bool)

    track_id = np.array([s.strip() for s in raw["track_id"]], dtype=object)
    lengths = np.fromiter(map(len, track_id), dtype=np.int64, count=n)
    empty = lengths == 0
    too_long = lengths > MAX_TRACK_ID_LENGTH
    for i in np.flatnonzero(empty):
        errors.append(RowError(int(line[i]), "track_id", "", "empty track_id"))
    for i in np.flatnonzero(too_long):
        errors.append(
            RowError(
                int(line[i]),
                "track_id",
                str(track_id[i])[:40] + "…",
                f"track_id longer than {MAX_TRACK_ID_LENGTH} characters",
            )
        )
    bad_row |= empty | too_long

    numbers: dict[str, npt.NDArray[np.float64]] = {}
    for col in NUMERIC_COLUMNS:
        values, bad = _parse_floats(raw[col])
        for i in np.flatnonzero(bad):
            v = raw[col][i]
            reason = (
                "empty value"
                if not v.strip()
                else ("not a finite number" if _is_float(v) else "not a number")
            )
            errors.append(RowError(int(line[i]), col, v, reason))
        if col in RANGES:
            lo, hi, hi_incl = RANGES[col]
            out_of_range = ~bad & ((values < lo) | ((values > hi) if hi_incl else (values >= hi)))
            bracket = "]" if hi_incl else ")"
            for i in np.flatnonzero(out_of_range):
                errors.append(
                    RowError(
                        int(line[i]), col, raw[col][i], f"out of range [{lo:g}, {hi:g}{bracket}"
                    )
                )
            bad |= out_of_range
        bad_row |= bad
        numbers[col] = values

    pos_sigma: npt.NDArray[np.float64] | None = None
    if "pos_sigma_m" in raw:
        given = np.array([bool(v.strip()) for v in raw["pos_sigma_m"]], dtype=bool)
        values, bad = _parse_floats([v if v.strip() else "nan" for v in raw["pos_sigma_m"]])
        bad &= given  # an empty value is "not given", not an error
        negative = given & ~bad & (values < 0)
        for i in np.flatnonzero(bad | negative):
            v = raw["pos_sigma_m"][i]
            reason = (
                "must be >= 0"
                if negative[i]
                else ("not a finite number" if _is_float(v) else "not a number")
            )
            errors.append(RowError(int(line[i]), "pos_sigma_m", v, reason))
        bad_row |= bad | negative
        pos_sigma = np.where(given, values, np.nan)

    t_us, problems = _parse_timestamps(raw["timestamp"])
    for k, reason in problems:
        errors.append(RowError(int(line[k]), "timestamp", raw["timestamp"][k], reason))
        bad_row[k] = True

    # Duplicate (track_id, t) keys among the rows that are otherwise good: the first wins.
    good_idx = np.flatnonzero(~bad_row)
    if good_idx.size:
        key_track = track_id[good_idx].astype(str)
        order = np.lexsort((good_idx, t_us[good_idx], key_track))
        kt = key_track[order]
        kv = t_us[good_idx][order]
        same = np.zeros(order.size, dtype=bool)
        same[1:] = (kt[1:] == kt[:-1]) & (kv[1:] == kv[:-1])
        if same.any():
            # first occurrence of each run of equal keys
            first = np.maximum.accumulate(np.where(~same, np.arange(order.size), 0))
            for k in np.flatnonzero(same).tolist():
                dup = int(good_idx[order[k]])
                orig = int(good_idx[order[first[k]]])
                errors.append(
                    RowError(
                        int(line[dup]),
                        "timestamp",
                        raw["timestamp"][dup],
                        f"duplicate key (track_id {track_id[dup]!r}, timestamp) "
                        f"already on line {int(line[orig])}",
                    )
                )
                bad_row[dup] = True

    keep = np.flatnonzero(~bad_row)
    samples = TrackSamples(
        track_id=track_id[keep],
        t_us=t_us[keep],
        lat=numbers["lat"][keep],
        lon=numbers["lon"][keep],
        alt_m=numbers["alt_m"][keep],
        speed_mps=numbers["speed_mps"][keep],
        heading_deg=numbers["heading_deg"][keep],
        line=line[keep],
        pos_sigma_m=None if pos_sigma is None else pos_sigma[keep],
    )
    errors.sort(
        key=lambda e: (e.line, _COLUMN_ORDER.index(e.column) if e.column in _COLUMN_ORDER else -1)
    )
    return ParseResult(samples=samples, errors=errors, rows_read=n)


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def write_csv(samples: TrackSamples, out: io.TextIOBase | Any) -> None:
    """Write samples as a track CSV (the inverse of ``parse_track_text(..., 'csv')``)."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(TRACK_COLUMNS)
    for k in range(len(samples)):
        w.writerow(
            [
                samples.track_id[k],
                repr(float(samples.lat[k])),
                repr(float(samples.lon[k])),
                repr(float(samples.alt_m[k])),
                repr(float(samples.speed_mps[k])),
                repr(float(samples.heading_deg[k])),
                us_to_datetime(int(samples.t_us[k])).isoformat().replace("+00:00", "Z"),
            ]
        )
