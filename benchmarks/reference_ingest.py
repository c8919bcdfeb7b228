"""The per-row track-file reader that ``argus.tewa.ingest`` replaced (csv module, ``float`` and
``datetime.fromisoformat`` per cell), kept as the reference: bench_ingest.py measures the new
reader against it in the same run, and tests/tewa/test_ingest_reference.py checks that both give
the same rows and the same report on random files. Not a production path.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from argus.tewa.ingest import (
    _COLUMN_ORDER,
    MAX_TRACK_ID_LENGTH,
    NUMERIC_COLUMNS,
    OPTIONAL_COLUMNS,
    RANGES,
    TRACK_COLUMNS,
    FileFormat,
    ParseResult,
    ProgressCallback,
    RowError,
    TrackFileError,
    TrackSamples,
)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_US = dt.timedelta(microseconds=1)


def reference_parse_track_file(path: str, fmt: FileFormat) -> ParseResult:
    with open(path, encoding="utf-8-sig") as f:
        return reference_parse_track_text(f.read(), fmt)


def reference_parse_track_text(
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
