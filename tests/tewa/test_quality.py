"""Track-quality factor: hand-computed values, range and monotonicity, the tracker helper."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus.tewa import quality
from argus.tewa.quality import quality_from_history, quality_from_track
from argus.tracking.management import TrackStatus
from argus.tracking.simulate import position_scans, simulate_cv_scenario
from argus.tracking.tracker import TrackEstimates, TrackHistory, make_cv_tracker

INF = math.inf


def test_hand_computed_values() -> None:
    # q = age/(age + 10) · 1/(1 + sigma/500) with the defaults.
    assert quality_from_track(10.0, 500.0) == pytest.approx(0.5 * 0.5)
    assert quality_from_track(30.0, 1500.0) == pytest.approx(0.75 * 0.25)
    assert quality_from_track(60.0, 100.0) == pytest.approx(60 / 70 / 1.2)
    assert quality_from_track(0.0, 0.0) == 0.0  # just born
    assert quality_from_track(INF, 0.0) == 1.0  # old and exact
    assert quality_from_track(INF, INF) == 0.0  # position unknown
    # The trace of the position covariance: sigma = sqrt(trace) = sqrt(300² + 400²) = 500 m.
    assert quality_from_track(10.0, pos_cov_trace_m2=300.0**2 + 400.0**2) == pytest.approx(0.25)
    # One factor only; the other is 1.
    np.testing.assert_allclose(quality_from_track([0.0, 10.0, 30.0, INF]), [0.0, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(
        quality_from_track(pos_sigma_m=[0.0, 500.0, 4500.0, INF]), [1.0, 0.5, 0.1, 0.0]
    )
    # Parameters and floor: q = floor + (1 - floor) · q_age · q_pos.
    assert quality_from_track(
        20.0, 200.0, age_half_s=20.0, sigma_half_m=200.0, floor=0.2
    ) == pytest.approx(0.2 + 0.8 * 0.25)
    # Broadcasting: (N,) ages against one sigma.
    q = quality_from_track(np.array([10.0, 90.0]), 500.0)
    assert q.shape == (2,) and q.tolist() == pytest.approx([0.25, 0.45])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"age_s": -1.0}, "age_s"),
        ({"age_s": [1.0, math.nan]}, "age_s"),
        ({"pos_sigma_m": -5.0}, "pos_sigma_m"),
        ({"pos_cov_trace_m2": math.nan}, "pos_cov_trace_m2"),
        ({"pos_sigma_m": 1.0, "pos_cov_trace_m2": 1.0}, "not both"),
        ({"age_s": 1.0, "age_half_s": 0.0}, "age_half_s"),
        ({"age_s": 1.0, "sigma_half_m": INF}, "sigma_half_m"),
        ({"age_s": 1.0, "floor": 1.5}, "floor"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        quality_from_track(**kwargs)  # type: ignore[arg-type]


def _reference(age: float, sigma: float, age_half: float, sigma_half: float, floor: float) -> float:
    q_age = 1.0 if math.isinf(age) else age / (age + age_half)
    q_pos = 0.0 if math.isinf(sigma) else 1.0 / (1.0 + sigma / sigma_half)
    return floor + (1.0 - floor) * q_age * q_pos


nonneg = st.one_of(
    st.floats(min_value=0.0, max_value=1e7, allow_nan=False), st.just(INF), st.just(0.0)
)
half = st.floats(min_value=1e-3, max_value=1e5, allow_nan=False)
floors = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(a1=nonneg, a2=nonneg, s1=nonneg, s2=nonneg, age_half=half, sigma_half=half, floor=floors)
def test_range_monotonicity_and_reference(
    a1: float, a2: float, s1: float, s2: float, age_half: float, sigma_half: float, floor: float
) -> None:
    lo_a, hi_a = sorted((a1, a2))
    lo_s, hi_s = sorted((s1, s2))
    kw = {"age_half_s": age_half, "sigma_half_m": sigma_half, "floor": floor}
    q = quality_from_track(
        np.array([lo_a, hi_a, lo_a, lo_a]), np.array([lo_s, lo_s, lo_s, hi_s]), **kw
    )
    assert np.all((q >= floor - 1e-12) & (q <= 1.0))
    assert q[1] >= q[0]  # older → higher
    assert q[2] >= q[3]  # tighter → higher
    for k, (a, s) in enumerate(((lo_a, lo_s), (hi_a, lo_s), (lo_a, lo_s), (lo_a, hi_s))):
        assert q[k] == pytest.approx(_reference(a, s, age_half, sigma_half, floor), abs=1e-12)


def test_confirmed_constant_matches_the_tracker() -> None:
    assert int(TrackStatus.CONFIRMED) == quality.CONFIRMED


def _est(
    time: float, ids: list[int], status: list[int], pos_var: list[list[float]]
) -> TrackEstimates:
    k = len(ids)
    covar = np.zeros((k, 6, 6))
    for i, v in enumerate(pos_var):
        covar[i, :3, :3] = np.diag(v)
        covar[i, 3:, 3:] = np.eye(3) * 1e6  # velocity block: must not count
    return TrackEstimates(
        time,
        np.array(ids, dtype=np.int64),
        np.array(status, dtype=np.int8),
        np.zeros((k, 6)),
        covar,
    )


def test_quality_from_history_hand_built() -> None:
    c, t = int(TrackStatus.CONFIRMED), int(TrackStatus.TENTATIVE)
    hist = TrackHistory.from_estimates(
        [
            _est(0.0, [1], [c], [[1e4, 1e4, 0.0]]),
            _est(5.0, [1, 2], [c, t], [[1e4, 1e4, 0.0], [9e4, 0.0, 0.0]]),
            _est(20.0, [2, 1, 3], [t, c, c], [[9e4, 0, 0], [3e4, 4e4, 0.0], [250_000.0, 0.0, 0.0]]),
        ],
        6,
    )
    hq = quality_from_history(hist)
    assert hq.time == 20.0
    assert hq.track_id.tolist() == [1, 3]  # confirmed at the last scan, sorted; 2 is tentative
    assert hq.age_s.tolist() == [20.0, 0.0]
    assert hq.pos_sigma_m.tolist() == pytest.approx([math.sqrt(7e4), 500.0])
    # track 1: 20/30 · 1/(1 + 264.575/500); track 3: just appeared → 0.
    assert hq.quality.tolist() == pytest.approx([(2 / 3) / (1 + math.sqrt(7e4) / 500), 0.0])
    assert hq.as_dict() == {1: pytest.approx(hq.quality[0]), 3: 0.0}
    # At an earlier time: the last scan at or before it.
    early = quality_from_history(hist, at_time=12.0)
    assert (early.time, early.track_id.tolist(), early.age_s.tolist()) == (5.0, [1], [5.0])
    assert early.quality[0] == pytest.approx((5 / 15) / (1 + math.sqrt(2e4) / 500))
    assert len(quality_from_history(hist, at_time=-1.0).track_id) == 0
    assert len(quality_from_history(TrackHistory.from_estimates([], 6)).track_id) == 0
    # Parameters pass through: floor 1 makes every confirmed track's quality 1.
    assert quality_from_history(hist, floor=1.0).quality.tolist() == [1.0, 1.0]


def test_quality_from_a_real_tracker_run() -> None:
    sim = simulate_cv_scenario(n_initial=8, n_steps=12, ndim=3, clutter_rate=2.0, seed=3)
    tracker = make_cv_tracker(3, 1.0)
    estimates = tracker.run(position_scans(sim))
    hist = TrackHistory.from_estimates(estimates, 6)
    hq = quality_from_history(hist)
    last = estimates[-1]
    confirmed = np.sort(last.track_id[last.status == TrackStatus.CONFIRMED])
    assert len(confirmed) >= 5 and hq.track_id.tolist() == confirmed.tolist()
    first_seen = {int(i): float(hist.time[hist.track_id == i].min()) for i in confirmed}
    assert hq.age_s.tolist() == [last.time - first_seen[int(i)] for i in confirmed]
    assert np.all((hq.quality > 0) & (hq.quality < 1))
    # Settled tracks (20 m measurement noise): sigma well under 100 m.
    assert np.all(hq.pos_sigma_m < 100.0)
