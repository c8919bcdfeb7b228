"""4/3-Earth line of sight against the classical radar-horizon formula."""

from __future__ import annotations

import math

import numpy as np
import pymap3d
import pytest
from pymap3d import vincenty

from argus.sensors.propagation import line_of_sight, local_earth_radius_m, radar_horizon_range_m
from tests._geo import ecef


def _visible_at(d_m: float, ht: float, hr: float, k: float, lat: float = 20.0) -> bool:
    lat2, lon2 = vincenty.vreckon(lat, 0.0, d_m, 90.0)
    ant = ecef(lat, 0.0, hr)
    tgt = ecef(float(lat2), float(lon2), ht)[None]
    return bool(line_of_sight(ant, math.radians(lat), hr, tgt, k=k).visible[0])


@pytest.mark.parametrize(
    ("hr", "ht"), [(10.0, 50.0), (30.0, 500.0), (100.0, 10_000.0), (1000.0, 100.0)]
)
@pytest.mark.parametrize("k", [4.0 / 3.0, 1.0])
def test_horizon_matches_the_classical_formula(hr: float, ht: float, k: float) -> None:
    re = float(local_earth_radius_m(math.radians(20.0)))
    d_h = float(radar_horizon_range_m(hr, ht, earth_radius_m=re, k=k))
    lo, hi = 0.5 * d_h, 1.5 * d_h
    assert _visible_at(lo, ht, hr, k) and not _visible_at(hi, ht, hr, k)
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _visible_at(mid, ht, hr, k) else (lo, mid)
    # The parabolic formula neglects h/Re terms; the exact sphere agrees to well under 1 %.
    assert lo == pytest.approx(d_h, rel=2e-3)


def test_refraction_extends_the_horizon_and_raises_apparent_elevation() -> None:
    assert float(radar_horizon_range_m(10.0, 100.0)) == pytest.approx(
        math.sqrt(4 / 3) * float(radar_horizon_range_m(10.0, 100.0, k=1.0))
    )
    ant = ecef(0.0, 0.0, 20.0)
    tgt = ecef(0.0, 1.5, 3000.0)[None]  # ~167 km away, 3 km up
    geo = line_of_sight(ant, 0.0, 20.0, tgt, k=1.0)
    ref = line_of_sight(ant, 0.0, 20.0, tgt, k=4.0 / 3.0)
    assert ref.apparent_elevation_rad[0] > geo.apparent_elevation_rad[0]
    # With k = 1 the "apparent" elevation is the true geometric elevation.
    _, el, _ = pymap3d.ecef2aer(*tgt[0], 0.0, 0.0, 20.0)
    assert math.degrees(geo.apparent_elevation_rad[0]) == pytest.approx(float(el), abs=0.01)
    np.testing.assert_allclose(ref.ground_range_m, geo.ground_range_m)
