"""CPA / TCPA / TDB / TWRP: closed forms, edge cases, and agreement with independent oracles.

Hand-computed geometry: a track on the equator at longitude λ seen from a DA at (0, 0) sits at
``p0 = (a sin λ, 0)`` in the DA's plane, and a track heading due west at speed ``v`` has
velocity ``(-v cos λ, 0)`` there (its own east axis is tilted by λ). So a head-on track has
``cpa = 0``, ``tcpa = a tan λ / v`` and reaches weapon range ``R`` at
``t = (a sin λ - R) / (v cos λ)``.
"""

from __future__ import annotations

import math

import numpy as np
import pymap3d
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus import geo
from argus.defaults import DEFAULT_MODEL_PARAMS
from argus.tewa.kinematics import (
    pair_kinematics,
    pair_kinematics_reference,
    resolve_weapon_range_km,
)

A = geo.WGS84_A


def one(*args: float, **kw: float) -> tuple[float, float, float, float]:
    k = pair_kinematics(*args, **kw)
    return (
        float(k.cpa_km[0, 0]),
        float(k.tcpa_s[0, 0]),
        float(k.tdb_km[0, 0]),
        float(k.twrp_s[0, 0]),
    )


def test_head_on() -> None:
    lam, v, radius, wr = 0.5, 250.0, 5.0, 20.0
    cpa, tcpa, tdb, twrp = one(0.0, lam, v, 270.0, 0.0, 0.0, radius, weapon_range_km=wr)
    d = A * math.sin(math.radians(lam))
    assert d == pytest.approx(55_659.0, abs=1.0)  # 0.5° of longitude on the equator
    assert cpa == pytest.approx(0.0, abs=1e-9)
    assert tcpa == pytest.approx(A * math.tan(math.radians(lam)) / v, rel=1e-12)
    assert tcpa == pytest.approx(222.65, abs=0.01)
    assert tdb == pytest.approx(d / 1000 - radius, rel=1e-12)
    assert twrp == pytest.approx((d - wr * 1000) / (v * math.cos(math.radians(lam))), rel=1e-12)
    assert twrp == pytest.approx(142.64, abs=0.01)


def test_receding_has_negative_tcpa_and_no_weapon_opportunity() -> None:
    cpa, tcpa, tdb, twrp = one(0.0, 0.5, 250.0, 90.0, 0.0, 0.0, 0.0, weapon_range_km=20.0)
    d = A * math.sin(math.radians(0.5))
    assert tcpa == pytest.approx(-A * math.tan(math.radians(0.5)) / 250.0, rel=1e-12)
    assert cpa == pytest.approx(d / 1000, rel=1e-12)  # the closest point is now
    assert tdb == pytest.approx(d / 1000, rel=1e-12)
    assert twrp == math.inf


def test_crossing_track_passes_north_of_the_asset() -> None:
    # Track 30 km west and ~10 km north of the DA, heading east at 200 m/s: it crosses
    # in front, closest ~10 km after ~150 s (flat-earth numbers; exact within 0.2 %).
    lat, lon = 10_000 / 110_574.0, -30_000 / 111_320.0
    cpa, tcpa, tdb, twrp = one(lat, lon, 200.0, 90.0, 0.0, 0.0, 2.0, weapon_range_km=15.0)
    assert cpa == pytest.approx(10.0, rel=2e-3)
    assert tcpa == pytest.approx(150.0, rel=2e-3)
    assert tdb == pytest.approx(math.hypot(30.0, 10.0) - 2.0, rel=2e-3)
    # Reaches 15 km range when the along-track distance is sqrt(15² - 10²) = 11.18 km.
    assert twrp == pytest.approx((30.0 - math.sqrt(15.0**2 - 10.0**2)) * 1000 / 200.0, rel=2e-3)
    # Through a 9 km weapon range it never comes: closest 10 km.
    assert one(lat, lon, 200.0, 90.0, 0.0, 0.0, 2.0, weapon_range_km=9.0)[3] == math.inf


def test_stationary_track() -> None:
    cpa, tcpa, tdb, twrp = one(0.0, 0.2, 0.0, 123.0, 0.0, 0.0, 1.0, weapon_range_km=10.0)
    d = A * math.sin(math.radians(0.2)) / 1000
    assert tcpa == math.inf
    assert cpa == pytest.approx(d, rel=1e-12)
    assert tdb == pytest.approx(d - 1.0, rel=1e-12)
    assert twrp == math.inf  # stationary outside the weapon range
    # ...and inside it, release is possible now.
    assert one(0.0, 0.05, 0.0, 0.0, 0.0, 0.0, 1.0, weapon_range_km=10.0)[3] == 0.0


