"""Track state at a time: interpolation, hold, dead reckoning, staleness, search paths."""

from __future__ import annotations

import bisect
import datetime as dt
import math

import numpy as np
import pytest

from argus import geo
from argus.tewa.state import (
    TrackSampleSet,
    TrackStatus,
    to_epoch_us,
    track_states_at,
)

T0 = to_epoch_us(dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC))
S = 1_000_000  # µs per second
A = geo.WGS84_A


def eastbound() -> TrackSampleSet:
    """Track 0: due east along the equator at 100 m/s, samples at 0, 10, 20 s (1 km apart,
    placed by dead reckoning), climbing 100 m and accelerating 10 m/s per sample, heading
    swinging 350° → 10° → 30° (recorded headings; positions follow the equator).
    Track 1: starts at 100 s. Track 2: no samples."""
    lons = [float(geo.dead_reckon(0.0, 0.0, 100.0, 90.0, t)[1]) for t in (0.0, 10.0, 20.0)]
    return TrackSampleSet(
        track_index=[0, 0, 0, 1],
        t_us=np.array([T0, T0 + 10 * S, T0 + 20 * S, T0 + 100 * S], dtype=np.int64),
        lat_deg=[0.0, 0.0, 0.0, 10.0],
        lon_deg=[*lons, 20.0],
        alt_m=[0.0, 100.0, 200.0, 5.0],
        speed_mps=[100.0, 110.0, 120.0, 50.0],
        heading_deg=[350.0, 10.0, 30.0, 90.0],
        n_tracks=3,
    )


def east_m(lon_deg: float) -> float:
    """Distance east of (0, 0) along the equator's tangent line for a point on the equator."""
    return A * math.tan(math.radians(lon_deg))


def test_epoch_microseconds() -> None:
    assert to_epoch_us(dt.datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=dt.UTC)) == 1_000_005
    assert T0 == 1_795_521_600 * S
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert to_epoch_us(dt.datetime(2026, 11, 24, 17, 30, tzinfo=ist)) == T0
    with pytest.raises(ValueError, match="timezone-aware"):
        to_epoch_us(dt.datetime(2026, 11, 24, 12, 0))


def test_linear_interpolation_between_samples() -> None:
    st = eastbound().state_at(T0 + 15 * S)
    assert st.status.tolist() == [TrackStatus.OK, TrackStatus.NOT_STARTED, TrackStatus.NO_SAMPLES]
    assert st.lat_deg[0] == pytest.approx(0.0, abs=1e-12)
    # Halfway along the 1000→2000 m chord: the chord point at 1500 m, back on the ellipsoid.
    assert east_m(st.lon_deg[0]) == pytest.approx(1500.0, abs=1e-3)
    assert st.alt_m[0] == pytest.approx(150.0)
    assert st.speed_mps[0] == pytest.approx(115.0)
    assert st.heading_deg[0] == pytest.approx(20.0)
    assert st.age_s[0] == pytest.approx(5.0)
    assert st.valid.tolist() == [True, False, False]
    assert np.isnan(st.lat_deg[1:]).all() and np.isnan(st.age_s[1:]).all()


def test_heading_interpolates_through_north() -> None:
    st = eastbound().state_at(T0 + 5 * S)  # 350° → 10°, halfway
    assert st.heading_deg[0] == pytest.approx(0.0, abs=1e-9)
    st = eastbound().state_at(T0 + 2_500_000)  # a quarter: 355°
    assert st.heading_deg[0] == pytest.approx(355.0)


def test_exactly_on_a_sample_returns_it_verbatim() -> None:
    s = eastbound()
    for k, t in enumerate((0, 10, 20)):
        st = s.state_at(T0 + t * S)
        assert st.status[0] == TrackStatus.OK
        assert st.lon_deg[0] == s.lon_deg[k]
        assert st.alt_m[0] == s.alt_m[k]
        assert st.age_s[0] == 0.0


def test_latest_holds_the_last_sample() -> None:
    s = eastbound()
    st = s.state_at(T0 + 19 * S, method="latest")
    assert st.status[0] == TrackStatus.OK
    assert st.lon_deg[0] == s.lon_deg[1]
    assert (st.alt_m[0], st.speed_mps[0], st.heading_deg[0]) == (100.0, 110.0, 10.0)
    assert st.age_s[0] == pytest.approx(9.0)


