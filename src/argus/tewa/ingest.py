"""Parsing and validation of track files (CSV and JSON lines) into column arrays.

Pure: no database. The service (``argus.tewa.service.import_tracks``) writes what this returns.

A file is read whole, every row is checked, and every problem is reported with its line
number, column, value and reason, so a user fixes a file in one pass instead of one error at
a time. Checks: missing columns, wrong field count, empty or non-numeric or non-finite numbers,
values out of range (lat, lon, speed, heading), unparsable or naive timestamps, and duplicate
(track_id, timestamp) keys inside the file.

How (docs/tewa.md, "How import parses"): pyarrow's multi-threaded CSV / JSON readers split the
file into columns; numbers and timestamps are converted column-wise in C++ (pyarrow.compute) and
checked with numpy masks. A value the fast path does not recognise (a regular expression guards
what it accepts) is handed to the exact per-value path (``float`` / ``datetime.fromisoformat``),
so only bad or unusual cells are touched one at a time. A CSV with malformed quoting, or a
JSON-lines file pyarrow cannot read as a whole (bad JSON, a number given as a string, a missing
key), is split line by line with the standard library instead, then validated the same way.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from argus.timefmt import iso_z

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
    data = p.read_bytes()
    if not data.isascii():  # ASCII is UTF-8; only other files pay for a full decode
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TrackFileError(
                f"{p.name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from exc
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    return parse_track_bytes(data, fmt, progress=progress)


def parse_track_text(
    text: str, fmt: FileFormat, progress: ProgressCallback | None = None
) -> ParseResult:
    return parse_track_bytes(text.encode("utf-8"), fmt, progress=progress)


def parse_track_bytes(
    data: bytes, fmt: FileFormat, progress: ProgressCallback | None = None
) -> ParseResult:
    """Validate a track file given as UTF-8 bytes (no byte-order mark)."""
    if fmt == "csv":
        raw = _read_csv(data)
    elif fmt == "jsonl":
        raw = _read_jsonl(data)
    else:  # pragma: no cover - guarded by the Literal type
        raise TrackFileError(f"unknown format {fmt!r}")
    n = len(raw.lines)
    if progress:
        progress("parsed", n, n)
    try:
        result = _validate(raw)
    except _NeedStrings:  # a typed column has a problem: its report needs the text of the cells
        assert raw.reread is not None
        raw = raw.reread()
        result = _validate(raw)
    result.rows_read = raw.rows_read
    result.ignored_columns = raw.ignored
    if progress:
        progress("validated", n, n)
    return result


# ---- readers: bytes -> (line numbers, columns as Arrow arrays, errors) ----

_BOM = b"\xef\xbb\xbf"
#: What the vectorized paths accept; anything else goes to the exact per-value path.
_FLOAT_RE = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_TS_RE = (
    r"^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(?:0[1-9]|1[0-2])-"
    r"(?:0[1-9]|[12][0-9]|3[01])[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
#: A track id whose first and last characters are printable ASCII: ``str.strip`` leaves it alone.
_ID_RE = r"(?s)^[!-~](?:.*[!-~])?$"
_TS_TYPE = pa.timestamp("us", "UTC")
_TS_LEAF = 8  # the bisection of a failing timestamp cast stops at this many values


class _NeedStrings(Exception):
    """A typed read found a problem; the report needs the cells' text (re-read as strings)."""


@dataclass
class _Raw:
    lines: npt.NDArray[np.int64]
    #: Arrow arrays: ``string``, or ``float64`` for numeric columns of a typed read.
    columns: dict[str, pa.Array]
    ignored: list[str]
    errors: list[RowError]
    rows_read: int
    #: A re-read with every column as strings (typed reads only).
    reread: Callable[[], _Raw] | None = None


def _check_header(header: Sequence[str]) -> tuple[list[str], list[str]]:
    names = [h.strip() for h in header]
    missing = [c for c in TRACK_COLUMNS if c not in names]
    if missing:
        raise TrackFileError(
            f"missing column(s) {', '.join(missing)}; a track file needs: {', '.join(TRACK_COLUMNS)}",
            [RowError(1, c, "", "missing column") for c in missing],
        )
    for group in (TRACK_COLUMNS, OPTIONAL_COLUMNS):
        dupes = sorted({n for n in names if names.count(n) > 1 and n in group})
        if dupes:
            raise TrackFileError(
                f"column(s) given twice in the header: {', '.join(dupes)}",
                [RowError(1, c, "", "duplicate column") for c in dupes],
            )
    ignored = [n for n in names if n not in TRACK_COLUMNS and n not in OPTIONAL_COLUMNS]
    return names, ignored


