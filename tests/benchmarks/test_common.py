"""The helpers in benchmarks/_common that a benchmark's figures rest on: the synthetic track
generators, the number formats of the tables and summary lines, best/median timing and the
temporary PostgreSQL database."""

from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import sqlalchemy as sa

from argus.db.session import make_engine
from tests.conftest import PG_ADMIN_URL, require_pg

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _common import db, report, timing, tracks

CENTRE = (52.0, 4.0)
START = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)


def _by_track(data: tracks.BenchData) -> np.ndarray:
    """Row order grouping each track's rows, in time order inside a track."""
    return np.lexsort((data.samples.t_us, data.track_index))


# --- random_walk_feed -------------------------------------------------------------------------


@pytest.mark.parametrize("n_rows", [1, 7, 1_000, 2_500])
def test_random_walk_shape(n_rows: int) -> None:
    data = tracks.random_walk_feed(n_rows)
    s = data.samples
    assert len(s) == n_rows
    n_tracks = min(tracks.MAX_TRACKS, n_rows)
    assert data.track_names == [f"BENCH-{k:04d}" for k in range(n_tracks)]
    for col in ("track_id", "t_us", "lat", "lon", "alt_m", "speed_mps", "heading_deg", "line"):
        assert getattr(s, col).shape == (n_rows,), col
    assert list(s.line) == list(range(2, n_rows + 2))
    assert (s.track_id == np.array(data.track_names, dtype=object)[data.track_index]).all()
    assert set(data.columns()) == set(tracks.FLOAT_COLUMNS)


def test_random_walk_time_major_and_sorted_per_track() -> None:
    data = tracks.random_walk_feed(5_000)
    t = data.samples.t_us
    assert (np.diff(t) >= 0).all()  # a feed: rows in time order
    for k in range(0, 1_000, 97):
        tk = t[data.track_index == k]
        assert len(tk) == 5 and (np.diff(tk) == 1_000_000).all()  # 1 s per track
    start = tracks.epoch_us(tracks.START)
    assert t.min() >= start and t.max() < start + (600 + 5) * 1_000_000


def test_random_walk_reproducible() -> None:
    a, b = tracks.random_walk_feed(3_000), tracks.random_walk_feed(3_000)
    c = tracks.random_walk_feed(3_000, seed=1)
    for col in ("t_us", *tracks.FLOAT_COLUMNS):
        assert np.array_equal(getattr(a.samples, col), getattr(b.samples, col)), col
    assert np.array_equal(a.track_index, b.track_index)
    assert not np.array_equal(a.samples.lat, c.samples.lat)


def test_random_walk_ranges() -> None:
    s = tracks.random_walk_feed(20_000).samples
    assert (s.heading_deg >= 0).all() and (s.heading_deg < 360).all()
    assert (s.speed_mps >= 0).all() and (s.alt_m >= 0).all()
    assert (np.abs(s.lat) <= 90).all()
    assert (s.lon >= -180).all() and (s.lon < 180).all()
    tracks.check_ranges(s)  # does not raise


def test_random_walk_kinematics() -> None:
    """Each 1 s step moves a track by the previous sample's speed along its heading."""
    data = tracks.random_walk_feed(10_000)  # 1,000 tracks x 10 samples
    o = _by_track(data)
    s = data.samples
    lat, lon = s.lat[o].reshape(1_000, 10), s.lon[o].reshape(1_000, 10)
    v, h = s.speed_mps[o].reshape(1_000, 10), np.radians(s.heading_deg[o].reshape(1_000, 10))
    r = tracks.EARTH_RADIUS_M
    north = np.radians(np.diff(lat, axis=1)) * r
    dlon = np.mod(np.diff(lon, axis=1) + 180.0, 360.0) - 180.0  # across the antimeridian
    east = np.radians(dlon) * r * np.cos(np.radians(lat[:, 1:]))
    np.testing.assert_allclose(north, (v * np.cos(h))[:, :-1], atol=1e-3)
    np.testing.assert_allclose(east, (v * np.sin(h))[:, :-1], atol=1e-3)


def test_wrap_heading_never_360() -> None:
    out = tracks.wrap_heading(np.array([-1e-14, 0.0, 360.0, 725.0, -90.0]))
    assert list(out) == [0.0, 0.0, 0.0, 5.0, 270.0]


def test_check_ranges_rejects() -> None:
    s = tracks.random_walk_feed(10).samples
    s.heading_deg[0] = 360.0
    with pytest.raises(ValueError, match="heading"):
        tracks.check_ranges(s)


def test_epoch_us() -> None:
    assert tracks.epoch_us(dt.datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=dt.UTC)) == 1_000_005


# --- inbound_tracks ---------------------------------------------------------------------------


def _inbound(seed: int = 7, n_tracks: int = 200, n_samples: int = 30) -> object:
    rng = np.random.default_rng(seed)
    return tracks.inbound_tracks(n_tracks, n_samples, rng, CENTRE, START)


def test_inbound_shape_order_and_times() -> None:
    s = _inbound()
    assert len(s) == 200 * 30
    ids = s.track_id.reshape(200, 30)
    assert (ids == ids[:, :1]).all()  # track by track
    assert list(ids[:, 0]) == tracks.track_names(200)
    t = s.t_us.reshape(200, 30)
    start_us = int(START.timestamp()) * 1_000_000
    assert (t == start_us + np.arange(30) * 1_000_000).all()


def test_inbound_reproducible_and_ranges() -> None:
    a, b, c = _inbound(), _inbound(), _inbound(seed=8)
    assert np.array_equal(a.lat, b.lat) and np.array_equal(a.heading_deg, b.heading_deg)
    assert not np.array_equal(a.lat, c.lat)
    assert (a.speed_mps >= 80).all() and (a.speed_mps <= 600).all()
    assert (a.heading_deg >= 0).all() and (a.heading_deg < 360).all()
    assert (a.alt_m >= 50).all() and (a.alt_m <= 12_000).all()


