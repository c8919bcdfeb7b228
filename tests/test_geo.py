"""argus.geo: closed forms on the equator and at the pole, and agreement with pymap3d."""

from __future__ import annotations

import math

import numpy as np
import pymap3d
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pymap3d import vincenty

from argus import geo

A = geo.WGS84_A


def test_wgs84_constants() -> None:
    assert abs(geo.WGS84_B - 6356752.314245) < 1e-6
    assert abs(geo.WGS84_E2 / 6.69437999014e-3 - 1.0) < 1e-11


def test_wrap_deg_360() -> None:
    got = geo.wrap_deg_360([-10.0, 370.0, 360.0, 0.0, -360.0, 725.5, -1e-20])
    np.testing.assert_array_equal(got, [350.0, 10.0, 0.0, 0.0, 0.0, 5.5, 0.0])


def test_wrap_deg_180() -> None:
    got = geo.wrap_deg_180([180.0, -180.0, 190.0, -190.0, 540.0, 179.5, 0.0])
    np.testing.assert_array_equal(got, [-180.0, -180.0, -170.0, 170.0, -180.0, 179.5, 0.0])


def test_heading_difference_takes_the_short_way() -> None:
    np.testing.assert_array_equal(
        geo.heading_difference_deg([350, 10, 90, 0], [10, 350, 180, 270]), [20, -20, 90, -90]
    )


def test_interpolate_heading_across_north() -> None:
    got = geo.interpolate_heading_deg(
        [350.0, 359.0, 10.0, 90.0, 0.0], [10.0, 1.0, 350.0, 180.0, 0.0], [0.5, 0.25, 0.5, 0.5, 0.7]
    )
    np.testing.assert_allclose(got, [0.0, 359.5, 0.0, 135.0, 0.0], atol=1e-12)


def test_velocity_from_speed_heading_north_is_zero_clockwise() -> None:
    ve, vn = geo.velocity_from_speed_heading(100.0, [0.0, 90.0, 180.0, 270.0, 45.0])
    np.testing.assert_allclose(ve, [0, 100, 0, -100, 100 / math.sqrt(2)], atol=1e-12)
    np.testing.assert_allclose(vn, [100, 0, -100, 0, 100 / math.sqrt(2)], atol=1e-12)
    speed, heading = geo.speed_heading_from_velocity(ve, vn)
    np.testing.assert_allclose(speed, 100.0)
    np.testing.assert_allclose(heading, [0, 90, 180, 270, 45], atol=1e-12)