def _strings(values: Sequence[str]) -> pa.Array:
    return pa.array(values, type=pa.string())


def _read_csv(data: bytes, typed: bool = True) -> _Raw:
    if not data:
        raise TrackFileError(
            f"the file is empty: expected a header line ({','.join(TRACK_COLUMNS)})"
        )
    nl = data.find(b"\n")
    header_text = (data if nl < 0 else data[:nl]).decode("utf-8")
    body = b"" if nl < 0 else data[nl + 1 :]
    names, ignored = _check_header(next(csv.reader([header_text]), []))
    width = len(names)
    wanted = [c for c in _COLUMN_ORDER if c in names]
    if not body.strip(b"\r\n"):
        return _Raw(np.empty(0, dtype=np.int64), {c: _strings([]) for c in wanted}, ignored, [], 0)
    gen = {c: f"c{names.index(c)}" for c in wanted}
    invalid: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        invalid.append((int(row.actual_columns), str(row.text)))
        return "skip"

    has_quote = b'"' in body
    numeric = (*NUMERIC_COLUMNS, *OPTIONAL_COLUMNS)
    types = {gen[c]: (pa.float64() if typed and c in numeric else pa.string()) for c in wanted}
    try:
        table = pa_csv.read_csv(
            io.BytesIO(body),
            read_options=pa_csv.ReadOptions(column_names=[f"c{i}" for i in range(width)]),
            parse_options=pa_csv.ParseOptions(
                newlines_in_values=has_quote, invalid_row_handler=on_invalid
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types=types,
                include_columns=list(types),
                null_values=[""],  # an empty number is null (reported); strings are never null
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        if typed:
            return _read_csv(data, typed=False)  # a cell that is not a plain number
        return _read_csv_python(data)  # malformed quoting: split as the csv module does
    n = table.num_rows
    if not invalid and not has_quote and n == body.count(b"\n") + (not body.endswith(b"\n")):
        lines = np.arange(2, n + 2, dtype=np.int64)  # one record per line, none blank
        bad_lines = np.empty(0, dtype=np.int64)
    else:
        lines, bad_lines = _csv_record_lines(body, width, has_quote)
        if lines.size != n or bad_lines.size != len(invalid):
            return _read_csv_python(data)
    errors = []
    for ln, (found, text) in zip(bad_lines.tolist(), invalid, strict=True):
        if '"' in text:
            value = ",".join(next(csv.reader(io.StringIO(text)), []))
        else:
            value = text[:-1] if text.endswith("\r") else text
        errors.append(RowError(ln, "*", value[:80], f"expected {width} fields, found {found}"))
    columns = {c: table.column(gen[c]).combine_chunks() for c in wanted}
    return _Raw(
        lines,
        columns,
        ignored,
        errors,
        n + len(invalid),
        reread=(lambda: _read_csv(data, typed=False)) if typed else None,
    )


def _csv_record_lines(
    body: bytes, width: int, has_quote: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Vectorized record boundaries of a CSV body: the file line numbers (as ``csv.reader``'s
    ``line_num``: the record's last line) of the records with ``width`` fields, and of the others.
    Blank lines are skipped; newlines inside quotes do not end a record."""
    a = np.frombuffer(body, dtype=np.uint8)
    is_nl = a == 10
    lone_cr = a == 13
    lone_cr[:-1] &= ~is_nl[1:]  # '\r\n' breaks once, at the '\n'
    brk = is_nl | lone_cr
    if has_quote:
        outside = (np.cumsum(a == 34) & 1) == 0
        term = brk & outside
        comma = (a == 44) & outside
    else:
        term, comma = brk, a == 44
    ends = np.flatnonzero(term)
    starts = np.r_[0, ends + 1]
    stops = np.r_[ends, a.size]
    line_of_break = np.cumsum(brk)
    line_num = np.r_[line_of_break[ends], line_of_break[-1] + 1] + 1  # + the header line
    crlf = (stops > starts) & (stops > 0)
    crlf[crlf] = a[stops[crlf] - 1] == 13
    stops = stops - crlf
    nonblank = stops > starts
    commas = np.r_[0, np.cumsum(comma)]
    fields = commas[stops] - commas[starts] + 1
    ok = nonblank & (fields == width)
    return line_num[ok].astype(np.int64), line_num[nonblank & ~ok].astype(np.int64)


def _read_csv_python(data: bytes) -> _Raw:
    """The standard library's csv splitting (files whose quoting pyarrow reads differently)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    names, ignored = _check_header(next(reader, []))
    width = len(names)
    errors: list[RowError] = []
    lines: list[int] = []
    good: list[list[str]] = []
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
    columns = {c: _strings(cols[names.index(c)]) for c in _COLUMN_ORDER if c in names}
    return _Raw(
        np.asarray(lines, dtype=np.int64), columns, ignored, errors, len(lines) + len(errors)
    )


_JSON_ODD_BREAKS = re.compile(rb"\r(?!\n)|[\x0b\x0c\x1c-\x1e]|\xc2\x85|\xe2\x80[\xa8\xa9]")


def _read_jsonl(data: bytes) -> _Raw:
    if not data.strip():
        raise TrackFileError("the file is empty: expected one JSON object per line")
    if _JSON_ODD_BREAKS.search(data):
        return _read_jsonl_python(data)  # line breaks str.splitlines knows and pyarrow does not
    schema = pa.schema(
        [
            (c, pa.float64() if c in NUMERIC_COLUMNS or c in OPTIONAL_COLUMNS else pa.string())
            for c in _COLUMN_ORDER
        ]
    )
    try:
        table = pa_json.read_json(
            io.BytesIO(data),
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _read_jsonl_python(data)
    if any(table.column(c).null_count for c in TRACK_COLUMNS):
        return _read_jsonl_python(data)  # a missing key or a null: reported per line
    a = np.frombuffer(data, dtype=np.uint8)
    line_id = np.r_[0, np.cumsum(a == 10)[:-1]]  # 0-based line of each byte
    content = ~np.isin(a, np.array([9, 10, 13, 32], dtype=np.uint8))
    lines = np.flatnonzero(np.bincount(line_id[content], minlength=1)) + 1
    if lines.size != table.num_rows:
        return _read_jsonl_python(data)
    columns = {c: table.column(c).combine_chunks() for c in TRACK_COLUMNS}
    if f'"{OPTIONAL_COLUMNS[0]}"'.encode() in data:
        columns[OPTIONAL_COLUMNS[0]] = table.column(OPTIONAL_COLUMNS[0]).combine_chunks()
    ignored = sorted(c for c in table.column_names if c not in _COLUMN_ORDER)
    return _Raw(
        lines.astype(np.int64),
        columns,
        ignored,
        [],
        int(lines.size),
        reread=lambda: _read_jsonl_python(data),
    )


def _read_jsonl_python(data: bytes) -> _Raw:
    """Line by line with the json module: the exact report for a file pyarrow cannot take whole."""
    text = data.decode("utf-8")
    errors: list[RowError] = []
    lines: list[int] = []
    columns: dict[str, list[str]] = {c: [] for c in TRACK_COLUMNS}
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
            columns[c].append(_json_text(obj[c]))
        for c in OPTIONAL_COLUMNS:
            if c in obj:  # an optional column seen late: earlier rows did not give it
                columns.setdefault(c, [""] * (len(lines) - 1)).append(_json_text(obj[c]))
            elif c in columns:
                columns[c].append("")
    if not lines and not errors:
        raise TrackFileError("the file is empty: expected one JSON object per line")
    return _Raw(
        np.asarray(lines, dtype=np.int64),
        {c: _strings(v) for c, v in columns.items()},
        sorted(ignored),
        errors,
        len(lines) + len({e.line for e in errors}),
    )


def _json_text(v: Any) -> str:
    return "" if v is None else (v if isinstance(v, str) else json.dumps(v))


# ---- validation: Arrow columns -> numpy arrays + errors ----


def _np_bool(arr: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def _texts(col: pa.Array, index: npt.NDArray[np.intp]) -> list[str]:
    return [str(v) for v in col.take(pa.array(index, type=pa.int64())).to_pylist()]


def _parse_numbers(
    col: pa.Array, *, optional: bool
) -> tuple[npt.NDArray[np.float64], dict[int, str], npt.NDArray[np.bool_]]:
    """A column as float64. Returns (values, {row: reason} of the bad cells, given mask).

    Typed (float64) columns raise ``_NeedStrings`` on any null or non-finite value. String
    columns: plain decimal numbers are cast in one step; every other cell goes through
    ``float`` as before (empty, 'nan', '1_000', Unicode digits, spaces …).
    """
    n = len(col)
    if pa.types.is_floating(col.type):
        values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
        given = np.ones(n, dtype=bool)
        if col.null_count:
            if not optional:
                raise _NeedStrings
            given = ~_np_bool(col.is_null())
        if not np.isfinite(values[given]).all():
            raise _NeedStrings
        return values, {}, given
    fast = _np_bool(pc.match_substring_regex(col, _FLOAT_RE))
    values = np.full(n, np.nan)
    if fast.all():
        values = np.asarray(pc.cast(col, pa.float64()).to_numpy(), dtype=np.float64)
    elif fast.any():
        values[fast] = pc.cast(col.filter(pa.array(fast)), pa.float64()).to_numpy()
    given = np.ones(n, dtype=bool)
    reasons: dict[int, str] = {}
    for i in np.flatnonzero(fast & ~np.isfinite(values)).tolist():
        reasons[i] = "not a finite number"  # e.g. 1e400
    slow = np.flatnonzero(~fast)
    for i, v in zip(slow.tolist(), _texts(col, slow), strict=True):
        if not v.strip():
            if optional:
                given[i] = False  # an empty optional value is "not given", not an error
            else:
                reasons[i] = "empty value"
            continue
        try:
            values[i] = float(v)
        except ValueError:
            reasons[i] = "not a number"
            continue
        if not math.isfinite(values[i]):
            reasons[i] = "not a finite number"
    return values, reasons, given


def _cast_timestamps(col: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Cast ISO strings to µs; a failing cast is bisected so only a few values around each
    bad one are left (ok False) for the per-value path."""
    n = len(col)
    try:
        t = pc.cast(pc.cast(col, _TS_TYPE), pa.int64()).to_numpy()
        return np.asarray(t, dtype=np.int64), np.ones(n, dtype=bool)
    except pa.ArrowInvalid:
        if n <= _TS_LEAF:
            return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    h = n // 2
    t0, ok0 = _cast_timestamps(col.slice(0, h))
    t1, ok1 = _cast_timestamps(col.slice(h))
    return np.concatenate([t0, t1]), np.concatenate([ok0, ok1])


_UNPARSABLE = "unparsable timestamp (expected ISO 8601, e.g. 2025-01-01T12:00:00Z)"
_NAIVE = "naive timestamp: add 'Z' or a UTC offset such as +05:30"


def _parse_timestamps(col: pa.Array) -> tuple[npt.NDArray[np.int64], dict[int, str]]:
    """ISO 8601 with a zone ('Z' or ±HH:MM) → int64 µs since the epoch, and {row: reason}.

    Strings of the common shape (``YYYY-MM-DD[T ]HH:MM:SS[.ffffff](Z|±HH:MM)``) are cast by
    pyarrow in one step; the others (and the few a cast refuses) go through
    ``datetime.fromisoformat``, which decides what is accepted.
    """
    n = len(col)
    fast = _np_bool(pc.match_substring_regex(col, _TS_RE))
    t_us = np.zeros(n, dtype=np.int64)
    if fast.all():
        t_us, ok = _cast_timestamps(col)
    else:
        ok = np.zeros(n, dtype=bool)
        idx = np.flatnonzero(fast)
        if idx.size:
            t_us[idx], ok[idx] = _cast_timestamps(col.filter(pa.array(fast)))
    problems: dict[int, str] = {}
    slow = np.flatnonzero(~ok)
    for i, v in zip(slow.tolist(), _texts(col, slow), strict=True):
        try:
            d = dt.datetime.fromisoformat(v)
        except ValueError:
            problems[i] = _UNPARSABLE
            continue
        if d.tzinfo is None or d.utcoffset() is None:
            problems[i] = _NAIVE
            continue
        t_us[i] = (d - _EPOCH) // _ONE_US
    return t_us, problems


def _validate(raw: _Raw) -> ParseResult:
    line = raw.lines
    n = int(line.shape[0])
    errors = list(raw.errors)
    bad_row = np.zeros(n, dtype=bool)
    cols = raw.columns

    # track ids: stripped (in one step where stripping cannot change them), then coded
    ids = cols["track_id"]
    odd = ~_np_bool(pc.match_substring_regex(ids, _ID_RE))
    if odd.any():
        where = np.flatnonzero(odd)
        stripped = [v.strip() for v in _texts(ids, where)]
        ids = pc.replace_with_mask(ids, pa.array(odd), _strings(stripped))
    lengths = np.asarray(pc.utf8_length(ids).to_numpy(), dtype=np.int64)
    encoded = pc.dictionary_encode(ids)
    codes = np.asarray(encoded.indices.to_numpy(), dtype=np.int64)
    track_id = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)[codes]
    empty = lengths == 0
    too_long = lengths > MAX_TRACK_ID_LENGTH
    for i in np.flatnonzero(empty).tolist():
        errors.append(RowError(int(line[i]), "track_id", "", "empty track_id"))
    for i in np.flatnonzero(too_long).tolist():
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
    for c in NUMERIC_COLUMNS:
        values, reasons, _ = _parse_numbers(cols[c], optional=False)
        bad = np.zeros(n, dtype=bool)
        if reasons:
            where = np.fromiter(reasons, dtype=np.intp, count=len(reasons))
            bad[where] = True
            for i, v in zip(where.tolist(), _texts(cols[c], where), strict=True):
                errors.append(RowError(int(line[i]), c, v, reasons[i]))
        if c in RANGES:
            lo, hi, hi_incl = RANGES[c]
            with np.errstate(invalid="ignore"):
                out = ~bad & ((values < lo) | ((values > hi) if hi_incl else (values >= hi)))
            if out.any():
                if pa.types.is_floating(cols[c].type):
                    raise _NeedStrings
                bracket = "]" if hi_incl else ")"
                where = np.flatnonzero(out)
                for i, v in zip(where.tolist(), _texts(cols[c], where), strict=True):
                    errors.append(
                        RowError(int(line[i]), c, v, f"out of range [{lo:g}, {hi:g}{bracket}")
                    )
                bad |= out
        bad_row |= bad
        numbers[c] = values

    pos_sigma: npt.NDArray[np.float64] | None = None
    if "pos_sigma_m" in cols:
        c = "pos_sigma_m"
        values, reasons, given = _parse_numbers(cols[c], optional=True)
        with np.errstate(invalid="ignore"):
            negative = given & (values < 0)
        if negative.any() and pa.types.is_floating(cols[c].type):
            raise _NeedStrings
        for i in np.flatnonzero(negative).tolist():
            reasons.setdefault(i, "must be >= 0")  # -inf: "not a finite number", as before
        if reasons:
            where = np.fromiter(reasons, dtype=np.intp, count=len(reasons))
            bad_row[where] = True
            for i, v in zip(where.tolist(), _texts(cols[c], where), strict=True):
                errors.append(RowError(int(line[i]), c, v, reasons[i]))
        pos_sigma = np.where(given, values, np.nan)

    t_us, problems = _parse_timestamps(cols["timestamp"])
    if problems:
        where = np.fromiter(problems, dtype=np.intp, count=len(problems))
        bad_row[where] = True
        for i, v in zip(where.tolist(), _texts(cols["timestamp"], where), strict=True):
            errors.append(RowError(int(line[i]), "timestamp", v, problems[i]))

    _mark_duplicates(codes, t_us, line, bad_row, track_id, cols["timestamp"], errors)

    if bad_row.any():
        keep: Any = np.flatnonzero(~bad_row)
    else:
        keep = slice(None)
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


def _mark_duplicates(
    codes: npt.NDArray[np.int64],
    t_us: npt.NDArray[np.int64],
    line: npt.NDArray[np.int64],
    bad_row: npt.NDArray[np.bool_],
    track_id: npt.NDArray[np.object_],
    timestamps: pa.Array,
    errors: list[RowError],
) -> None:
    """Duplicate (track_id, t) keys among the rows that are otherwise good: the first wins."""
    good_idx = np.flatnonzero(~bad_row)
    if good_idx.size < 2:
        return
    c, t = codes[good_idx], t_us[good_idx]
    t_lo, t_span = int(t.min()), int(t.max()) - int(t.min()) + 1
    if t_span * (int(c.max()) + 1) < 2**62:  # one int64 key: one stable sort instead of three
        order = np.argsort(c * t_span + (t - t_lo), kind="stable")
    else:
        order = np.lexsort((good_idx, t, c))
    kc, kt = c[order], t[order]
    same = np.zeros(order.size, dtype=bool)
    same[1:] = (kc[1:] == kc[:-1]) & (kt[1:] == kt[:-1])
    if not same.any():
        return
    first = np.maximum.accumulate(np.where(~same, np.arange(order.size), 0))
    dups = np.flatnonzero(same)
    dup_rows = good_idx[order[dups]]
    orig_rows = good_idx[order[first[dups]]]
    for dup, orig, v in zip(
        dup_rows.tolist(), orig_rows.tolist(), _texts(timestamps, dup_rows), strict=True
    ):
        errors.append(
            RowError(
                int(line[dup]),
                "timestamp",
                v,
                f"duplicate key (track_id {track_id[dup]!r}, timestamp) "
                f"already on line {int(line[orig])}",
            )
        )
        bad_row[dup] = True


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
                iso_z(us_to_datetime(int(samples.t_us[k]))),
            ]
        )