def test_inbound_kinematics() -> None:
    """Constant speed, heading and altitude per track; straight line at that velocity, starting
    60-400 km from the centre; most tracks close on the centre."""
    s = _inbound()
    r = tracks.EARTH_RADIUS_M
    lat, lon = s.lat.reshape(200, 30), s.lon.reshape(200, 30)
    for col in ("speed_mps", "heading_deg", "alt_m"):
        x = getattr(s, col).reshape(200, 30)
        assert (x == x[:, :1]).all(), col
    v, h = s.speed_mps.reshape(200, 30)[:, 0], np.radians(s.heading_deg.reshape(200, 30)[:, 0])
    north = np.radians(lat - CENTRE[0]) * r
    east = np.radians(lon - CENTRE[1]) * r * np.cos(np.radians(lat))
    step_n = np.broadcast_to((v * np.cos(h))[:, None], (200, 29))
    step_e = np.broadcast_to((v * np.sin(h))[:, None], (200, 29))
    np.testing.assert_allclose(np.diff(north, axis=1), step_n, atol=1e-6)
    np.testing.assert_allclose(np.diff(east, axis=1), step_e, atol=1e-6)
    d0 = np.hypot(north[:, 0], east[:, 0])
    assert (d0 >= 60e3 - 1).all() and (d0 <= 400e3 + 1).all()
    closing = np.hypot(north[:, -1], east[:, -1]) < d0
    assert closing.mean() > 0.6


# --- report number formats --------------------------------------------------------------------


def test_report_formats() -> None:
    assert report.kilo(183_243) == "183k"
    assert report.kilo(999) == "1k"
    assert report.times(4.236) == "4.2x"
    assert report.times(4.236, digits=2) == "4.24x"
    assert report.ms(0.0123) == "12.3"
    assert report.ms(0.25) == "250"
    assert report.ms(float("nan")) == "—"
    assert report.ms(float("inf")) == "failed"
    assert report.rate(9.94) == "9.9"
    assert report.rate(183.4) == "183"
    assert report.rate(None) == "—"
    assert report.verdict(True) == "met" and report.verdict(False, "not met") == "not met"


def test_summary_one_line() -> None:
    assert report.summary("tewa", ["a 1", "b 2"]) == "tewa: a 1, b 2"
    assert report.summary("x", ["a", "b"], sep="; ") == "x: a; b"
    with pytest.raises(ValueError):
        report.summary("x", ["a\nb"])


def test_pipe_table() -> None:
    t = report.PipeTable([("name", 6), ("ms", 4)], left=1)
    assert t.header() == "| name   |   ms |\n|--------|------|"
    assert t.row(["ab", "1.5"]) == "| ab     |  1.5 |"
    with pytest.raises(ValueError):
        t.row(["only one"])


# --- timing -----------------------------------------------------------------------------------


def test_best_median_on_fake_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls that take 3, 1, 2, 5 s (a fake clock): best 1, median 2.5."""
    clock = iter([0.0, 3.0, 10.0, 11.0, 20.0, 22.0, 30.0, 35.0])
    monkeypatch.setattr(timing, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    calls = []
    assert timing.best_median(lambda: calls.append(1), 4) == (1.0, 2.5)
    assert len(calls) == 4


def test_best_median_at_least_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 0.5])
    monkeypatch.setattr(timing, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    assert timing.best_median(lambda: None, 0) == (0.5, 0.5)


def test_time_calls_warm(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 2.0, 5.0, 6.0])
    monkeypatch.setattr(timing, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    calls = []
    out = timing.time_calls(lambda: calls.append(1), 2)
    assert list(out) == [2.0, 1.0] and len(calls) == 3  # one untimed warm-up call


def test_stopwatch() -> None:
    with timing.stopwatch() as sw:
        sum(range(10_000))
    assert sw.wall > 0 and sw.cpu >= 0 and math.isfinite(sw.wall)


# --- temporary databases ----------------------------------------------------------------------


def _databases(admin: sa.Engine) -> set[str]:
    with admin.connect() as conn:
        return set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())


def test_database_name_distinct() -> None:
    a, b = db.database_name(), db.database_name("p")
    assert a.startswith("argus_bench_") and len(a) == len("argus_bench_") + 12
    assert b.startswith("p_") and a != db.database_name()


def test_sqlite_database_removed() -> None:
    with db.database("unused", sqlite=True) as url:
        path = Path(sa.make_url(url).database or "")
        assert url.startswith("sqlite:///") and path.parent.is_dir()
        eng = make_engine(url)
        with eng.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        eng.dispose()
    assert not path.parent.exists()


@pytest.mark.pg
def test_pg_database_created_and_dropped() -> None:
    require_pg()
    admin = make_engine(PG_ADMIN_URL)
    try:
        with db.pg_database(PG_ADMIN_URL, prefix="argus_test_bench") as url:
            name = sa.make_url(url).database
            assert name is not None and name.startswith("argus_test_bench_")
            assert name in _databases(admin)
            eng = make_engine(url)
            conn = eng.connect()  # still open at the drop: WITH (FORCE) ends it
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == name
        dbs = _databases(admin)
        assert name not in dbs
        conn.invalidate()
        eng.dispose()
        with (
            pytest.raises(RuntimeError),
            db.pg_database(PG_ADMIN_URL, prefix="argus_test_bench") as inner,
        ):
            inner_name = sa.make_url(inner).database
            assert inner_name in _databases(admin)
            raise RuntimeError("dropped even when the block fails")
        assert inner_name not in _databases(admin)
    finally:
        admin.dispose()