def test_already_inside_the_asset_and_the_weapon_range() -> None:
    cpa, tcpa, tdb, twrp = one(0.0, 0.01, 300.0, 270.0, 0.0, 0.0, 5.0, weapon_range_km=20.0)
    assert tdb == 0.0
    assert twrp == 0.0
    assert cpa == pytest.approx(0.0, abs=1e-9)
    assert tcpa == pytest.approx(A * math.tan(math.radians(0.01)) / 300.0, rel=1e-12)


def test_never_closing_enough_for_weapon_release() -> None:
    # Passes 10 km abeam (closing, tcpa > 0) but the weapon only reaches 5 km.
    lat, lon = 10_000 / 110_574.0, -30_000 / 111_320.0
    cpa, tcpa, _, twrp = one(lat, lon, 200.0, 90.0, 0.0, 0.0, 0.0, weapon_range_km=5.0)
    assert tcpa > 0
    assert cpa > 5.0
    assert twrp == math.inf


def test_tangent_weapon_circle_gives_finite_twrp() -> None:
    # A track whose CPA equals the weapon range touches it exactly at TCPA.
    k = pair_kinematics(0.02, -0.3, 150.0, 90.0, 0.0, 0.0)
    cpa = float(k.cpa_km[0, 0])
    k2 = pair_kinematics(0.02, -0.3, 150.0, 90.0, 0.0, 0.0, weapon_range_km=cpa * (1 + 1e-12))
    assert float(k2.twrp_s[0, 0]) == pytest.approx(float(k2.tcpa_s[0, 0]), rel=1e-4)


@pytest.mark.parametrize(("h1", "h2"), [(0.0, 360.0), (270.0, -90.0), (90.0, 450.0), (359.0, -1.0)])
def test_heading_wraps(h1: float, h2: float) -> None:
    a = one(0.1, 0.3, 200.0, h1, 0.0, 0.0, 1.0)
    b = one(0.1, 0.3, 200.0, h2, 0.0, 0.0, 1.0)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)


def test_headings_either_side_of_north_are_mirror_images() -> None:
    # Track due south of the DA heading 359.999° or 0.001°: symmetric miss distances and times.
    a = one(-0.2, 0.0, 200.0, 359.999, 0.0, 0.0)
    b = one(-0.2, 0.0, 200.0, 0.001, 0.0, 0.0)
    np.testing.assert_allclose(a, b, rtol=1e-9)
    assert a[0] < 0.001  # nearly head-on


def test_asset_near_the_antimeridian() -> None:
    # DA at 179.9°E, track at 179.8°W heading west: 0.3° apart head-on across the wrap.
    v = 300.0
    cpa, tcpa, tdb, _ = one(0.0, -179.8, v, 270.0, 0.0, 179.9, 0.0)
    assert cpa == pytest.approx(0.0, abs=1e-9)
    assert tcpa == pytest.approx(A * math.tan(math.radians(0.3)) / v, rel=1e-10)
    assert tdb == pytest.approx(A * math.sin(math.radians(0.3)) / 1000, rel=1e-10)
    # Heading east it recedes (it would be 360° - 0.3° the other way round).
    assert one(0.0, -179.8, v, 90.0, 0.0, 179.9, 0.0)[1] < 0


def test_asset_at_the_pole_track_heading_north_flies_over_it() -> None:
    # From (89.5°, 45°) due north, in the pole's plane the velocity is exactly anti-parallel to
    # the position: CPA 0 at t = N cos φ / (v sin φ).
    phi, v = math.radians(89.5), 250.0
    n_phi = A / math.sqrt(1 - geo.WGS84_E2 * math.sin(phi) ** 2)
    cpa, tcpa, tdb, _ = one(89.5, 45.0, v, 0.0, 90.0, 0.0, 0.0)
    assert cpa == pytest.approx(0.0, abs=1e-8)
    assert tcpa == pytest.approx(n_phi * math.cos(phi) / (v * math.sin(phi)), rel=1e-10)
    assert tdb == pytest.approx(n_phi * math.cos(phi) / 1000, rel=1e-10)
    # The naive "heading in the DA's frame" would point this track sideways: cpa ~ range.
    ve, vn = v * math.sin(0.0), v * math.cos(0.0)
    e_arr, n_arr, _ = geo.enu_offsets(89.5, 45.0, 90.0, 0.0)
    e, n = float(e_arr), float(n_arr)
    t_naive = max(-(e * ve + n * vn) / v**2, 0.0)
    assert math.hypot(e + ve * t_naive, n + vn * t_naive) / 1000 > 30.0


