"""Parsing and validation of track files: every bad row reported with line, column and reason."""

from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus.tewa.ingest import (
    TrackFileError,
    TrackSamples,
    datetime_to_us,
    parse_track_text,
    write_csv,
)

HEADER = "track_id,lat,lon,alt_m,speed_mps,heading_deg,timestamp\n"


def _errors(text: str, fmt: str = "csv") -> list[tuple[int, str, str]]:
    res = parse_track_text(text, fmt)  # type: ignore[arg-type]
    return [(e.line, e.column, e.reason) for e in res.errors]


def test_good_file_parses_to_arrays() -> None:
    res = parse_track_text(
        HEADER + "T1,26.9,69.91,6000,250,90,2025-06-01T06:00:00Z\n"
        "T1,26.9,69.935,6000,250,90,2025-06-01T11:30:10+05:30\n",
        "csv",
    )
    assert res.ok and res.rows_read == 2
    s = res.samples
    assert s.track_id.tolist() == ["T1", "T1"]
    assert s.t_us.tolist() == [1748757600_000000, 1748757610_000000]  # 06:00:00Z and 06:00:10Z
    assert s.lon.tolist() == [69.91, 69.935]
    assert s.line.tolist() == [2, 3]


def test_every_bad_row_is_listed_with_line_column_and_reason() -> None:
    text = (
        HEADER
        + "\n".join(
            [
                "T1,26.9,69.91,6000,250,90,2025-06-01T06:00:00Z",  # 2 ok
                "T1,abc,69.91,6000,250,90,2025-06-01T06:00:01Z",  # 3 non-numeric lat
                "T1,95,69.91,6000,250,90,2025-06-01T06:00:02Z",  # 4 lat out of range
                "T1,26.9,69.91,6000,-1,360,2025-06-01T06:00:03Z",  # 5 speed and heading out of range
                "T1,26.9,69.91,6000,250,90,2025-06-01T06:00:04",  # 6 naive timestamp
                "T1,26.9,69.91,6000,250,90,yesterday",  # 7 unparsable timestamp
                "T1,26.9,69.91,6000,250,90,2025-06-01T06:00:00Z",  # 8 duplicate of line 2
                "T1,26.9,69.91,,250,90,2025-06-01T06:00:05Z",  # 9 empty alt
                "T1,26.9,nan,0,250,90,2025-06-01T06:00:06Z",  # 10 not finite
                "T1,26.9,69.91,0,250",  # 11 wrong field count
                ",26.9,69.91,0,250,90,2025-06-01T06:00:07Z",  # 12 empty track id
            ]
        )
        + "\n"
    )
    errs = _errors(text)
    assert [(line, col) for line, col, _ in errs] == [
        (3, "lat"),
        (4, "lat"),
        (5, "speed_mps"),
        (5, "heading_deg"),
        (6, "timestamp"),
        (7, "timestamp"),
        (8, "timestamp"),
        (9, "alt_m"),
        (10, "lon"),
        (11, "*"),
        (12, "track_id"),
    ]
    reasons = dict(((line, col), reason) for line, col, reason in errs)
    assert reasons[(3, "lat")] == "not a number"
    assert reasons[(4, "lat")] == "out of range [-90, 90]"
    assert reasons[(5, "heading_deg")] == "out of range [0, 360)"
    assert reasons[(5, "speed_mps")].startswith("out of range [0,")
    assert reasons[(6, "timestamp")].startswith("naive timestamp")
    assert reasons[(7, "timestamp")].startswith("unparsable timestamp")
    assert "already on line 2" in reasons[(8, "timestamp")]
    assert reasons[(9, "alt_m")] == "empty value"
    assert reasons[(10, "lon")] == "not a finite number"
    assert reasons[(11, "*")] == "expected 7 fields, found 5"
    res = parse_track_text(text, "csv")
    assert res.rows_read == 11
    assert res.samples.line.tolist() == [2]  # only the good row survives
    assert res.bad_lines == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]


def test_missing_column_rejects_the_file() -> None:
    with pytest.raises(TrackFileError, match=r"missing column.*heading_deg") as ei:
        parse_track_text(
            "track_id,lat,lon,alt_m,speed_mps,timestamp\nT1,1,2,3,4,2025-01-01T00:00:00Z\n", "csv"
        )
    assert [(e.line, e.column) for e in ei.value.errors] == [(1, "heading_deg")]


def test_empty_file() -> None:
    with pytest.raises(TrackFileError, match="empty"):
        parse_track_text("", "csv")


def test_columns_in_any_order_and_extra_columns_ignored() -> None:
    text = "timestamp,heading_deg,note,track_id,lat,lon,alt_m,speed_mps\n2025-01-01T00:00:00Z,45,hi,X,1,2,3,4\n"
    res = parse_track_text(text, "csv")
    assert res.ok and res.ignored_columns == ["note"]
    assert (res.samples.track_id[0], res.samples.heading_deg[0], res.samples.speed_mps[0]) == (
        "X",
        45.0,
        4.0,
    )


def test_jsonl_reports_line_numbers_and_bad_json() -> None:
    lines = [
        json.dumps(
            {
                "track_id": "A",
                "lat": 1,
                "lon": 2,
                "alt_m": 0,
                "speed_mps": 5,
                "heading_deg": 10,
                "timestamp": "2025-01-01T00:00:00Z",
            }
        ),
        "{not json",
        json.dumps(
            {
                "track_id": "A",
                "lat": 1,
                "lon": 2,
                "alt_m": 0,
                "speed_mps": 5,
                "timestamp": "2025-01-01T00:00:01Z",
            }
        ),
        "",
        json.dumps(
            {
                "track_id": "A",
                "lat": "x",
                "lon": 2,
                "alt_m": 0,
                "speed_mps": 5,
                "heading_deg": 10,
                "timestamp": "2025-01-01T00:00:02Z",
            }
        ),
    ]
    errs = _errors("\n".join(lines), "jsonl")
    assert [(line, col) for line, col, _ in errs] == [(2, "*"), (3, "heading_deg"), (5, "lat")]
    assert errs[0][2].startswith("invalid JSON")


SAMPLES = st.lists(
    st.tuples(
        st.sampled_from(["T1", "T2", "a b", "x,y", 'q"t']),
        st.integers(min_value=0, max_value=10**6),
        st.floats(-90, 90),
        st.floats(-180, 180),
        st.floats(-500, 30000),
        st.floats(0, 3000),
        st.floats(0, 360, exclude_max=True),
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda r: (r[0], r[1]),
)


@settings(max_examples=60, deadline=None)
@given(SAMPLES)
def test_write_then_parse_round_trips_exactly(rows: list[tuple]) -> None:
    t0 = datetime_to_us(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    cols = list(zip(*rows, strict=True))
    s = TrackSamples(
        track_id=np.array(cols[0], dtype=object),
        t_us=t0 + np.array(cols[1], dtype=np.int64) * 1000,
        lat=np.array(cols[2]),
        lon=np.array(cols[3]),
        alt_m=np.array(cols[4]),
        speed_mps=np.array(cols[5]),
        heading_deg=np.array(cols[6]),
        line=np.arange(2, len(rows) + 2),
    )
    buf = io.StringIO()
    write_csv(s, buf)
    res = parse_track_text(buf.getvalue(), "csv")
    assert res.ok, res.errors[:3]
    for name in ("t_us", "lat", "lon", "alt_m", "speed_mps", "heading_deg", "line"):
        np.testing.assert_array_equal(getattr(res.samples, name), getattr(s, name), err_msg=name)
    assert res.samples.track_id.tolist() == s.track_id.tolist()
