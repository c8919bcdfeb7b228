"""Localization of simulated emitters against the truth and the Cramér–Rao bound."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from argus.geo import enu_offsets, enu_to_geodetic
from argus.rf.locate import (
    LocalizationError,
    error_ellipse,
    localize,
    region_threshold,
    tdoa_position_crlb_m,
)
from argus.rf.recording import SPEED_OF_LIGHT_MPS
from argus.rf.simulate import (
    Emitter,
    PathLoss,
    random_emitter_position,
    random_network,
    simulate_acquisition,
)

START = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
LAT0, LON0 = 45.0, 7.6
NETWORK = random_network(5, center_lat_deg=LAT0, center_lon_deg=LON0, radius_m=25e3, seed=1)


def _run(
    kind: str, snr_db: float, seed: int, shadowing_db: float = 4.0, half_width_m: float = 15e3
):  # type: ignore[no-untyped-def]
    lat, lon = random_emitter_position(
        center_lat_deg=LAT0, center_lon_deg=LON0, half_width_m=half_width_m, seed=seed
    )
    recs, truth = simulate_acquisition(
        Emitter(lat, lon, alt_m=10.0, kind=kind),
        NETWORK,
        sample_rate_hz=2e6,  # type: ignore[arg-type]
        center_frequency_hz=145e6,
        duration_s=0.005,
        start=START,
        seed=1000 + seed,
        snr_db=snr_db,
        path_loss=PathLoss(shadowing_db=shadowing_db),
    )
    return recs, truth, lat, lon


def _error(loc, lat: float, lon: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    e, n, _ = enu_offsets(loc.lat_deg, loc.lon_deg, lat, lon)
    return np.array([float(e), float(n)])


def test_error_ellipse_closed_forms() -> None:
    k = math.sqrt(5.991464547107979)
    a, b, o = error_ellipse(np.diag([400.0, 100.0]))
    assert (a, b, o) == pytest.approx((20 * k, 10 * k, 90.0))  # major axis east
    rot = np.array([[1, -1], [1, 1]]) / math.sqrt(2)  # major axis to north-east
    a, b, o = error_ellipse(rot @ np.diag([400.0, 100.0]) @ rot.T)
    assert (a, b) == pytest.approx((20 * k, 10 * k))
    assert o == pytest.approx(45.0)


def test_region_threshold_closed_forms() -> None:
    chi2 = 5.991464547107979
    assert region_threshold(3.0, 0) == pytest.approx(chi2)  # no redundancy: σ's as given
    assert region_threshold(0.5, 4) == pytest.approx(chi2)  # small residuals never narrow it
    # F(2, ν; p) = (ν/2)((1 - p)^(-2/ν) - 1): ν = 2, s² = 1 gives 2 · 19 = 38
    assert region_threshold(2.0, 2) == pytest.approx(38.0)
    # ν = 4, s² = 3: 2 · 3 · F(2, 4; 0.95) with F(2, ν; p) = (ν/2)((1 - p)^(-2/ν) - 1)
    f24 = 2.0 * ((0.05 ** (-0.5)) - 1.0)
    assert region_threshold(12.0, 4) == pytest.approx(2.0 * 3.0 * f24)


@pytest.mark.parametrize("true_over_model", [1.0, 1.3, 10.0])
def test_region_covers_the_truth_95_percent_on_a_linear_gaussian_toy(
    true_over_model: float,
) -> None:
    # y = H θ + σ_true ε with 7 observations of 2 positions and one nuisance (ν = 4); the
    # model's σ is σ_true / true_over_model. The region d² ≤ q (d² under the model's
    # covariance) must cover θ in at least 95 % of the trials, and in 95 % (± 3 binomial σ)
    # when the model's σ is far too small (the F region then decides alone). A χ²₂ region
    # with the model's covariance (no a-posteriori factor) covers ~78 % at 1.3 — which the
    # same test would catch.
    rng = np.random.default_rng(11)
    n_trials, m = 4000, 7
    sigma_true = 1.0
    sigma_model = sigma_true / true_over_model
    h = rng.standard_normal((m, 3))
    h[:, 2] = 1.0
    cov_model = sigma_model**2 * np.linalg.inv(h.T @ h)[:2, :2]
    theta = np.array([3.0, -2.0, 5.0])
    inside = np.empty(n_trials, dtype=bool)
    naive = np.empty(n_trials, dtype=bool)
    for k in range(n_trials):
        y = h @ theta + sigma_true * rng.standard_normal(m)
        est, *_ = np.linalg.lstsq(h, y, rcond=None)
        s = float(np.sum(((y - h @ est) / sigma_model) ** 2))
        d = est[:2] - theta[:2]
        d2 = float(d @ np.linalg.solve(cov_model, d))
        inside[k] = d2 <= region_threshold(s, m - 3)
        naive[k] = d2 <= 5.991464547107979
    tol = 3.0 * math.sqrt(0.95 * 0.05 / n_trials)
    assert inside.mean() >= 0.95 - tol
    if true_over_model == 10.0:
        assert inside.mean() == pytest.approx(0.95, abs=tol)
    if true_over_model == 1.0:
        assert naive.mean() == pytest.approx(0.95, abs=tol)  # the a-priori region alone
    if true_over_model == 1.3:
        assert naive.mean() < 0.95 - tol  # the χ²₂ region of a mis-scaled model under-covers


def test_crlb_of_a_symmetric_geometry() -> None:
    # emitter at the centre of a square of receivers, equal variances σ²: the position block of
    # (HᵀH)⁻¹ is (2σ²/N) I, so the RMS bound is 2σ/√N
    sigma_s = 50e-9
    ang = np.deg2rad([0, 90, 180, 270])
    lat, lon, _ = enu_to_geodetic(10e3 * np.sin(ang), 10e3 * np.cos(ang), 0.0, LAT0, LON0, 0.0)
    lla = np.stack([lat, lon, np.zeros(4)], axis=-1)
    got = tdoa_position_crlb_m(LAT0, LON0, 0.0, lla, np.full(4, sigma_s**2))
    assert got == pytest.approx(2 * SPEED_OF_LIGHT_MPS * sigma_s / 2.0, rel=1e-3)


def test_wideband_emitter_located_within_the_bound() -> None:
    recs, _, lat, lon = _run("wideband", 20.0, seed=3)
    loc = localize(recs, alt_m=10.0)
    assert loc.method in ("tdoa", "fused")
    assert len(loc.receivers_used) == 5
    err = float(np.hypot(*_error(loc, lat, lon)))
    assert err < 3.0 * loc.crlb_m
    assert 5.0 < loc.crlb_m < 40.0  # 50 ns clocks: ~15 m per receiver, GDOP ~1-2
    assert loc.ellipse95[0] >= loc.ellipse95[1] > 0
    ref = [p for p in loc.per_receiver if p["reference"]]
    assert len(ref) == 1 and ref[0]["tdoa_s"] == 0.0
    # the reported ellipse is the χ²₂(0.95) ellipse of cov_enu_m2, never below the bound's
    assert loc.ellipse95 == pytest.approx(error_ellipse(loc.cov_enu_m2))
    assert float(np.trace(loc.cov_enu_m2)) >= 0.99 * loc.crlb_m**2
    timed = [p for p in loc.per_receiver if p["tdoa_sigma_s"] is not None]
    assert timed and all(p["tdoa_measured_sigma_s"] > 0 for p in timed)


def test_tdoa_only_matches_the_clock_limited_bound() -> None:
    recs, _, lat, lon = _run("wideband", 30.0, seed=4)
    loc = localize(recs, alt_m=10.0, method="tdoa")
    assert loc.method == "tdoa"
    lla = np.array([[r.lat_deg, r.lon_deg, r.alt_m] for r in recs])
    # at 30 dB the clocks dominate: the bound is close to the clock-only bound
    clock_only = tdoa_position_crlb_m(lat, lon, 10.0, lla, np.full(5, (50e-9) ** 2))
    assert clock_only <= loc.crlb_m < 1.3 * clock_only


def test_ellipse_coverage_and_efficiency_monte_carlo() -> None:
    inside, ratios = 0, []
    n = 24
    for seed in range(n):
        recs, _, lat, lon = _run("wideband", 10.0, seed=50 + seed)
        loc = localize(recs, alt_m=10.0)
        d = _error(loc, lat, lon)
        inside += float(d @ np.linalg.solve(loc.cov_enu_m2, d)) <= 5.991
        ratios.append(float(np.hypot(*d)) / loc.crlb_m)
    assert inside / n >= 0.83  # 95 % nominal; ≥ 20 of 24 (binomial p ≈ 0.97)
    assert np.median(ratios) < 1.2  # an efficient estimator: median/RMS ≈ 0.83


def test_rss_locates_a_tone() -> None:
    recs, _, lat, lon = _run("cw", 20.0, seed=5, shadowing_db=1.0)
    loc = localize(recs, alt_m=10.0, shadowing_db=1.0)
    assert loc.method == "rss"
    reasons = [p["reason"] for p in loc.per_receiver]
    assert all(r.startswith("tdoa:") for r in reasons)
    assert sum("tone" in r for r in reasons) == 4  # every pair with the reference
    err = float(np.hypot(*_error(loc, lat, lon)))
    assert err < 3.0 * loc.crlb_m
    assert err < 3000.0


def test_method_tdoa_on_a_tone_is_refused() -> None:
    recs, _, _, _ = _run("cw", 20.0, seed=6)
    with pytest.raises(LocalizationError, match="good TDOA"):
        localize(recs, alt_m=10.0, method="tdoa")


def test_too_few_receivers_and_bad_method() -> None:
    recs, _, _, _ = _run("wideband", 20.0, seed=7)
    with pytest.raises(LocalizationError, match="at least 2"):
        localize(recs[:1])
    with pytest.raises(LocalizationError, match="method"):
        localize(recs, method="magic")
    with pytest.raises(LocalizationError, match="fewer than 3"):
        localize(recs[:2], alt_m=10.0)


def test_position_covariance_schur_and_unobserved_direction() -> None:
    from argus.rf.locate import position_covariance

    rng = np.random.default_rng(3)
    h = rng.standard_normal((9, 4))
    full = np.linalg.inv(h.T @ h)[:2, :2]
    assert position_covariance(h) == pytest.approx(full, rel=1e-9)
    # north not observed at all (its column is zero): its variance is huge, not zero
    h[:, 1] = 0.0
    cov = position_covariance(h)
    assert cov[1, 1] > 1e9 * cov[0, 0]
    assert cov[0, 0] == pytest.approx(np.linalg.inv(h[:, [0, 2, 3]].T @ h[:, [0, 2, 3]])[0, 0])
