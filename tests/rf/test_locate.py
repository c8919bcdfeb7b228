"""Localization of simulated emitters against the truth and the Cramér–Rao bound."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from argus.geo import enu_offsets, enu_to_geodetic
from argus.rf.locate import LocalizationError, error_ellipse, localize, tdoa_position_crlb_m
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