def test_asset_near_the_pole_crossing_track() -> None:
    # Track on the far side of the pole from the DA (0.3° of arc ≈ 33.5 km apart), heading
    # 10° off the line through both: CPA ≈ 33.5 sin 10°, TCPA ≈ 33.5 cos 10° / v.
    args = (89.8, 100.0, 200.0, 10.0, 89.9, -80.0, 1.0)
    k = pair_kinematics(*args, weapon_range_km=25.0)
    got = (k.cpa_km[0, 0], k.tcpa_s[0, 0], k.tdb_km[0, 0], k.twrp_s[0, 0])
    rng_km = float(k.range_km[0, 0])
    assert rng_km == pytest.approx(33.5, abs=0.1)
    assert got[0] == pytest.approx(rng_km * math.sin(math.radians(10.0)), rel=1e-3)
    assert got[1] == pytest.approx(rng_km * 1000 * math.cos(math.radians(10.0)) / 200.0, rel=1e-3)
    np.testing.assert_allclose(
        got, pair_kinematics_reference(*args, weapon_range_km=25.0), rtol=1e-9
    )
    np.testing.assert_allclose(got, _oracle(*args, wr=25.0), rtol=1e-7)
    # Heading straight at it (over the pole): CPA 0.
    assert one(89.8, 100.0, 200.0, 0.0, 89.9, -80.0)[0] == pytest.approx(0.0, abs=1e-9)


def _oracle(
    lat: float,
    lon: float,
    speed: float,
    heading: float,
    lat0: float,
    lon0: float,
    radius: float,
    wr: float,
) -> tuple[float, float, float, float]:
    """Independent implementation: pymap3d for the geometry, textbook formulas for the rest."""
    e, n, _ = pymap3d.geodetic2enu(lat, lon, 0.0, lat0, lon0, 0.0)
    h = math.radians(heading)
    vx, vy, vz = pymap3d.enu2ecefv(speed * math.sin(h), speed * math.cos(h), 0.0, lat, lon)
    ve, vn, _ = pymap3d.ecef2enuv(vx, vy, vz, lat0, lon0)
    p = np.array([e, n], dtype=float)
    v = np.array([ve, vn], dtype=float)
    vv = float(v @ v)
    tcpa = -float(p @ v) / vv if vv > 0 else math.inf
    cpa = float(np.linalg.norm(p + v * (max(tcpa, 0.0) if vv > 0 else 0.0))) / 1000
    r = float(np.linalg.norm(p))
    tdb = max(0.0, r / 1000 - radius)
    if r <= wr * 1000:
        twrp = 0.0
    else:
        roots = (
            np.roots([vv, 2 * float(p @ v), r * r - (wr * 1000) ** 2]) if vv > 0 else np.array([])
        )
        real = [x.real for x in roots if abs(x.imag) < 1e-9 * max(1.0, abs(x.real)) and x.real >= 0]
        twrp = min(real) if real else math.inf
    return cpa, tcpa, tdb, twrp


def test_matches_pymap3d_oracle_on_random_pairs() -> None:
    rng = np.random.default_rng(3)
    n, m = 40, 6
    lat0 = np.array([0.0, 45.0, -33.9, 89.9, 64.0, 10.0])
    lon0 = np.array([0.0, 179.95, 151.2, 30.0, -150.0, -179.99])
    radius = rng.uniform(0, 10, m)
    lat = np.clip(lat0[rng.integers(0, m, n)] + rng.uniform(-1.5, 1.5, n), -90, 90)
    lon = lon0[rng.integers(0, m, n)] + rng.uniform(-1.5, 1.5, n)
    speed = rng.uniform(0, 700, n)
    heading = rng.uniform(0, 360, n)
    speed[:3] = 0.0
    k = pair_kinematics(lat, lon, speed, heading, lat0, lon0, radius, weapon_range_km=40.0)
    for i in range(n):
        for j in range(m):
            exp = _oracle(lat[i], lon[i], speed[i], heading[i], lat0[j], lon0[j], radius[j], 40.0)
            got = (k.cpa_km[i, j], k.tcpa_s[i, j], k.tdb_km[i, j], k.twrp_s[i, j])
            for g, x in zip(got, exp, strict=True):
                if math.isinf(x):
                    assert g == x
                else:
                    assert g == pytest.approx(x, rel=1e-7, abs=1e-6)


