"""Ballistic flight: closed forms, conservation laws, shooting, catalogue ranges."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pymap3d import vincenty
from scipy.integrate import solve_ivp

from argus.geo import G0, WGS84_OMEGA, enu_axes_rad
from argus.sim.ballistic import (
    FlightOptions,
    UnreachableTargetError,
    coast_to_impact,
    fly_ballistic,
    launch_ballistic,
    max_range,
    solve_launch,
)
from argus.sim.catalogue import BallisticThreat, load_catalogue
from argus.sim.gravity import Gravity, gravitation_ecef
from tests._geo import ecef

CAT = load_catalogue()
SCUD_B = CAT.ballistic("scud-b")
SCUD_C = CAT.ballistic("scud-c")
MRBM = CAT.ballistic("mrbm-1300")


def _frame(lat: float, lon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    e, n, u = enu_axes_rad(np.radians(lat), np.radians(lon))
    return e, n, u


def test_vacuum_flat_gravity_free_flight_is_the_closed_form_parabola() -> None:
    lat, lon = 30.0, 40.0
    opts = FlightOptions.vacuum_flat(lat, lon)
    e, n, u = _frame(lat, lon)
    r0 = ecef(lat, lon, 10_000.0)
    v0 = 800.0 * e + 300.0 * n + 600.0 * u
    t0 = 5.0
    t_imp, p_imp, ok, tr = coast_to_impact(r0[None], v0[None], t0, options=opts, record=True)
    assert ok[0] and tr is not None
    g = np.asarray(opts.gravity.flat_vector_mps2)
    t = np.linspace(t0 + 0.5, t_imp[0], 400)
    p, v, a, valid = tr.sample(t)
    assert valid.all()
    dt = (t - t0)[:, None]
    exact = r0 + v0 * dt + 0.5 * g * dt**2
    rel = np.linalg.norm(p[0] - exact, axis=1) / np.linalg.norm(exact - r0, axis=1)
    assert rel.max() < 1e-6
    rel_v = np.linalg.norm(v[0] - (v0 + g * dt), axis=1) / np.linalg.norm(v0 + g * dt, axis=1)
    assert rel_v.max() < 1e-6
    np.testing.assert_allclose(a[0], np.broadcast_to(g, a[0].shape), atol=1e-9)
    # The predicted impact lies on the parabola.
    dti = t_imp[0] - t0
    assert (
        np.linalg.norm(p_imp[0] - (r0 + v0 * dti + 0.5 * g * dti**2))
        < 1e-6 * np.linalg.norm(v0) * dti
    )


def test_vertical_boost_in_vacuum_follows_the_rocket_equation() -> None:
    # Constant Isp (no back-pressure term), vacuum, uniform gravity, straight up.
    t = dataclasses.replace(SCUD_B, isp_sl_s=SCUD_B.isp_vac_s)
    lat, lon = -12.0, 77.0
    fl = fly_ballistic(t, lat, lon, 0.0, 90.0, options=FlightOptions.vacuum_flat(lat, lon))
    assert fl.trajectories is not None
    times = np.linspace(1.0, t.burn_time_s, 60)
    p, v, _, ok = fl.trajectories.sample(times)
    assert ok.all()
    _, _, up = _frame(lat, lon)
    r0 = ecef(lat, lon, 0.0)
    h = (p[0] - r0) @ up
    vz = v[0] @ up
    ve = G0 * t.isp_vac_s
    m = t.launch_mass_kg - t.mass_flow_kgps * times
    v_exact = ve * np.log(t.launch_mass_kg / m) - G0 * times
    h_exact = (
        ve * (times - m / t.mass_flow_kgps * np.log(t.launch_mass_kg / m)) - 0.5 * G0 * times**2
    )
    np.testing.assert_allclose(vz, v_exact, rtol=1e-6)
    np.testing.assert_allclose(h, h_exact, rtol=1e-6)
    horizontal = np.linalg.norm((p[0] - r0) - h[:, None] * up, axis=1)
    assert horizontal.max() < 1e-6 * h.max()
    assert fl.burnout_speed_mps[0] == pytest.approx(v_exact[-1], rel=1e-6)


@pytest.mark.parametrize("rotation", [False, True])
def test_energy_is_conserved_in_vacuum_with_j2_gravity(rotation: bool) -> None:
    # Inertial (no rotation): E = v²/2 + U(r). Rotating ECEF: the Jacobi integral
    # v²/2 - ω²(x² + y²)/2 + U(r) (the J2 field is axisymmetric, so both are exact invariants).
    opts = FlightOptions(gravity=Gravity("j2"), earth_rotation=rotation, drag=False)
    e, n, u = _frame(20.0, 30.0)
    r0 = ecef(20.0, 30.0, 300e3)[None]
    v0 = (5000.0 * e + 1000.0 * n + 800.0 * u)[None]
    _, _, ok, tr = coast_to_impact(r0, v0, options=opts, record=True)
    assert ok[0] and tr is not None
    k = tr.n_knots[0]
    assert k > 50
    p, v = tr.pos_ecef_m[0, :k], tr.vel_ecef_mps[0, :k]
    energy = 0.5 * np.sum(v * v, axis=1) + Gravity("j2").potential(p)
    if rotation:
        energy -= 0.5 * WGS84_OMEGA**2 * (p[:, 0] ** 2 + p[:, 1] ** 2)
    assert np.abs(energy - energy[0]).max() / abs(energy[0]) < 1e-10
    # Point-mass energy is *not* conserved under J2: the check above can fail.
    pm = 0.5 * np.sum(v * v, axis=1) + Gravity("point_mass").potential(p)
    if not rotation:
        assert np.abs(pm - pm[0]).max() / abs(pm[0]) > 1e-6


BALLISTIC = [t for t in CAT.values() if isinstance(t, BallisticThreat)]


def test_catalogued_missiles_reach_their_nominal_range_within_10_percent() -> None:
    """Every ballistic type of the catalogue (air-breathing types: test_airbreathing)."""
    threats = BALLISTIC
    k = len(threats)
    assert {t.key for t in threats} >= {"scud-b", "scud-c", "mrbm-1300"}
    azimuths = np.array([0.0, 90.0, 180.0, 270.0])
    mr = max_range(threats * 4, 30.0, 40.0, np.repeat(azimuths, k))
    got = mr.range_km.reshape(4, k)
    nominal = np.array([t.nominal_range_km for t in threats])
    assert np.all(np.abs(got / nominal - 1.0) < 0.10), got
    # Earth rotation helps an eastward shot and hurts a westward one.
    assert np.all(got[1] > got[0]) and np.all(got[3] < got[0])


def test_targets_at_95_percent_of_the_nominal_range_are_hit_and_at_110_refused() -> None:
    """Every ballistic type, shot westward (the shortest direction) from 30° N 40° E."""
    threats = BALLISTIC
    k = len(threats)
    nominal_m = 1000.0 * np.array([t.nominal_range_km for t in threats])
    lat0, lon0 = np.full(k, 30.0), np.full(k, 40.0)
    lat1, lon1 = _targets(lat0, lon0, 0.95 * nominal_m, np.full(k, 270.0))
    _, flight = launch_ballistic(threats, lat0, lon0, lat1, lon1)
    miss = np.linalg.norm(flight.impact_ecef_m - ecef(lat1, lon1, 0.0), axis=1)
    assert flight.impacted.all() and np.all(miss < 100.0), miss
    lat1, lon1 = _targets(lat0, lon0, 1.1 * nominal_m, np.full(k, 270.0))
    with pytest.raises(UnreachableTargetError) as info:
        solve_launch(threats, lat0, lon0, lat1, lon1)
    err = info.value
    assert err.rows.tolist() == list(range(k))
    np.testing.assert_allclose(err.range_km, 1.1 * nominal_m / 1000.0, rtol=1e-6)
    assert np.all(err.limit_km < 1.1 * nominal_m / 1000.0)
    for i, t in enumerate(threats):
        assert f"launch {i} ({t.key}): target at {1.1 * t.nominal_range_km:.1f} km" in str(err)


def _targets(
    lat0: np.ndarray, lon0: np.ndarray, dist_m: np.ndarray, bearing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    out = [
        vincenty.vreckon(a, b, c, d) for a, b, c, d in zip(lat0, lon0, dist_m, bearing, strict=True)
    ]
    return np.array([float(o[0]) for o in out]), np.array([float(o[1]) for o in out])


def test_shooting_lands_within_100_m_on_random_reachable_pairs() -> None:
    rng = np.random.default_rng(11)
    threats = [SCUD_B, SCUD_C, MRBM, SCUD_B, SCUD_C]
    n = len(threats)
    lat0 = rng.uniform(-55.0, 55.0, n)
    lon0 = rng.uniform(-180.0, 180.0, n)
    bearing = rng.uniform(0.0, 360.0, n)
    dist = rng.uniform(0.35, 0.92, n) * np.array([t.nominal_range_km for t in threats]) * 1000.0
    lat1, lon1 = _targets(lat0, lon0, dist, bearing)
    alt1 = rng.uniform(0.0, 800.0, n)
    sol, flight = launch_ballistic(
        threats, lat0, lon0, lat1, lon1, target_alt_m=alt1, launch_time_s=100.0
    )
    target = ecef(lat1, lon1, alt1)
    miss = np.linalg.norm(flight.impact_ecef_m - target, axis=1)
    assert flight.impacted.all()
    assert np.all(miss < 100.0), miss
    np.testing.assert_allclose(flight.impact_alt_m, alt1, atol=0.01)
    np.testing.assert_allclose(sol.ground_range_km, dist / 1000.0, rtol=1e-6)
    # Minimum energy below the maximum range cuts the engine before burnout.
    burn = np.array([t.burn_time_s for t in threats])
    assert np.all(sol.cutoff_s < burn)
    # Truth is sampled in absolute time from the launch to the impact.
    assert flight.trajectories is not None
    np.testing.assert_allclose(flight.trajectories.start_s, 100.0)
    np.testing.assert_allclose(flight.trajectories.end_s, flight.impact_time_s)


def test_lofted_minimum_energy_and_depressed_shapes() -> None:
    lat0, lon0, lat1, lon1 = np.array([33.0]), np.array([44.0]), np.array([31.6]), np.array([45.8])
    flights = {}
    for shape in ("lofted", "minimum_energy", "depressed"):
        sol, fl = launch_ballistic(SCUD_B, lat0, lon0, lat1, lon1, shape=shape)
        target = ecef(lat1, lon1, 0.0)
        assert np.linalg.norm(fl.impact_ecef_m - target, axis=1)[0] < 100.0
        flights[shape] = (sol, fl)
    apogee = {k: f.apogee_alt_m[0] for k, (_, f) in flights.items()}
    tof = {k: f.flight_time_s[0] for k, (_, f) in flights.items()}
    elev = {k: s.elevation_deg[0] for k, (s, _) in flights.items()}
    assert apogee["lofted"] > apogee["minimum_energy"] > apogee["depressed"]
    assert tof["lofted"] > tof["minimum_energy"] > tof["depressed"]
    assert elev["lofted"] > elev["minimum_energy"] > elev["depressed"]
    # Lofted and depressed burn the whole propellant; minimum energy stops early.
    assert flights["lofted"][0].cutoff_s[0] == pytest.approx(SCUD_B.burn_time_s)
    assert flights["minimum_energy"][0].cutoff_s[0] < SCUD_B.burn_time_s


def test_unreachable_target_raises_a_value_error_naming_both_ranges() -> None:
    lat1, lon1 = _targets(np.array([30.0]), np.array([40.0]), np.array([450e3]), np.array([45.0]))
    with pytest.raises(UnreachableTargetError) as info:
        solve_launch(SCUD_B, 30.0, 40.0, lat1, lon1)
    err = info.value
    assert isinstance(err, ValueError)
    assert "450.0 km" in str(err) and "maximum range 30" in str(err)
    assert err.range_km[0] == pytest.approx(450.0, rel=1e-6)
    assert 270.0 < err.limit_km[0] < 330.0


def test_rotating_frame_flight_equals_inertial_flight_seen_from_the_earth() -> None:
    # Coast integrated in rotating ECEF (Coriolis + centrifugal) versus the same initial state
    # integrated in an inertial frame with scipy's DOP853 and rotated back into ECEF.
    e, n, u = _frame(30.0, 40.0)
    r0 = ecef(30.0, 40.0, 1000.0)
    v0 = 1500.0 * (0.6 * n + 0.8 * u)
    t_imp, _, _, tr = coast_to_impact(
        r0[None], v0[None], options=FlightOptions(drag=False), record=True
    )
    assert tr is not None
    omega = np.array([0.0, 0.0, WGS84_OMEGA])

    def inertial(_t: float, y: np.ndarray) -> np.ndarray:
        return np.r_[y[3:], gravitation_ecef(y[None, :3])[0]]

    sol = solve_ivp(
        inertial,
        (0.0, t_imp[0]),
        np.r_[r0, v0 + np.cross(omega, r0)],
        method="DOP853",
        rtol=1e-12,
        atol=1e-6,
        dense_output=True,
    )
    times = np.linspace(10.0, t_imp[0], 12)
    p, v, _, _ = tr.state_at(np.zeros(times.size, dtype=int), times)
    for k, t in enumerate(times):
        y = sol.sol(t)
        c, s = np.cos(-WGS84_OMEGA * t), np.sin(-WGS84_OMEGA * t)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        r_ecef = rot @ y[:3]
        v_ecef = rot @ y[3:] - np.cross(omega, r_ecef)
        assert np.linalg.norm(p[k] - r_ecef) < 1e-3
        assert np.linalg.norm(v[k] - v_ecef) < 1e-5
    # Seen from the ground the shot drifts east of its meridian (northern hemisphere, north-bound).
    east = (tr.state_at([0], [t_imp[0]])[0][0] - r0) @ e
    assert 100.0 < east < 2000.0


def test_earth_rotation_deflects_a_northward_missile_to_the_east() -> None:
    still = fly_ballistic(
        SCUD_C, 30.0, 40.0, 0.0, 52.0, options=FlightOptions(earth_rotation=False), record=False
    )
    turning = fly_ballistic(SCUD_C, 30.0, 40.0, 0.0, 52.0, record=False)
    # Without rotation a meridian shot stays on the meridian (J2 is axisymmetric).
    assert still.impact_lon_deg[0] == pytest.approx(40.0, abs=1e-9)
    assert turning.impact_lon_deg[0] > 40.0 + 1e-3


def test_coast_to_impact_agrees_with_the_full_flight_in_vacuum() -> None:
    opts = FlightOptions(drag=False)
    fl = fly_ballistic(SCUD_C, 10.0, 20.0, 60.0, 50.0, options=opts)
    assert fl.trajectories is not None
    t_mid = 150.0
    p, v, _, ok = fl.trajectories.state_at([0], [t_mid])
    t_imp, p_imp, hit, _ = coast_to_impact(p, v, t_mid, options=opts)
    assert ok[0] and hit[0]
    assert np.linalg.norm(p_imp[0] - fl.impact_ecef_m[0]) < 2.0
    assert t_imp[0] == pytest.approx(fl.impact_time_s[0], abs=5e-3)
    # Drag with a low ballistic coefficient shortens the fall.
    _, p_drag, _, _ = coast_to_impact(p, v, t_mid, ballistic_coefficient_kgm2=500.0)
    assert np.linalg.norm(p_drag[0] - p[0]) < np.linalg.norm(p_imp[0] - p[0])


def test_earlier_cutoff_flies_shorter_and_inputs_are_checked() -> None:
    cut = np.array([30.0, 45.0, 62.0])
    fl = fly_ballistic(SCUD_B, 0.0, 0.0, 90.0, 50.0, cutoff_s=cut, record=False)
    assert np.all(np.diff(fl.ground_range_km()) > 0)
    with pytest.raises(ValueError, match="cutoff_s"):
        fly_ballistic(SCUD_B, 0.0, 0.0, 90.0, 50.0, cutoff_s=70.0)
    with pytest.raises(ValueError, match="elevation_deg"):
        fly_ballistic(SCUD_B, 0.0, 0.0, 90.0, 0.0)
    with pytest.raises(ValueError, match="shape"):
        solve_launch(SCUD_B, 0.0, 0.0, 1.0, 1.0, shape="sideways")  # type: ignore[arg-type]


def test_sampled_truth_is_self_consistent_during_coast() -> None:
    fl = fly_ballistic(MRBM, 25.0, 50.0, 120.0, 72.0)
    assert fl.trajectories is not None
    t0, t1 = 150.0, fl.impact_time_s[0] - 20.0
    t = np.arange(t0, t1, 0.01)
    p, v, a, ok = fl.trajectories.sample(t)
    assert ok.all()
    dv = np.gradient(p[0], 0.01, axis=0)[1:-1] - v[0, 1:-1]
    da = np.gradient(v[0], 0.01, axis=0)[1:-1] - a[0, 1:-1]
    assert np.abs(dv).max() < 1e-3
    assert np.abs(da).max() < 0.05
    # Re-entry decelerates: the acceleration near the end exceeds gravity.
    _, _, a_end, _ = fl.trajectories.state_at([0], [fl.impact_time_s[0] - 5.0])
    assert np.linalg.norm(a_end[0]) > 2.0 * G0


@pytest.mark.slow
def test_shooting_sweep_over_many_pairs() -> None:
    rng = np.random.default_rng(12)
    n = 24
    threats = [SCUD_B, SCUD_C, MRBM] * (n // 3)
    lat0 = rng.uniform(-60.0, 60.0, n)
    lon0 = rng.uniform(-180.0, 180.0, n)
    dist = rng.uniform(0.3, 0.95, n) * np.array([t.nominal_range_km for t in threats]) * 1000.0
    lat1, lon1 = _targets(lat0, lon0, dist, rng.uniform(0.0, 360.0, n))
    for shape in ("minimum_energy", "lofted", "depressed"):
        _, flight = launch_ballistic(threats, lat0, lon0, lat1, lon1, shape=shape)
        miss = np.linalg.norm(flight.impact_ecef_m - ecef(lat1, lon1, 0.0), axis=1)
        assert np.all(miss < 100.0), (shape, miss)
