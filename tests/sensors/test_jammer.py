"""Noise jamming: J/N by hand, Pd falling with J/S, main lobe versus sidelobes, burn-through."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pymap3d
import pytest

from argus.sensors.detection import pd_swerling1
from argus.sensors.jammer import (
    NoiseJammer,
    burn_through_range_m,
    jammer_to_noise,
    jammer_to_signal,
    sinr,
)
from argus.sensors.radar import observe
from argus.sensors.site import RadarSite

from ._helpers import targets_at


def _within_3_sigma(hits: int, n: int, p: float) -> bool:
    return abs(hits / n - p) <= 3.0 * math.sqrt(p * (1.0 - p) / n)


def test_jammer_to_noise_by_hand(radar: RadarSite) -> None:
    jam = NoiseJammer(
        1, power_w=10.0, gain_db=6.0, bandwidth_hz=50e6, losses_db=2.0, lat_deg=0.0, lon_deg=0.0
    )
    lam = radar.wavelength_m
    j = 10.0 * 10**0.6 * 10**4.0 * lam**2 * (1e6 / 50e6) / ((4 * math.pi) ** 2 * 100e3**2 * 10**0.2)
    assert float(jammer_to_noise(radar, jam, 100e3)) == pytest.approx(
        j / radar.noise_power_w, rel=1e-12
    )
    # Sidelobe reception scales J/N by the sidelobe level.
    assert float(jammer_to_noise(radar, jam, 100e3, 1e-3)) == pytest.approx(
        1e-3 * j / radar.noise_power_w
    )
    # Self-screening J/S grows as R² (S ∝ 1/R⁴, J ∝ 1/R²).
    js = jammer_to_signal(radar, jam, np.array([50e3, 100e3]), 1.0)
    assert js[1] / js[0] == pytest.approx(4.0)


def test_pd_falls_as_the_self_screening_jammer_power_rises(radar: RadarSite) -> None:
    n = 20_000
    range_m = 150e3
    tg = targets_at(radar, 30.0, 5.0, np.full(n, range_m), rcs_m2=2.0)
    lat, lon, alt = pymap3d.aer2geodetic(
        30.0, 5.0, range_m, radar.lat_deg, radar.lon_deg, radar.antenna_alt_m
    )
    snr = float(radar.snr(range_m, 2.0))
    pds = []
    for k, power in enumerate((0.0, 0.3, 1.0, 3.0, 10.0, 30.0)):
        jammers = []
        jnr = 0.0
        if power > 0:
            jam = NoiseJammer(
                1,
                power_w=power,
                gain_db=0.0,
                bandwidth_hz=100e6,
                lat_deg=float(lat),
                lon_deg=float(lon),
                alt_m=float(alt),
            )
            jammers = [jam]
            jnr = float(jammer_to_noise(radar, jam, range_m))
        out = observe(
            radar,
            tg,
            0.0,
            radar.scan_period_s,
            np.random.default_rng(50 + k),
            jammers=jammers,
            include_false_alarms=False,
        )
        expected = float(pd_swerling1(float(sinr(radar, range_m, 2.0, jnr)), radar.pfa))
        assert float(sinr(radar, range_m, 2.0, jnr)) == pytest.approx(snr / (1 + jnr))
        assert _within_3_sigma(len(out.detections), n, expected), (
            power,
            len(out.detections) / n,
            expected,
        )
        pds.append(len(out.detections) / n)
    assert all(a > b for a, b in pairwise(pds))
    assert pds[0] > 0.9 and pds[-1] < 0.2


def test_main_lobe_jamming_hurts_more_than_sidelobe_jamming(radar: RadarSite) -> None:
    n = 10_000
    range_m = 150e3
    lat, lon, alt = pymap3d.aer2geodetic(
        90.0, 2.0, 200e3, radar.lat_deg, radar.lon_deg, radar.antenna_alt_m
    )
    jam = NoiseJammer(
        2,
        power_w=50.0,
        gain_db=0.0,
        bandwidth_hz=100e6,
        lat_deg=float(lat),
        lon_deg=float(lon),
        alt_m=float(alt),
    )
    rates = {}
    for az in (90.0, 270.0):
        tg = targets_at(radar, az, 2.0, np.full(n, range_m), rcs_m2=2.0)
        out = observe(
            radar,
            tg,
            0.0,
            radar.scan_period_s,
            np.random.default_rng(int(az)),
            jammers=[jam],
            include_false_alarms=False,
        )
        rates[az] = len(out.detections) / n
    jnr_side = float(jammer_to_noise(radar, jam, 200e3, 10 ** (radar.sidelobe_level_db / 10)))
    p_side = float(pd_swerling1(float(sinr(radar, range_m, 2.0, jnr_side)), radar.pfa))
    assert _within_3_sigma(round(rates[270.0] * n), n, p_side)
    assert rates[90.0] < 0.5 * rates[270.0]


def test_burn_through_range_gives_the_required_sinr(radar: RadarSite) -> None:
    jam = NoiseJammer(3, power_w=5.0, gain_db=3.0, bandwidth_hz=200e6, carrier_truth_id=1)
    r_bt = burn_through_range_m(radar, jam, 1.0, 13.0)
    q = 10**1.3
    jnr = float(jammer_to_noise(radar, jam, r_bt))
    assert float(sinr(radar, r_bt, 1.0, jnr)) == pytest.approx(q, rel=1e-9)
    # Closer in, the radar burns through; further out, it does not.
    for r, better in ((0.8 * r_bt, True), (1.25 * r_bt, False)):
        s = float(sinr(radar, r, 1.0, float(jammer_to_noise(radar, jam, r))))
        assert (s > q) is better
    # Stand-off jammer at 300 km seen in the sidelobes.
    side = 10 ** (radar.sidelobe_level_db / 10)
    r_so = burn_through_range_m(radar, jam, 1.0, 13.0, standoff_range_m=300e3, radar_gain_rel=side)
    jnr_so = float(jammer_to_noise(radar, jam, 300e3, side))
    assert float(sinr(radar, r_so, 1.0, jnr_so)) == pytest.approx(q, rel=1e-9)
    assert r_so < radar.range_for_snr(13.0, 1.0)


def test_strobes_point_at_the_jammer(radar: RadarSite) -> None:
    lat, lon, alt = pymap3d.aer2geodetic(
        200.0, 1.0, 120e3, radar.lat_deg, radar.lon_deg, radar.antenna_alt_m
    )
    jam = NoiseJammer(
        4,
        power_w=1.0,
        gain_db=0.0,
        bandwidth_hz=100e6,
        lat_deg=float(lat),
        lon_deg=float(lon),
        alt_m=float(alt),
    )
    tg = targets_at(radar, np.zeros(0), np.zeros(0), np.zeros(0))
    out = observe(radar, tg, 0.0, 10 * radar.scan_period_s, np.random.default_rng(4), jammers=[jam])
    s = out.strobes
    assert len(s) == 10 and np.all(s.jammer_id == 4) and np.all(s.radar_id == radar.radar_id)
    assert np.degrees(s.azimuth_rad).mean() == pytest.approx(200.0, abs=0.2)
    r, _, _ = radar.to_aer(pymap3d.geodetic2ecef(lat, lon, alt) * np.ones(1))
    np.testing.assert_allclose(
        s.jnr_db, 10 * np.log10(float(jammer_to_noise(radar, jam, float(np.asarray(r))))), atol=1e-6
    )
    # Look times: the beam (starting at 180°) reaches 200° 1/18 of the way through each scan.
    np.testing.assert_allclose(s.time_s, np.arange(10) * 5.0 + 5.0 * 20.0 / 360.0, atol=1e-3)


def test_jammer_validation() -> None:
    with pytest.raises(ValueError, match=r"jammer 1\.power_w"):
        NoiseJammer(1, power_w=0.0, gain_db=0.0, bandwidth_hz=1e6, lat_deg=0.0, lon_deg=0.0)
    with pytest.raises(ValueError, match="either lat_deg/lon_deg"):
        NoiseJammer(1, power_w=1.0, gain_db=0.0, bandwidth_hz=1e6)
    with pytest.raises(ValueError, match="aim_radar_id"):
        NoiseJammer(
            1,
            power_w=1.0,
            gain_db=0.0,
            bandwidth_hz=1e6,
            lat_deg=0.0,
            lon_deg=0.0,
            beamwidth_deg=10.0,
        )
    aimed = NoiseJammer(
        1,
        power_w=1.0,
        gain_db=20.0,
        bandwidth_hz=1e6,
        lat_deg=0.0,
        lon_deg=0.0,
        beamwidth_deg=10.0,
        aim_radar_id=7,
    )
    assert float(aimed.gain_toward(7, 0.0)) == pytest.approx(100.0)
    assert float(aimed.gain_toward(8, 0.0)) == pytest.approx(100.0 * 10 ** (-2.0))
    assert float(aimed.gain_toward(7, math.radians(5.0))) == pytest.approx(50.0)