def test_vectorized_equals_scalar_reference() -> None:
    rng = np.random.default_rng(4)
    n, m = 300, 17
    lat, lon = rng.uniform(-89, 89, n), rng.uniform(-180, 180, n)
    lat0 = np.clip(lat[rng.integers(0, n, m)] + rng.uniform(-2, 2, m), -90, 90)
    lon0 = lon[rng.integers(0, n, m)] + rng.uniform(-2, 2, m)
    speed, heading = rng.uniform(0, 1000, n), rng.uniform(-360, 720, n)
    speed[::7] = 0.0
    radius = rng.uniform(0, 30, m)
    wr = rng.uniform(1, 100, m)
    k = pair_kinematics(lat, lon, speed, heading, lat0, lon0, radius, weapon_range_km=wr)
    assert k.shape == (n, m)
    for i in range(0, n, 3):
        for j in range(m):
            ref = pair_kinematics_reference(
                lat[i], lon[i], speed[i], heading[i], lat0[j], lon0[j], radius[j], wr[j]
            )
            got = (k.cpa_km[i, j], k.tcpa_s[i, j], k.tdb_km[i, j], k.twrp_s[i, j])
            for g, r in zip(got, ref, strict=True):
                if math.isinf(r):
                    assert g == r
                else:
                    # TCPA of a nearly perpendicular track is a small difference: absolute slack.
                    assert g == pytest.approx(r, rel=1e-9, abs=1e-7)


def test_weapon_range_scalar_per_asset_default_and_nan() -> None:
    lat, lon = 0.0, 0.5
    assets_lat, assets_lon = np.zeros(3), np.zeros(3)
    default = pair_kinematics(lat, lon, 250.0, 270.0, assets_lat, assets_lon)
    np.testing.assert_array_equal(
        default.weapon_range_km, [DEFAULT_MODEL_PARAMS["weapon_range_km"]] * 3
    )
    per = pair_kinematics(
        lat, lon, 250.0, 270.0, assets_lat, assets_lon, weapon_range_km=[10.0, 30.0, np.nan]
    )
    d = A * math.sin(math.radians(0.5))
    vx = 250.0 * math.cos(math.radians(0.5))
    np.testing.assert_allclose(
        per.twrp_s[0, :2], [(d - 10_000) / vx, (d - 30_000) / vx], rtol=1e-12
    )
    assert per.twrp_s[0, 2] == math.inf  # no weapon at that asset
    np.testing.assert_allclose(default.twrp_s[0], (d - 20_000) / vx, rtol=1e-12)


def test_resolve_weapon_range_precedence() -> None:
    np.testing.assert_array_equal(
        resolve_weapon_range_km(3, override_km=5.0, per_asset_km=[1, 2, 3]), [5, 5, 5]
    )
    np.testing.assert_array_equal(
        resolve_weapon_range_km(3, per_asset_km=[1, np.nan, 3], params_km=7.0), [1, 7, 3]
    )
    np.testing.assert_array_equal(
        resolve_weapon_range_km(2, per_asset_km=[np.nan, 4.0]), [20.0, 4.0]
    )
    np.testing.assert_array_equal(resolve_weapon_range_km(2), [20.0, 20.0])
    with pytest.raises(ValueError, match="weapon_range_km must be >= 0"):
        resolve_weapon_range_km(2, override_km=-1.0)


def test_non_finite_track_or_asset_gives_nan_row_or_column() -> None:
    k = pair_kinematics(
        [0.0, np.nan, 0.1],
        [0.2, 0.2, 0.2],
        [100, 100, np.inf],
        [0, 0, 0],
        [0.0, np.nan],
        [0.0, 0.0],
    )
    for arr in (k.cpa_km, k.tcpa_s, k.tdb_km, k.twrp_s, k.range_km):
        assert np.isfinite(arr[0, 0]) or np.isinf(arr[0, 0])
        assert np.isnan(arr[1]).all()
        assert np.isnan(arr[2]).all()
        assert np.isnan(arr[:, 1]).all()


