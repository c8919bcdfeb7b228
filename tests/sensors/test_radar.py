"""Radar model: radar equation, Swerling detection, false alarms, horizon, measurements."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from argus.sensors.detection import (
    detection_statistic,
    pd_swerling0,
    pd_swerling1,
    pd_swerling3,
    probability_of_detection,
    snr_for_pd_swerling1,
)
from argus.sensors.radar import false_alarms, observe
from argus.sensors.site import BOLTZMANN, RadarSite

from ._helpers import targets_at


def _within_3_sigma(hits: int, n: int, p: float) -> bool:
    return abs(hits / n - p) <= 3.0 * math.sqrt(p * (1.0 - p) / n)


def test_radar_equation_by_hand() -> None:
    r = RadarSite(
        1,
        0.0,
        0.0,
        peak_power_w=2.0e5,
        gain_db=30.0,
        frequency_hz=1.0e10,
        noise_figure_db=3.0,
        bandwidth_hz=2.0e6,
        losses_db=4.0,
        processing_gain_db=10.0,
    )
    lam = 299_792_458.0 / 1.0e10
    noise = BOLTZMANN * 290.0 * 10**0.3 * 2.0e6
    expected = (
        2.0e5
        * (1e3) ** 2
        * lam**2
        * 5.0
        * 10.0
        / ((4 * math.pi) ** 3 * (80e3) ** 4 * noise * 10**0.4)
    )
    assert r.wavelength_m == pytest.approx(lam)
    assert r.noise_power_w == pytest.approx(noise)
    assert float(r.snr(80e3, 5.0)) == pytest.approx(expected, rel=1e-12)
    # R⁴ law and the inverse helpers.
    assert float(r.snr(160e3, 5.0)) == pytest.approx(expected / 16.0, rel=1e-12)
    assert r.range_for_snr(10 * math.log10(expected), 5.0) == pytest.approx(80e3, rel=1e-12)
    r90 = r.detection_range_m(1.0, pd=0.9)
    assert float(pd_swerling1(r.snr(r90, 1.0), r.pfa)) == pytest.approx(0.9, rel=1e-12)
    assert r.range_resolution_m == pytest.approx(299_792_458.0 / 4.0e6)


def test_closed_forms_equal_the_average_of_marcum_q_over_the_rcs_distribution() -> None:
    pfa = 1e-6
    for snr in (0.5, 3.0, 20.0, 150.0):
        sw1, _ = integrate.quad(
            lambda s, m=snr: float(pd_swerling0(s, pfa)) * math.exp(-s / m) / m, 0, 60 * snr
        )
        sw3, _ = integrate.quad(
            lambda s, m=snr: float(pd_swerling0(s, pfa)) * 4 * s / m**2 * math.exp(-2 * s / m),
            0,
            60 * snr,
        )
        assert float(pd_swerling1(snr, pfa)) == pytest.approx(sw1, rel=1e-6)
        assert float(pd_swerling3(snr, pfa)) == pytest.approx(sw3, rel=1e-6)
    # Zero SNR detects with probability Pfa, whatever the case.
    for case in (0, 1, 3):
        assert float(probability_of_detection(0.0, pfa, case)) == pytest.approx(pfa, rel=1e-9)
    assert float(snr_for_pd_swerling1(0.9, pfa)) == pytest.approx(
        math.log(pfa) / math.log(0.9) - 1.0
    )


@pytest.mark.parametrize("case", [0, 1, 3])
def test_monte_carlo_pd_matches_the_closed_form_within_3_sigma(case: int) -> None:
    rng = np.random.default_rng(100 + case)
    pfa = 1e-4
    vt = -math.log(pfa)
    n = 200_000
    for snr_db in (5.0, 10.0, 15.0, 20.0):
        snr = 10 ** (snr_db / 10)
        stat = detection_statistic(np.full(n, snr), case, rng)
        p = float(probability_of_detection(snr, pfa, case))
        assert _within_3_sigma(int(np.sum(stat > vt)), n, p), (case, snr_db, np.mean(stat > vt), p)
    noise = detection_statistic(np.zeros(1_000_000), case, rng)
    assert _within_3_sigma(int(np.sum(noise > -math.log(1e-2))), 1_000_000, 1e-2)


def test_observed_swerling_1_pd_matches_pfa_to_the_1_over_1_plus_snr(radar: RadarSite) -> None:
    n = 20_000
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    rng = np.random.default_rng(7)
    for range_m in (180e3, 260e3):
        tg = targets_at(radar, az, 3.0, range_m, rcs_m2=1.0)
        out = observe(radar, tg, 0.0, radar.scan_period_s, rng, include_false_alarms=False)
        snr = float(radar.snr(range_m, 1.0))
        p = float(pd_swerling1(snr, radar.pfa))
        assert 0.3 < p < 0.97
        assert _within_3_sigma(len(out.detections), n, p), (range_m, len(out.detections) / n, p)
        # One look per target per scan, each detection from a real target.
        assert np.all(out.detections.truth_id >= 0)
        assert np.unique(out.detections.truth_id).size == len(out.detections)


def test_false_alarm_counts_are_poisson_with_rate_pfa_times_cells(radar: RadarSite) -> None:
    rng = np.random.default_rng(2024)
    k = 4000
    starts = np.arange(k) * radar.scan_period_s
    fa = false_alarms(radar, starts, np.arange(k), rng)
    lam = radar.false_alarms_per_scan
    assert lam == pytest.approx(radar.pfa * (399e3 / 149.896229) * 240 * 30, rel=1e-6)
    counts = np.bincount(fa.scan_index, minlength=k)
    assert abs(counts.mean() - lam) < 3.0 * math.sqrt(lam / k)
    # Dispersion index: Σ(n - λ)²/λ ~ χ²(k) for Poisson counts (variance = mean).
    dispersion = float(np.sum((counts - lam) ** 2) / lam)
    assert stats.chi2.ppf(0.001, k) < dispersion < stats.chi2.ppf(0.999, k)
    # Chi-square goodness of fit of the count histogram against the Poisson pmf.
    edges = np.arange(int(lam - 3 * math.sqrt(lam)), int(lam + 3 * math.sqrt(lam)) + 1)
    observed = np.array(
        [np.sum(counts < edges[0])]
        + [np.sum(counts == e) for e in edges]
        + [np.sum(counts > edges[-1])]
    )
    pmf = stats.poisson.pmf(edges, lam)
    expected = (
        k * np.r_[stats.poisson.cdf(edges[0] - 1, lam), pmf, stats.poisson.sf(edges[-1], lam)]
    )
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # Uniform over range, azimuth sector and elevation; all are false alarms with a statistic above VT.
    assert (
        stats.kstest(
            fa.range_m, "uniform", args=(radar.min_range_m, radar.max_range_m - radar.min_range_m)
        ).pvalue
        > 1e-3
    )
    assert stats.kstest(fa.azimuth_rad, "uniform", args=(0.0, 2 * math.pi)).pvalue > 1e-3
    assert stats.kstest(np.degrees(fa.elevation_rad), "uniform", args=(0.0, 60.0)).pvalue > 1e-3
    assert np.all(fa.truth_id == -1) and np.all(10 ** (fa.snr_db / 10) > radar.detection_threshold)


def test_observe_adds_false_alarms_at_the_right_rate_and_in_time_order(radar: RadarSite) -> None:
    empty = targets_at(radar, np.zeros(0), np.zeros(0), np.zeros(0))
    out = observe(radar, empty, 0.0, 500 * radar.scan_period_s, np.random.default_rng(5))
    d = out.detections
    assert abs(len(d) / 500 - radar.false_alarms_per_scan) < 3 * math.sqrt(
        radar.false_alarms_per_scan / 500
    )
    assert np.all(np.diff(d.time_s) >= 0)
    # A rotating beam: the look time within the scan follows the azimuth.
    start = d.scan_index * radar.scan_period_s
    frac = np.mod(d.azimuth_rad - math.pi, 2 * math.pi) / (2 * math.pi)
    np.testing.assert_allclose(d.time_s, start + frac * radar.scan_period_s, atol=1e-9)


def _horizon_targets(
    radar: RadarSite, factor: float, heights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from pymap3d import vincenty

    from argus.sensors.propagation import local_earth_radius_m, radar_horizon_range_m

    re = float(local_earth_radius_m(math.radians(radar.lat_deg)))
    d = factor * radar_horizon_range_m(radar.antenna_alt_m, heights, earth_radius_m=re)
    az = np.linspace(0.0, 350.0, heights.size)
    ll = [
        vincenty.vreckon(radar.lat_deg, radar.lon_deg, di, ai) for di, ai in zip(d, az, strict=True)
    ]
    return np.array([float(x[0]) for x in ll]), np.array([float(x[1]) for x in ll]), heights


def test_targets_below_the_radar_horizon_are_never_detected() -> None:
    import pymap3d

    from argus.sensors.radar import Targets
    from argus.trajectory import TrajectorySet

    radar = RadarSite(
        3, -10.0, 120.0, alt_m=0.0, antenna_height_m=30.0, min_elevation_deg=-3.0, max_range_m=600e3
    )
    heights = np.repeat([20.0, 100.0, 500.0, 2000.0, 8000.0], 40)
    detected = {}
    for factor in (1.03, 0.97):
        lat, lon, h = _horizon_targets(radar, factor, heights)
        x, y, z = pymap3d.geodetic2ecef(lat, lon, h)
        p = np.stack([x, y, z], axis=-1)
        n = p.shape[0]
        tr = TrajectorySet(
            np.tile([0.0, 1e4], (n, 1)),
            np.stack([p, p], 1),
            np.zeros((n, 2, 3)),
            np.zeros((n, 2, 3)),
            np.full(n, 2),
        )
        # A huge RCS: anything in view is detected with probability ~1.
        tg = Targets(tr, np.arange(n), np.full(n, 1e5), np.ones(n, dtype=np.int64))
        out = observe(
            radar,
            tg,
            0.0,
            20 * radar.scan_period_s,
            np.random.default_rng(1),
            include_false_alarms=False,
        )
        detected[factor] = len(out.detections) / (20 * n)
    assert detected[1.03] == 0.0
    assert detected[0.97] > 0.99


def test_sector_and_elevation_limits_and_look_times() -> None:
    radar = RadarSite(
        4,
        10.0,
        10.0,
        azimuth_center_deg=90.0,
        azimuth_width_deg=60.0,
        max_elevation_deg=30.0,
        scan_period_s=4.0,
        first_scan_s=1.0,
    )
    az = np.array([75.0, 200.0, 100.0])
    el = np.array([5.0, 5.0, 45.0])
    tg = targets_at(radar, az, el, 50e3, rcs_m2=1e4)
    out = observe(radar, tg, 0.0, 41.0, np.random.default_rng(3), include_false_alarms=False)
    d = out.detections
    assert set(d.truth_id.tolist()) == {0}  # outside the sector / above max elevation: never
    assert len(d) == 10
    # The beam sweeps 60°→120° in 4 s: 75° is reached a quarter of the way through each scan.
    np.testing.assert_allclose(d.time_s, 1.0 + 4.0 * np.arange(10) + 1.0, atol=1e-9)
    np.testing.assert_array_equal(d.scan_index, np.arange(10))


def test_measurement_noise_and_covariance(radar: RadarSite) -> None:
    n = 6000
    v = np.array([120.0, -80.0, 40.0])
    noisy = RadarSite(
        8,
        radar.lat_deg,
        radar.lon_deg,
        alt_m=radar.alt_m,
        antenna_height_m=radar.antenna_height_m,
        scan_mode="instant",
        sigma_range_rate_mps=2.0,
    )
    tg = targets_at(noisy, np.full(n, 40.0), 10.0, 60e3, rcs_m2=1e4, velocity_ecef=v)
    out = observe(noisy, tg, 0.0, 1.0, np.random.default_rng(9), include_false_alarms=False)
    d = out.detections
    assert len(d) == n
    p = tg.trajectories.state_at(d.truth_id, d.time_s)[0]
    r, az, el = noisy.to_aer(p)
    rr_true = (p - noisy.antenna_ecef_m) @ v / r
    for resid, sigma in (
        (d.range_m - r, noisy.sigma_range_m),
        (np.angle(np.exp(1j * (d.azimuth_rad - az))), math.radians(noisy.sigma_azimuth_deg)),
        (d.elevation_rad - el, math.radians(noisy.sigma_elevation_deg)),
        (d.range_rate_mps - rr_true, 2.0),
    ):
        assert abs(resid.mean()) < 4 * sigma / math.sqrt(n)
        assert resid.std() == pytest.approx(sigma, rel=0.05)
    np.testing.assert_allclose(d.covariance[:, 0, 0], 50.0**2)
    np.testing.assert_allclose(d.covariance[:, 1, 1], math.radians(0.2) ** 2)
    assert np.all(d.covariance[:, 0, 1] == 0) and np.all(d.range_rate_var == 4.0)
    # Without a range-rate channel, range rate is NaN.
    plain = observe(
        radar, tg, 0.0, 5.0, np.random.default_rng(9), include_false_alarms=False
    ).detections
    assert np.isnan(plain.range_rate_mps).all()


def test_detections_convert_back_to_the_truth_positions_without_noise(radar: RadarSite) -> None:
    exact = RadarSite(
        9,
        radar.lat_deg,
        radar.lon_deg,
        alt_m=50.0,
        sigma_range_m=1e-9,
        sigma_azimuth_deg=1e-12,
        sigma_elevation_deg=1e-12,
    )
    tg = targets_at(
        exact,
        np.array([10.0, 130.0, 250.0]),
        np.array([1.0, 20.0, 45.0]),
        np.array([20e3, 90e3, 150e3]),
        rcs_m2=1e4,
    )
    d = observe(
        exact, tg, 0.0, 5.0, np.random.default_rng(0), include_false_alarms=False
    ).detections
    assert len(d) == 3
    truth = tg.trajectories.state_at(d.truth_id, d.time_s)[0]
    np.testing.assert_allclose(d.position_ecef_m(), truth, atol=1e-3)


def test_radar_validation_names_the_field() -> None:
    with pytest.raises(
        ValueError, match=r"radar 5 \(x\)\.scan_period_s: must be a finite number > 0"
    ):
        RadarSite(5, 0.0, 0.0, name="x", scan_period_s=0.0)
    with pytest.raises(ValueError, match=r"radar 5\.pfa"):
        RadarSite(5, 0.0, 0.0, pfa=0.5)
    with pytest.raises(ValueError, match="min_elevation_deg/max_elevation_deg"):
        RadarSite(5, 0.0, 0.0, min_elevation_deg=10.0, max_elevation_deg=5.0)
