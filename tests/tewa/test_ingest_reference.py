"""The columnar track-file reader (pyarrow + numpy) against the old per-row reader
(benchmarks/reference_ingest.py): the same accepted rows and the same report, on random valid and
invalid CSV and JSON-lines files, and on hand-written files that reach each fallback path."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argus.tewa import ingest
from argus.tewa.ingest import ParseResult, parse_track_text

_REF_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "reference_ingest.py"
_spec = importlib.util.spec_from_file_location("reference_ingest", _REF_PATH)
assert _spec is not None and _spec.loader is not None
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)

COLS = ["track_id", "lat", "lon", "alt_m", "speed_mps", "heading_deg", "timestamp"]


def _same(text: str, fmt: str = "csv") -> ParseResult:
    """Parse with both readers and assert the same rows, values and report."""
    try:
        want = reference.reference_parse_track_text(text, fmt)
    except ingest.TrackFileError as exc:
        with pytest.raises(ingest.TrackFileError) as ei:
            parse_track_text(text, fmt)  # type: ignore[arg-type]
        assert str(ei.value) == str(exc) and ei.value.errors == exc.errors
        return ParseResult(samples=ingest.TrackSamples.empty())
    got = parse_track_text(text, fmt)  # type: ignore[arg-type]
    assert got.errors == want.errors
    assert (got.rows_read, got.ignored_columns) == (want.rows_read, want.ignored_columns)
    g, w = got.samples, want.samples
    assert g.track_id.tolist() == w.track_id.tolist()
    for name in ("t_us", "lat", "lon", "alt_m", "speed_mps", "heading_deg", "line"):
        np.testing.assert_array_equal(getattr(g, name), getattr(w, name), err_msg=name)
    assert (g.pos_sigma_m is None) == (w.pos_sigma_m is None)
    if g.pos_sigma_m is not None:
        np.testing.assert_array_equal(g.pos_sigma_m, w.pos_sigma_m)
    return got


# ---- random files ----

NUMBER = st.one_of(
    st.floats(-200, 400, allow_nan=False).map(repr),
    st.integers(-100, 400).map(str),
    st.sampled_from(
        ["", " ", "abc", "nan", "inf", "-inf", "1e400", "1_0", " 7 ", "١", "+.5", "5.", "1e5"]
    ),
)
STAMP = st.one_of(
    st.integers(0, 40).map(lambda s: f"2025-01-01T00:00:{s:02d}Z"),
    st.integers(0, 40).map(lambda s: f"2025-01-01 05:30:{s:02d}.25+05:30"),
    st.sampled_from(
        [
            "2025-01-01T00:00:00",  # naive
            "yesterday",
            "2025-02-30T00:00:00Z",  # the fast shape, but no such day
            "2025-01-01T00:00:00.1234567Z",  # 7 fraction digits: fromisoformat only
            "2025-01-01T00:00:00+0530",
            "20250101T000000Z",
            "2025-01-01T24:00:00Z",
            "",
        ]
    ),
)
TRACK = st.sampled_from(["T1", "T2", " T3 ", "", "x,y", 'q"t', "é", "A" * 101])


@st.composite
def csv_files(draw: Any) -> str:
    cols = list(COLS)
    if draw(st.booleans()):
        cols.append("pos_sigma_m")
    if draw(st.booleans()):
        cols.append("note")
    cols = draw(st.permutations(cols))
    lines = [",".join(cols)]
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["row"] * 8 + ["blank", "short"]))
        if kind == "blank":
            lines.append("")
            continue
        cells = {
            "track_id": draw(TRACK),
            "timestamp": draw(STAMP),
            "note": draw(st.sampled_from(["", "n", "a b"])),
            **{c: draw(NUMBER) for c in cols if c not in ("track_id", "timestamp", "note")},
        }
        row = [cells[c] for c in cols]
        if kind == "short":
            row = row[: draw(st.integers(1, len(row) - 1))]
        lines.append(",".join(_quote(v) for v in row))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return end.join(lines) + draw(st.sampled_from(["", end]))


def _quote(v: str) -> str:
    return '"' + v.replace('"', '""') + '"' if ("," in v or '"' in v) else v


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
def test_csv_agrees_with_the_per_row_reader(text: str) -> None:
    _same(text)


@st.composite
def jsonl_files(draw: Any) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 15))):
        kind = draw(st.sampled_from(["row"] * 6 + ["blank", "bad", "missing", "strnum"]))
        if kind == "blank":
            lines.append("")
            continue
        if kind == "bad":
            lines.append("{not json")
            continue
        obj: dict[str, Any] = {
            "track_id": draw(st.sampled_from(["A", "B", ""])),
            "lat": draw(st.floats(-100, 100, allow_nan=False)),
            "lon": draw(st.integers(-200, 200)),
            "alt_m": 0,
            "speed_mps": draw(st.floats(-1, 10, allow_nan=False)),
            "heading_deg": draw(st.sampled_from([0, 90.5, 360])),
            "timestamp": draw(STAMP),
        }
        if draw(st.booleans()):
            obj["pos_sigma_m"] = draw(st.sampled_from([1.5, -1, None]))
        if draw(st.booleans()):
            obj["extra"] = 1
        if kind == "missing":
            del obj["heading_deg"]
        if kind == "strnum":
            obj["lat"] = "12.5"
        lines.append(json.dumps(obj))
    return "\n".join(lines) + "\n"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jsonl_files())
def test_jsonl_agrees_with_the_per_row_reader(text: str) -> None:
    _same(text, "jsonl")


# ---- hand-written: each path of the new reader ----

HEADER = ",".join(COLS) + "\n"


def test_clean_file_takes_the_typed_fast_path_with_line_numbers_from_position() -> None:
    got = _same(HEADER + "T1,1,2,3,4,5,2025-01-01T00:00:00Z\nT1,1,2,3,4,5,2025-01-01T00:00:01Z\n")
    assert got.ok and got.samples.line.tolist() == [2, 3]


def test_blank_and_short_lines_keep_the_line_numbers_of_the_rest() -> None:
    text = (
        HEADER
        + "\nT1,1,2,3,4,5,2025-01-01T00:00:00Z\nT1,1,2\n \n\nT1,1,2,3,4,5,2025-01-01T00:00:01Z"
    )
    got = _same(text)
    assert got.samples.line.tolist() == [3, 7]
    assert [(e.line, e.reason) for e in got.errors] == [
        (4, "expected 7 fields, found 3"),
        (5, "expected 7 fields, found 1"),
    ]


def test_quoted_fields_and_a_quoted_newline_report_the_records_last_line() -> None:
    text = (
        HEADER
        + '"a,b",1,2,3,4,5,2025-01-01T00:00:00Z\n"x\ny",1,2,3,4,5,2025-01-01T00:00:00Z\n"q",1,2\n'
    )
    got = _same(text)
    assert got.samples.track_id.tolist() == ["a,b", "x\ny"]
    assert got.samples.line.tolist() == [2, 4]
    assert [(e.line, e.value) for e in got.errors] == [(5, "q,1,2")]


def test_unusual_numbers_go_through_float_exactly_as_before() -> None:
    text = HEADER + "T1, 7 ,1_0,١,4,5,2025-01-01T00:00:00Z\nT1,abc,,nan,4,5,2025-01-01T00:00:01Z\n"
    got = _same(text)
    assert (got.samples.lat.tolist(), got.samples.lon.tolist(), got.samples.alt_m.tolist()) == (
        [7.0],
        [10.0],
        [1.0],
    )
    assert [(e.column, e.reason) for e in got.errors] == [
        ("lat", "not a number"),
        ("lon", "empty value"),
        ("alt_m", "not a finite number"),
    ]


def test_timestamps_outside_the_fast_shape_or_refused_by_the_cast() -> None:
    rows = [
        "2025-01-01T05:30:00+0530",  # fromisoformat: 00:00:00Z
        "2025-01-01T00:00:01.1234567Z",  # truncated to µs by fromisoformat
        "2025-02-30T00:00:00Z",  # the cast refuses it: bisected to the per-value path
        "2025-01-01T00:00:02",
    ] + [f"2025-01-01T00:01:{s:02d}Z" for s in range(40)]  # enough for the bisection to split
    text = HEADER + "".join(f"T1,1,2,3,4,5,{r}\n" for r in rows)
    got = _same(text)
    assert got.samples.t_us[:2].tolist() == [1735689600_000000, 1735689601_123456]
    assert [(e.line, e.reason.split(" ")[0]) for e in got.errors] == [
        (4, "unparsable"),
        (5, "naive"),
    ]


def test_duplicate_keys_name_the_first_line_with_or_without_a_span_key() -> None:
    text = HEADER + (
        "T1,1,2,3,4,5,2025-01-01T00:00:00Z\nT2,1,2,3,4,5,2025-01-01T00:00:00Z\n"
        "T1,1,2,3,4,5,2025-01-01T00:00:00Z\nT1,1,2,3,4,5,0001-01-01T00:00:00Z\n"
        "T1,1,2,3,4,5,9999-12-31T23:59:59Z\nT1,1,2,3,4,5,2025-01-01T00:00:00Z\n"
    )
    got = _same(text)
    assert [e.reason[-14:] for e in got.errors] == ["already on line 2"[-14:]] * 2
    assert [e.line for e in got.errors] == [4, 7]


def test_out_of_range_in_a_typed_read_reports_the_cell_text() -> None:
    got = _same(HEADER + "T1,95.50,2,3,4,5,2025-01-01T00:00:00Z\n")
    assert [(e.column, e.value, e.reason) for e in got.errors] == [
        ("lat", "95.50", "out of range [-90, 90]")
    ]


def test_jsonl_fast_path_and_its_fallbacks() -> None:
    row = {
        "track_id": "A",
        "lat": 1,
        "lon": 2,
        "alt_m": 0,
        "speed_mps": 5,
        "heading_deg": 10,
        "timestamp": "2025-01-01T00:00:00Z",
    }
    fast = _same(
        json.dumps(row)
        + "\n\n"
        + json.dumps({**row, "timestamp": "2025-01-01T00:00:01Z", "x": [1]}),
        "jsonl",
    )
    assert fast.ok and fast.samples.line.tolist() == [1, 3] and fast.ignored_columns == ["x"]
    slow = _same(json.dumps({**row, "lat": "1.5"}) + "\n" + json.dumps({**row, "lat": 95}), "jsonl")
    assert slow.samples.lat.tolist() == [1.5]
    assert [(e.line, e.value) for e in slow.errors] == [(2, "95")]