def test_input_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="da_radius_km must be >= 0 \\(asset 1"):
        pair_kinematics(0.0, 0.0, 1.0, 0.0, [0.0, 1.0], [0.0, 1.0], [1.0, -2.0])
    with pytest.raises(ValueError, match="speed_mps has 2 values, expected 3"):
        pair_kinematics([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [1.0, 2.0], 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="track_lat_deg must be 1-D"):
        pair_kinematics([[0.0]], [0.0], 1.0, 0.0, 0.0, 0.0)


def test_large_grid_blocks_agree_with_small_calls() -> None:
    # Row blocking must not change a single number.
    rng = np.random.default_rng(5)
    n, m = 2000, 30
    lat, lon = rng.uniform(20, 30, n), rng.uniform(70, 80, n)
    sp, hd = rng.uniform(0, 600, n), rng.uniform(0, 360, n)
    lat0, lon0, r = rng.uniform(20, 30, m), rng.uniform(70, 80, m), rng.uniform(0, 20, m)
    big = pair_kinematics(lat, lon, sp, hd, lat0, lon0, r)
    rows = [1, 999, 1999]
    small = pair_kinematics(lat[rows], lon[rows], sp[rows], hd[rows], lat0, lon0, r)
    for f in ("cpa_km", "tcpa_s", "tdb_km", "twrp_s"):
        np.testing.assert_array_equal(getattr(big, f)[rows], getattr(small, f))


@settings(max_examples=150, deadline=None)
@given(
    lat0=st.floats(-89.0, 89.0),
    lon0=st.floats(-180.0, 180.0),
    dlat=st.floats(-1.0, 1.0),
    dlon=st.floats(-1.0, 1.0),
    speed=st.floats(0.0, 2000.0),
    heading=st.floats(-720.0, 720.0),
    radius=st.floats(0.0, 50.0),
    wr=st.floats(0.5, 150.0),
)
def test_kinematic_invariants(
    lat0: float,
    lon0: float,
    dlat: float,
    dlon: float,
    speed: float,
    heading: float,
    radius: float,
    wr: float,
) -> None:
    k = pair_kinematics(
        lat0 + dlat, lon0 + dlon, speed, heading, lat0, lon0, radius, weapon_range_km=wr
    )
    cpa, tcpa, tdb, twrp, rng_km = (
        float(a[0, 0]) for a in (k.cpa_km, k.tcpa_s, k.tdb_km, k.twrp_s, k.range_km)
    )
    assert 0.0 <= cpa <= rng_km * (1 + 1e-12) + 1e-12
    assert tdb == pytest.approx(max(0.0, rng_km - radius), abs=1e-9)
    if tcpa <= 0:
        assert cpa == pytest.approx(rng_km, rel=1e-9, abs=1e-9)
    if rng_km <= wr:
        assert twrp == 0.0
    elif math.isfinite(twrp):
        # It does reach the weapon range, at the time reported, and its CPA is within it.
        assert twrp > 0
        assert cpa <= wr * (1 + 1e-9)
        ve, vn, _ = geo.enu_velocity_outer(
            lat0 + dlat, lon0 + dlon, *geo.velocity_from_speed_heading(speed, heading), lat0, lon0
        )
        e, n, _ = geo.enu_offsets(lat0 + dlat, lon0 + dlon, lat0, lon0)
        dist = math.hypot(float(e) + float(ve[0, 0]) * twrp, float(n) + float(vn[0, 0]) * twrp)
        assert dist == pytest.approx(wr * 1000, rel=1e-6)
    else:
        assert cpa > wr * (1 - 1e-9) or speed == 0.0


def test_empty_inputs_give_empty_grids() -> None:
    assert pair_kinematics([], [], [], [], [0.0], [0.0]).shape == (0, 1)
    assert pair_kinematics([0.0], [0.0], [1.0], [0.0], [], []).shape == (1, 0)


def test_engines_import_no_storage_api_or_bus() -> None:
    # Layering (docs/DESIGN): engines are pure numpy/scipy; a fresh interpreter proves it.
    import subprocess
    import sys

    code = (
        "import sys, argus.geo, argus.tewa.kinematics, argus.tewa.scoring, argus.tewa.state, "
        "argus.tewa.assignment, argus.tewa.presets\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'fastapi', 'celery') "
        "or m.startswith(('argus.db', 'argus.api', 'argus.cli', 'argus.pipeline', 'argus.jobs'))]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