@pytest.mark.parametrize("method", ["linear", "latest"])
def test_dead_reckoning_after_the_last_sample(method: str) -> None:
    s = eastbound()
    # Last sample: 2000 m east, heading 30°, 120 m/s. 15 s later: 1800 m along 30°.
    st = s.state_at(T0 + 35 * S, method=method)  # type: ignore[arg-type]
    assert st.status[0] == TrackStatus.EXTRAPOLATED
    assert st.age_s[0] == pytest.approx(15.0)
    e, n, _ = geo.enu_offsets(st.lat_deg[0], st.lon_deg[0], 0.0, s.lon_deg[2])
    assert float(e) == pytest.approx(1800 * math.sin(math.radians(30)), abs=0.01)
    assert float(n) == pytest.approx(1800 * math.cos(math.radians(30)), abs=0.01)
    assert (st.alt_m[0], st.speed_mps[0], st.heading_deg[0]) == (200.0, 120.0, 30.0)


def test_stale_after_max_extrapolation() -> None:
    s = eastbound()
    st = s.state_at(T0 + 51 * S)  # 31 s after the last sample
    assert st.status[0] == TrackStatus.STALE
    assert np.isnan([st.lat_deg[0], st.lon_deg[0], st.speed_mps[0]]).all()
    assert st.age_s[0] == pytest.approx(31.0)
    assert not st.valid[0]
    assert s.state_at(T0 + 50 * S).status[0] == TrackStatus.EXTRAPOLATED  # exactly 30 s: still fine
    assert s.state_at(T0 + 51 * S, max_extrapolation_s=60).status[0] == TrackStatus.EXTRAPOLATED
    assert s.state_at(T0 + 20 * S + 1, max_extrapolation_s=0).status[0] == TrackStatus.STALE


def test_before_the_first_sample_the_track_does_not_exist() -> None:
    st = eastbound().state_at(T0 - 1)
    assert st.status.tolist() == [
        TrackStatus.NOT_STARTED,
        TrackStatus.NOT_STARTED,
        TrackStatus.NO_SAMPLES,
    ]
    st = eastbound().state_at(T0 + 110 * S)
    assert st.status[1] == TrackStatus.EXTRAPOLATED
    assert st.lat_deg[1] == pytest.approx(10.0, abs=1e-6)  # heading east along the parallel


def test_unsorted_input_gives_the_same_states() -> None:
    s = eastbound()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(s))
    shuffled = TrackSampleSet(
        s.track_index[order],
        s.t_us[order],
        s.lat_deg[order],
        s.lon_deg[order],
        s.alt_m[order],
        s.speed_mps[order],
        s.heading_deg[order],
        n_tracks=3,
    )
    for t in (-5, 0, 7, 15, 20, 33, 60, 105):
        a, b = s.state_at(T0 + t * S), shuffled.state_at(T0 + t * S)
        np.testing.assert_array_equal(a.status, b.status)
        np.testing.assert_array_equal(a.lon_deg, b.lon_deg)


def test_duplicate_timestamps_keep_the_later_row() -> None:
    s = TrackSampleSet(
        [0, 0], np.array([T0, T0]), [0.0, 1.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]
    )
    assert s.state_at(T0).lat_deg[0] == 1.0


def test_interpolation_across_the_antimeridian_and_the_pole() -> None:
    s = TrackSampleSet(
        [0, 0, 1, 1],
        np.array([T0, T0 + 10 * S, T0, T0 + 10 * S]),
        [0.0, 0.0, 89.99, 89.99],
        [179.99, -179.99, 0.0, 180.0],
        [0.0] * 4,
        [222.6, 222.6, 222.6, 222.6],
        [90.0, 90.0, 0.0, 180.0],
    )
    st = s.state_at(T0 + 5 * S)
    assert abs(st.lon_deg[0]) == pytest.approx(180.0, abs=1e-9)  # not 0°: the short way
    assert st.lat_deg[1] == pytest.approx(90.0, abs=1e-6)  # straight over the pole
    assert st.heading_deg[0] == 90.0