def test_geodetic_to_ecef_axes() -> None:
    x, y, z = geo.geodetic_to_ecef(
        [0.0, 0.0, 90.0, -90.0], [0.0, 90.0, 0.0, 0.0], [0.0, 0.0, 0.0, 100.0]
    )
    np.testing.assert_allclose(x, [A, 0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(y, [0, A, 0, 0], atol=1e-9)
    np.testing.assert_allclose(z, [0, 0, geo.WGS84_B, -geo.WGS84_B - 100.0], atol=1e-9)


def test_enu_on_the_equator_closed_form() -> None:
    # Point (0, λ) seen from (0, 0): east = a sin λ, north = 0, up = a (cos λ - 1).
    lam = np.array([0.1, 1.0, -2.5])
    e, n, u = geo.enu_offsets(0.0, lam, 0.0, 0.0)
    np.testing.assert_allclose(e, A * np.sin(np.radians(lam)), rtol=1e-14)
    np.testing.assert_allclose(n, 0.0, atol=1e-9)
    np.testing.assert_allclose(u, A * (np.cos(np.radians(lam)) - 1.0), rtol=1e-9)


def test_enu_across_the_antimeridian() -> None:
    # 0.3° apart across ±180°: east of the origin, exactly as if no wrap existed.
    e, n, _ = geo.enu_offsets(0.0, -179.8, 0.0, 179.9)
    assert e == pytest.approx(A * math.sin(math.radians(0.3)), rel=1e-12)
    assert n == pytest.approx(0.0, abs=1e-8)


def test_enu_at_the_north_pole() -> None:
    # From the pole (lon0 = 0): north axis points along -x, east along +y. A point at
    # (89.9°, 180°) sits on -x, so it is due "north" of the pole at distance N cos φ.
    phi = math.radians(89.9)
    dist = A * math.cos(phi) / math.sqrt(1 - geo.WGS84_E2 * math.sin(phi) ** 2)
    e, n, _ = geo.enu_offsets(89.9, 180.0, 90.0, 0.0)
    assert e == pytest.approx(0.0, abs=1e-8)
    assert n == pytest.approx(dist, rel=1e-12)
    assert dist == pytest.approx(11_168.0, abs=5.0)  # ~0.1° of arc


def _points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    lat = np.concatenate([rng.uniform(-90, 90, n), [89.999, -89.999, 90.0, 0.0, 0.0]])
    lon = np.concatenate([rng.uniform(-180, 180, n), [0.0, 179.0, 45.0, 179.999, -179.999]])
    return lat, lon


def test_enu_matches_pymap3d_everywhere() -> None:
    rng = np.random.default_rng(7)
    lat, lon = _points(rng, 300)
    lat0, lon0 = _points(rng, 40)
    ours = geo.enu_offsets_outer(lat, lon, lat0, lon0)
    theirs = pymap3d.geodetic2enu(
        lat[:, None], lon[:, None], 0.0, lat0[None, :], lon0[None, :], 0.0
    )
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    broadcast = geo.enu_offsets(lat[:, None], lon[:, None], lat0[None, :], lon0[None, :])
    for a, b in zip(broadcast, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_enu_with_heights_matches_pymap3d() -> None:
    rng = np.random.default_rng(8)
    lat, lon = _points(rng, 50)
    alt = rng.uniform(-100, 30_000, lat.size)
    e, n, u = geo.enu_offsets(lat, lon, 12.5, -170.0, alt, 250.0)
    e2, n2, u2 = pymap3d.geodetic2enu(lat, lon, alt, 12.5, -170.0, 250.0)
    np.testing.assert_allclose(e, e2, atol=1e-6)
    np.testing.assert_allclose(n, n2, atol=1e-6)
    np.testing.assert_allclose(u, u2, atol=1e-6)


def test_enu_velocity_matches_pymap3d() -> None:
    rng = np.random.default_rng(9)
    lat, lon = _points(rng, 60)
    lat0, lon0 = _points(rng, 10)
    ve, vn = geo.velocity_from_speed_heading(
        rng.uniform(0, 900, lat.size), rng.uniform(0, 360, lat.size)
    )
    ours = geo.enu_velocity_outer(lat, lon, ve, vn, lat0, lon0)
    vx, vy, vz = pymap3d.enu2ecefv(ve, vn, 0.0, lat, lon)
    theirs = pymap3d.ecef2enuv(vx[:, None], vy[:, None], vz[:, None], lat0[None, :], lon0[None, :])
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-9)


def test_ecef_to_geodetic_matches_pymap3d_and_inverts() -> None:
    rng = np.random.default_rng(10)
    lat, lon = _points(rng, 500)
    alt = rng.uniform(-500, 100_000, lat.size)
    x, y, z = geo.geodetic_to_ecef(lat, lon, alt)
    la, lo, h = geo.ecef_to_geodetic(x, y, z)
    np.testing.assert_allclose(la, lat, atol=1e-11)
    np.testing.assert_allclose(
        geo.wrap_deg_180(lo - lon) * np.cos(np.radians(lat)), 0.0, atol=1e-11
    )
    np.testing.assert_allclose(h, alt, atol=1e-6)
    la2, _, h2 = pymap3d.ecef2geodetic(x, y, z)
    np.testing.assert_allclose(la, la2, atol=1e-11)
    np.testing.assert_allclose(h, h2, atol=1e-6)


def test_enu_to_geodetic_inverts_enu_offsets() -> None:
    rng = np.random.default_rng(11)
    lat, lon = _points(rng, 100)
    e, n, u = geo.enu_offsets(lat, lon, -33.0, 151.0)
    la, lo, h = geo.enu_to_geodetic(e, n, u, -33.0, 151.0)
    np.testing.assert_allclose(la, lat, atol=1e-10)
    np.testing.assert_allclose(
        geo.wrap_deg_180(lo - lon) * np.cos(np.radians(lat)), 0.0, atol=1e-10
    )
    np.testing.assert_allclose(h, 0.0, atol=1e-6)


def test_dead_reckon_along_the_equator() -> None:
    # 100 s east at 100 m/s from (0, 0): the tangent point (a, 1e4, 0) projects to lon = atan(1e4/a).
    lat, lon = geo.dead_reckon(0.0, 0.0, 100.0, 90.0, 100.0)
    assert lat == pytest.approx(0.0, abs=1e-12)
    assert lon == pytest.approx(math.degrees(math.atan2(1e4, A)), rel=1e-13)


def test_dead_reckon_over_the_pole() -> None:
    # Heading north from (89.95, 10): 0.1° of latitude later the track is on the far side, lon 190 = -170.
    phi = math.radians(89.95)
    to_pole = A * math.cos(phi) / math.sqrt(1 - geo.WGS84_E2 * math.sin(phi) ** 2) / math.sin(phi)
    lat, lon = geo.dead_reckon(89.95, 10.0, 1.0, 0.0, 2 * to_pole)
    assert lat == pytest.approx(89.95, abs=1e-4)
    assert geo.wrap_deg_180(lon - (-170.0)) == pytest.approx(0.0, abs=1e-6)


def test_ground_distance_on_the_equator() -> None:
    assert geo.ground_distance_m(0.0, 1.0, 0.0, 0.0) == pytest.approx(
        A * math.sin(math.radians(1.0)), rel=1e-13
    )


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    dlat=st.floats(-0.5, 0.5),
    dlon=st.floats(-0.5, 0.5),
)
def test_enu_matches_pymap3d_property(lat: float, lon: float, dlat: float, dlon: float) -> None:
    lat1 = min(90.0, max(-90.0, lat + dlat))
    ours = geo.enu_offsets(lat1, lon + dlon, lat, lon)
    theirs = pymap3d.geodetic2enu(lat1, lon + dlon, 0.0, lat, lon, 0.0)
    for a, b in zip(ours, theirs, strict=True):
        assert float(a) == pytest.approx(float(b), abs=1e-6)


def test_ecef_to_geodetic_rad_matches_pymap3d_up_to_2000_km() -> None:
    rng = np.random.default_rng(3)
    lat = rng.uniform(-89.9, 89.9, 2000)
    lon = rng.uniform(-180, 180, 2000)
    alt = rng.uniform(-5e3, 2e6, 2000)
    p = np.stack(geo.geodetic_to_ecef(lat, lon, alt), axis=-1)
    la, lo, h = geo.ecef_to_geodetic_rad(p)
    ref_lat, ref_lon, ref_h = pymap3d.ecef2geodetic(p[:, 0], p[:, 1], p[:, 2])
    np.testing.assert_allclose(np.degrees(la), ref_lat, atol=1e-9)
    np.testing.assert_allclose(np.degrees(lo), ref_lon, atol=1e-9)
    np.testing.assert_allclose(h, ref_h, atol=1e-4)
    np.testing.assert_allclose(h, alt, atol=1e-4)


def test_geodesic_inverse_bearing_and_distance() -> None:
    d, az = geo.geodesic_inverse(0.0, 0.0, [0.0, 1.0, 0.0], [1.0, 0.0, 0.0])
    # One degree of longitude on the equator, one of latitude from the equator, a point to itself.
    np.testing.assert_allclose(d, [111319.491, 110574.389, 0.0], atol=1e-3)
    np.testing.assert_allclose(az, [90.0, 0.0, 0.0], atol=1e-9)
    # Agrees with pymap3d's Vincenty on random pairs (called one pair at a time there).
    rng = np.random.default_rng(5)
    a = rng.uniform(-70, 70, (50, 2))
    b = a + rng.uniform(-15, 15, (50, 2))
    d, az = geo.geodesic_inverse(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    ref = np.array([vincenty.vdist(*a[i], *b[i]) for i in range(50)], dtype=float)
    np.testing.assert_allclose(d, ref[:, 0], atol=1e-4)
    np.testing.assert_allclose(az, ref[:, 1], atol=1e-9)


_lat = st.floats(-90.0, 90.0, allow_nan=False)
_lon = st.floats(-180.0, 180.0, allow_nan=False)
_alt = st.floats(-1_000.0, 1_000_000.0, allow_nan=False)


@settings(max_examples=400, deadline=None)
@given(_lat, _lon, _alt)
@example(90.0, 0.0, 0.0)
@example(-90.0, 123.0, 1_000_000.0)
@example(89.999999, -180.0, -1_000.0)
@example(0.0, 180.0, -1_000.0)
def test_geodetic_ecef_round_trip_property(lat: float, lon: float, alt: float) -> None:
    """Geodetic → ECEF → geodetic to 1e-9° and 1 mm over the globe, poles included, -1..1000 km.

    The forward map agrees with ``pymap3d.geodetic2ecef``; the inverse is checked by the round
    trip (``pymap3d.ecef2geodetic`` stops its iteration at ~1e-7°) and,
    off the poles, against pymap3d to its own accuracy. Longitude is compared as a distance on the parallel (it is
    undefined at a pole). The radian form and the altitude-only form give the same point.
    """
    x, y, z = geo.geodetic_to_ecef(lat, lon, alt)
    ref = pymap3d.geodetic2ecef(lat, lon, alt)
    np.testing.assert_allclose([x, y, z], ref, rtol=0, atol=1e-6)
    la, lo, h = geo.ecef_to_geodetic(x, y, z)
    assert abs(float(la) - lat) < 1e-9
    assert abs(float(geo.wrap_deg_180(lo - lon)) * math.cos(math.radians(lat))) < 1e-9
    assert abs(float(h) - alt) < 1e-3
    pos = geo.geodetic_to_ecef_rad(math.radians(lat), math.radians(lon), alt)
    np.testing.assert_allclose(pos, [x, y, z], rtol=0, atol=1e-6)
    la_r, _, h_r = geo.ecef_to_geodetic_rad(pos)
    assert abs(math.degrees(float(la_r)) - lat) < 1e-9 and abs(float(h_r) - alt) < 1e-3
    assert abs(float(geo.geodetic_altitude_m(pos)) - alt) < 1e-3
    if abs(lat) < 89.0:  # pymap3d iterates its inverse to a tolerance of ~1e-7°
        rla, _, rh = pymap3d.ecef2geodetic(x, y, z)
        assert abs(float(la) - float(rla)) < 2e-7 and abs(float(h) - float(rh)) < 1e-3


def test_spherical_radii() -> None:
    """The mean radius is IUGG's R1 = (2a + b)/3; the 4/3-Earth radius derives from it."""
    assert pytest.approx((2 * geo.WGS84_A + geo.WGS84_B) / 3, abs=0.1) == geo.MEAN_EARTH_RADIUS_M
    assert pytest.approx(4 / 3 * geo.MEAN_EARTH_RADIUS_M) == geo.EFFECTIVE_EARTH_RADIUS_M


def test_great_circle_matches_haversine_on_the_mean_sphere() -> None:
    lat1, lon1, lat2, lon2 = np.radians([[0.0, 45.0], [0.0, 0.0], [0.0, 46.0], [1.0, 0.0]])
    brg, d = geo.great_circle_bearing_distance(lat1, lon1, lat2, lon2)
    np.testing.assert_allclose(d, np.radians(1.0) * geo.MEAN_EARTH_RADIUS_M)
    np.testing.assert_allclose(np.degrees(brg), [90.0, 0.0], atol=1e-12)
