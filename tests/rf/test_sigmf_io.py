"""SigMF round trips and the rejection of bad files, field named."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus.rf.recording import Recording, RecordingError, split_time_s
from argus.rf.sigmf_io import format_datetime, parse_datetime, read_sigmf, write_sigmf


def _recording(**kw: object) -> Recording:
    rng = np.random.default_rng(1)
    iq = (rng.standard_normal(4096) + 1j * rng.standard_normal(4096)).astype(np.complex64)
    base: dict[str, object] = {
        "iq": iq,
        "sample_rate_hz": 2e6,
        "center_frequency_hz": 145.5e6,
        "start": dt.datetime(2026, 12, 7, 15, 0, 0, 123456, tzinfo=dt.UTC),
        "start_ns_frac": 789.125,
        "lat_deg": 45.07,
        "lon_deg": 7.69,
        "alt_m": 240.5,
        "receiver": "rx-turin",
        "annotations": ({"core:sample_start": 100, "core:sample_count": 50, "core:label": "b"},),
        "meta": {"argus:full_scale_dbm": -60.0},
    }
    base.update(kw)
    return Recording(**base)  # type: ignore[arg-type]


def test_round_trip_is_bit_exact(tmp_path: Path) -> None:
    rec = _recording()
    meta, data = write_sigmf(tmp_path / "cap", rec)
    assert data.stat().st_size == rec.iq.size * 8
    back = read_sigmf(meta)
    assert back.iq.dtype == np.complex64
    assert back.iq.tobytes() == rec.iq.tobytes()
    for name in (
        "sample_rate_hz",
        "center_frequency_hz",
        "start",
        "start_ns_frac",
        "lat_deg",
        "lon_deg",
        "alt_m",
        "receiver",
        "annotations",
        "meta",
    ):
        assert getattr(back, name) == getattr(rec, name), name


def test_written_fields_follow_the_spec(tmp_path: Path) -> None:
    meta, _ = write_sigmf(tmp_path / "cap.sigmf-meta", _recording())
    doc = json.loads(meta.read_text())
    g, cap = doc["global"], doc["captures"][0]
    assert g["core:datatype"] == "cf32_le"
    assert g["core:sample_rate"] == 2e6
    assert g["core:version"].startswith("1.")
    assert len(g["core:sha512"]) == 128
    assert cap["core:sample_start"] == 0
    assert cap["core:frequency"] == 145.5e6
    assert cap["core:datetime"] == "2026-12-07T15:00:00.123456789125Z"
    assert cap["core:geolocation"] == {"type": "Point", "coordinates": [7.69, 45.07, 240.5]}
    assert doc["annotations"][0]["core:label"] == "b"


def test_whole_nanoseconds_are_written_with_nine_digits() -> None:
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert format_datetime(t, 5.0) == "2026-01-01T00:00:00.000000005Z"
    assert parse_datetime("2026-01-01T00:00:00.5Z") == (t + dt.timedelta(microseconds=500000), 0)


@settings(max_examples=200, deadline=None)
@given(
    us=st.integers(0, 10**12),
    ps=st.integers(0, 999_999),
)
def test_datetime_round_trip_to_the_picosecond(us: int, ps: int) -> None:
    t = dt.datetime(2000, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
    back, ns = parse_datetime(format_datetime(t, ps / 1000))
    assert back == t
    assert round(ns * 1000) == ps


def test_split_time_inverts_seconds_since() -> None:
    epoch = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    start, ns = split_time_s(epoch, 123.456789012345)
    rec = _recording(start=start, start_ns_frac=ns)
    assert rec.seconds_since(epoch) == pytest.approx(123.456789012345, abs=1e-12)


def test_corrupt_data_fails_the_sha512(tmp_path: Path) -> None:
    meta, data = write_sigmf(tmp_path / "cap", _recording())
    raw = bytearray(data.read_bytes())
    raw[10] ^= 0x01
    data.write_bytes(bytes(raw))
    with pytest.raises(RecordingError, match=r"cap\.sigmf-meta: global core:sha512"):
        read_sigmf(meta)


def _edit(meta: Path, fn: object) -> None:
    doc = json.loads(meta.read_text())
    fn(doc)  # type: ignore[operator]
    meta.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["captures"][0].pop("core:datetime"),
            "captures\\[0\\] core:datetime is missing",
        ),
        (lambda d: d["captures"][0].update({"core:datetime": "yesterday"}), "core:datetime"),
        (lambda d: d["global"].pop("core:sample_rate"), "global core:sample_rate is missing"),
        (lambda d: d["global"].update({"core:datatype": "ci16_le"}), "core:datatype"),
        (lambda d: d["global"].pop("core:sha512"), "global core:sha512 is missing"),
        (
            lambda d: (
                d["captures"][0].pop("core:geolocation"),
                d["global"].pop("core:geolocation"),
            ),
            "core:geolocation",
        ),
        (
            lambda d: d["captures"][0].update(
                {"core:geolocation": {"type": "Point", "coordinates": [1]}}
            ),
            "GeoJSON Point",
        ),
        (lambda d: d["captures"][0].pop("core:frequency"), "core:frequency is missing"),
    ],
)
def test_bad_metadata_names_the_field(tmp_path: Path, edit: object, message: str) -> None:
    meta, _ = write_sigmf(tmp_path / "cap", _recording())
    _edit(meta, edit)
    with pytest.raises(RecordingError, match=message):
        read_sigmf(meta)


def test_global_geolocation_is_the_fallback(tmp_path: Path) -> None:
    meta, _ = write_sigmf(tmp_path / "cap", _recording())
    _edit(meta, lambda d: d["captures"][0].pop("core:geolocation"))
    assert read_sigmf(meta).lat_deg == 45.07


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such metadata file"):
        read_sigmf(tmp_path / "nothing.sigmf-meta")
    meta, data = write_sigmf(tmp_path / "cap", _recording())
    data.unlink()
    with pytest.raises(RecordingError, match=r"cap\.sigmf-data is missing"):
        read_sigmf(meta)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"start": dt.datetime(2026, 1, 1)}, "start"),
        ({"start_ns_frac": 1000.0}, "start_ns_frac"),
        ({"lat_deg": 91.0}, "lat_deg"),
        ({"sample_rate_hz": -1.0}, "sample_rate_hz"),
        ({"iq": np.zeros(10, np.complex128)}, "iq"),
    ],
)
def test_bad_recording_fields_are_named(kw: dict[str, object], field: str) -> None:
    with pytest.raises(RecordingError, match=field):
        _recording(**kw)