def _naive_state(
    s: TrackSampleSet, track: int, when: int, max_extra_s: float
) -> tuple[int, float, float, float]:
    """Per-track reference with bisect: (status, lat, lon, speed)."""
    idx = np.flatnonzero(s.track_index == track)
    if idx.size == 0:
        return TrackStatus.NO_SAMPLES, math.nan, math.nan, math.nan
    times = s.t_us[idx].tolist()
    k = bisect.bisect_right(times, when) - 1
    if k < 0:
        return TrackStatus.NOT_STARTED, math.nan, math.nan, math.nan
    i = int(idx[k])
    if k == len(times) - 1:
        dt_s = (when - times[k]) / 1e6
        if dt_s > max_extra_s:
            return TrackStatus.STALE, math.nan, math.nan, math.nan
        if dt_s == 0:
            return TrackStatus.OK, s.lat_deg[i], s.lon_deg[i], s.speed_mps[i]
        la, lo = geo.dead_reckon(s.lat_deg[i], s.lon_deg[i], s.speed_mps[i], s.heading_deg[i], dt_s)
        return TrackStatus.EXTRAPOLATED, float(la), float(lo), s.speed_mps[i]
    j = int(idx[k + 1])
    f = (when - times[k]) / (times[k + 1] - times[k])
    e, n, u = geo.enu_offsets(s.lat_deg[j], s.lon_deg[j], s.lat_deg[i], s.lon_deg[i])
    la, lo, _ = geo.enu_to_geodetic(f * e, f * n, f * u, s.lat_deg[i], s.lon_deg[i])
    return (
        TrackStatus.OK,
        float(la),
        float(lo),
        s.speed_mps[i] + f * (s.speed_mps[j] - s.speed_mps[i]),
    )


@pytest.mark.parametrize("fallback", [False, True])
def test_vectorized_matches_a_per_track_loop(fallback: bool) -> None:
    rng = np.random.default_rng(42)
    n_tracks, n = 60, 900
    tr = rng.integers(0, n_tracks - 3, n)  # the last three tracks have no samples
    t = T0 + rng.integers(0, 600, n) * S + rng.integers(0, S, n)
    lat = rng.uniform(-80, 80, n)
    lon = rng.uniform(-180, 180, n)
    s = TrackSampleSet(
        tr,
        t,
        lat,
        lon,
        rng.uniform(0, 1e4, n),
        rng.uniform(0, 300, n),
        rng.uniform(0, 360, n),
        n_tracks=n_tracks,
    )
    for when in (T0 - S, T0 + 37 * S + 123, T0 + 300 * S, T0 + 610 * S, T0 + 700 * S):
        st = s.state_at(when, max_extrapolation_s=45.0, _force_fallback=fallback)
        for k in range(n_tracks):
            status, la, lo, sp = _naive_state(s, k, when, 45.0)
            assert st.status[k] == status
            if not math.isnan(la):
                assert st.lat_deg[k] == pytest.approx(la, abs=1e-9)
                assert geo.wrap_deg_180(st.lon_deg[k] - lo) == pytest.approx(0.0, abs=1e-9)
                assert st.speed_mps[k] == pytest.approx(sp, rel=1e-12)


def test_one_shot_helper_accepts_datetimes() -> None:
    st = track_states_at(
        [0, 0],
        np.array([T0, T0 + 10 * S]),
        [0.0, 1.0],
        [0.0, 0.0],
        [0.0, 0.0],
        [5.0, 5.0],
        [0.0, 0.0],
        dt.datetime(2026, 11, 24, 12, 0, 5, tzinfo=dt.UTC),
    )
    assert st.when_us == T0 + 5 * S
    assert st.lat_deg[0] == pytest.approx(0.5, abs=1e-6)
    assert len(st) == 1


def test_validation_names_field_and_row() -> None:
    good = dict(
        t_us=np.array([T0, T0]),
        lat_deg=[0.0, 0.0],
        lon_deg=[0.0, 0.0],
        alt_m=[0.0, 0.0],
        speed_mps=[0.0, 0.0],
        heading_deg=[0.0, 0.0],
    )
    with pytest.raises(ValueError, match="lat_deg row 1 is not finite"):
        TrackSampleSet([0, 0], **{**good, "lat_deg": [0.0, np.nan]})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lat_deg row 0 is 91\.0, outside"):
        TrackSampleSet([0, 0], **{**good, "lat_deg": [91.0, 0.0]})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="t_us must hold integers"):
        TrackSampleSet([0, 0], **{**good, "t_us": [1.5, 2.5]})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="track_index row 1 is 5, outside \\[0, 2\\)"):
        TrackSampleSet([0, 5], **good, n_tracks=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="speed_mps must be a 1-D array of 2 values"):
        TrackSampleSet([0, 0], **{**good, "speed_mps": [1.0]})  # type: ignore[arg-type]
    s = TrackSampleSet([0, 0], **good)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method must be 'linear' or 'latest'"):
        s.state_at(T0, method="cubic")  # type: ignore[arg-type]


def test_empty_sample_set() -> None:
    s = TrackSampleSet(
        np.array([], dtype=int), np.array([], dtype=np.int64), [], [], [], [], [], n_tracks=2
    )
    st = s.state_at(T0)
    assert st.status.tolist() == [TrackStatus.NO_SAMPLES, TrackStatus.NO_SAMPLES]
