"""Air-breathing flight: coordinated turns, waypoints, limits, vectorization."""

from __future__ import annotations

import math

import numpy as np
import pytest

from argus.geo import G0, MEAN_EARTH_RADIUS_M, ecef_to_geodetic_rad, enu_axes_rad, geodesic_inverse
from argus.sim.airbreathing import (
    AirRoute,
    Manoeuvre,
    Waypoint,
    fly_airbreathing,
    turn_radius_m,
    turn_rate_rad_s,
)
from argus.sim.catalogue import AirBreathingThreat, load_catalogue

CAT = load_catalogue()
FIGHTER = CAT.airbreathing("fighter")
DRONE = CAT.airbreathing("shahed-136")
CRUISE = CAT.airbreathing("cruise-subsonic")


def _circle_fit(xy: np.ndarray) -> float:
    a = np.c_[2.0 * xy, np.ones(len(xy))]
    b = (xy**2).sum(axis=1)
    cx, cy, c = np.linalg.lstsq(a, b, rcond=None)[0]
    return float(np.sqrt(c + cx * cx + cy * cy))


@pytest.mark.parametrize("load_factor", [2.0, 4.0, 7.0])
def test_coordinated_turn_radius_is_v2_over_g_sqrt_n2_minus_1(load_factor: float) -> None:
    route = AirRoute(
        FIGHTER,
        (Waypoint(10.0, 20.0, 9000.0), Waypoint(12.0, 20.0, 9000.0)),
        manoeuvres=(Manoeuvre(10.0, 120.0, load_factor, "left"),),
    )
    fl = fly_airbreathing([route], t_end_s=140.0)
    t = np.linspace(15.0, 125.0, 800)
    p, v, a, ok = fl.trajectories.sample(t)
    assert ok.all()
    lat, lon, _ = ecef_to_geodetic_rad(p[0, :1])
    e, n, u = enu_axes_rad(lat, lon)
    xy = np.stack([(p[0] - p[0, 0]) @ e[0], (p[0] - p[0, 0]) @ n[0]], axis=1)
    speed = float(np.linalg.norm(v[0], axis=1).mean())
    assert speed == pytest.approx(250.0, rel=1e-5)
    expected = speed**2 / (G0 * math.sqrt(load_factor**2 - 1.0))
    assert float(turn_radius_m(speed, load_factor)) == pytest.approx(expected)
    assert _circle_fit(xy) == pytest.approx(expected, rel=1e-3)
    # Horizontal acceleration is the centripetal g·sqrt(n² - 1); the turn is to the left.
    horiz = a[0] - (a[0] @ u[0])[:, None] * u[0]
    np.testing.assert_allclose(
        np.linalg.norm(horiz, axis=1), G0 * math.sqrt(load_factor**2 - 1.0), rtol=2e-3
    )
    cross = np.cross(v[0], a[0]) @ u[0]
    assert np.all(cross > 0)  # counter-clockwise seen from above = left turn
    # One full circle takes 2π/ω.
    assert 2 * math.pi / float(turn_rate_rad_s(speed, load_factor)) == pytest.approx(
        2 * math.pi * expected / speed
    )


def test_route_is_flown_at_cruise_speed_and_altitude_to_the_final_waypoint() -> None:
    wps = (
        Waypoint(-25.0, 135.0, 1000.0),
        Waypoint(-24.9, 135.1, 1000.0),
        Waypoint(-24.85, 135.3, 1000.0),
    )
    fl = fly_airbreathing([AirRoute(DRONE, wps, start_time_s=5.0)])
    assert fl.reached_final[0]
    tr = fl.trajectories
    assert tr.start_s[0] == 5.0
    lat, lon, h = ecef_to_geodetic_rad(tr.pos_ecef_m[0, : tr.n_knots[0]])
    d, _ = geodesic_inverse(np.degrees(lat[-1]), np.degrees(lon[-1]), -24.85, 135.3)
    assert float(d) < 2.0 * DRONE.cruise_speed_mps
    np.testing.assert_allclose(h, 1000.0, atol=1.0)
    speed = np.linalg.norm(tr.vel_ecef_mps[0, : tr.n_knots[0]], axis=1)
    np.testing.assert_allclose(speed, DRONE.cruise_speed_mps, rtol=1e-6)
    # Flight time is about the path length over the speed (fly-by shortens the corner slightly).
    path = geodesic_inverse([-25.0, -24.9], [135.0, 135.1], [-24.9, -24.85], [135.1, 135.3])[
        0
    ].sum()
    assert tr.end_s[0] - 5.0 == pytest.approx(path / DRONE.cruise_speed_mps, rel=0.03)


def test_turn_rate_never_exceeds_the_airframe_limit() -> None:
    # A 150° corner: the drone must turn at its limit for a while, never faster.
    wps = (Waypoint(0.0, 0.0, 500.0), Waypoint(0.0, 0.06, 500.0), Waypoint(0.02, 0.01, 500.0))
    fl = fly_airbreathing([AirRoute(DRONE, wps)], step_s=0.5)
    t = np.arange(1.0, fl.end_time_s[0] - 1.0, 0.25)
    _, v, _, _ = fl.trajectories.sample(t)
    lat, lon, _ = ecef_to_geodetic_rad(fl.trajectories.sample(t)[0][0])
    e, n, _ = enu_axes_rad(lat, lon)
    heading = np.unwrap(np.arctan2(np.sum(v[0] * e, axis=1), np.sum(v[0] * n, axis=1)))
    rate = np.abs(np.gradient(heading, 0.25))
    limit = float(DRONE.max_turn_rate_rad_s(DRONE.cruise_speed_mps))
    assert rate.max() <= limit * 1.01  # unbounded, the heading law would ask for K·Δψ ≈ 1.3 rad/s
    assert rate.max() >= 0.99 * limit  # the limit is reached in the corner


def test_vehicles_fly_independently_when_flown_together() -> None:
    a = AirRoute(
        CRUISE, (Waypoint(30.0, 30.0, 50.0), Waypoint(30.5, 30.6, 50.0), Waypoint(30.4, 31.2, 0.0))
    )
    b = AirRoute(
        FIGHTER,
        (
            Waypoint(31.0, 30.0, 6000.0),
            Waypoint(31.2, 30.5, 9000.0),
            Waypoint(31.0, 30.9, 9000.0),
            Waypoint(30.8, 30.4, 9000.0),
        ),
        start_time_s=17.3,
        on_final="loop",
        end_time_s=700.0,
        manoeuvres=(Manoeuvre(100.0, 15.0, 5.0),),
    )
    together = fly_airbreathing([a, b])
    for i, route in enumerate((a, b)):
        alone = fly_airbreathing([route])
        k = alone.trajectories.n_knots[0]
        assert together.trajectories.n_knots[i] == k
        np.testing.assert_allclose(
            together.trajectories.pos_ecef_m[i, :k], alone.trajectories.pos_ecef_m[0, :k], atol=1e-6
        )
    assert together.end_time_s[1] == pytest.approx(700.0)
    assert not together.reached_final[1] or together.end_time_s[1] == pytest.approx(700.0)
    # The fighter climbs from 6 km to 9 km at no more than its climb rate.
    p, v, _, ok = together.trajectories.sample(np.arange(20.0, 600.0, 1.0))
    assert ok[1].all()
    lat, lon, _ = ecef_to_geodetic_rad(p[1])
    _, _, up = enu_axes_rad(lat, lon)
    assert np.max(np.sum(v[1] * up, axis=1)) <= FIGHTER.max_climb_rate_mps + 1e-6


def test_velocity_and_acceleration_are_derivatives_of_position() -> None:
    route = AirRoute(
        FIGHTER,
        (Waypoint(45.0, 5.0, 2000.0), Waypoint(45.5, 5.0, 7000.0)),
        manoeuvres=(Manoeuvre(30.0, 40.0, 3.0, "right"),),
    )
    fl = fly_airbreathing([route], t_end_s=90.0)
    dt = 0.01
    for lo, hi in ((2.0, 29.0), (31.0, 69.0)):  # away from the manoeuvre's start and end
        t = np.arange(lo, hi, dt)
        p, v, a, _ = fl.trajectories.sample(t)
        np.testing.assert_allclose(np.gradient(p[0], dt, axis=0)[1:-1], v[0, 1:-1], atol=2e-3)
        np.testing.assert_allclose(np.gradient(v[0], dt, axis=0)[1:-1], a[0, 1:-1], atol=0.05)


def test_route_validation_names_the_field() -> None:
    wp = (Waypoint(0.0, 0.0, 500.0), Waypoint(0.1, 0.0, 500.0))
    with pytest.raises(ValueError, match=r"routes\[0\].manoeuvres\[0\].load_factor_g: 12 outside"):
        fly_airbreathing([AirRoute(FIGHTER, wp, manoeuvres=(Manoeuvre(0.0, 5.0, 12.0),))])
    with pytest.raises(ValueError, match=r"waypoints\[1\].speed_mps: 300 outside"):
        fly_airbreathing([AirRoute(DRONE, (wp[0], Waypoint(0.1, 0.0, 500.0, 300.0)))])
    with pytest.raises(ValueError, match="end_time_s: required"):
        fly_airbreathing([AirRoute(DRONE, wp, on_final="hold")])
    with pytest.raises(ValueError, match="need at least 2"):
        fly_airbreathing([AirRoute(DRONE, wp[:1])])


AIR_TYPES = [k for k, t in CAT.items() if isinstance(t, AirBreathingThreat)]
# Distance one flight may cover: the published range of a missile or drone, twice the published
# combat radius of an aircraft (out and back). Written out so that a wrong factor fails.
ROUTE_LIMIT_KM = {"cruise-subsonic": 1600.0, "fighter": 1100.0, "shahed-136": 2000.0}
R_SPHERE = MEAN_EARTH_RADIUS_M  # the guidance's sphere: route lengths are haversine distances on it


def _route_of_length(threat: AirBreathingThreat, length_m: float) -> AirRoute:
    """Half the length due north along a meridian to the equator, half east along the equator."""
    half_deg = math.degrees(0.5 * length_m / R_SPHERE)
    alt = threat.cruise_alt_m
    return AirRoute(
        threat,
        (
            Waypoint(-half_deg, 100.0, alt),
            Waypoint(0.0, 100.0, alt),
            Waypoint(0.0, 100.0 + half_deg, alt),
        ),
    )


def test_every_air_breathing_type_has_a_route_limit() -> None:
    assert sorted(AIR_TYPES) == sorted(ROUTE_LIMIT_KM)
    for key in AIR_TYPES:
        assert CAT.airbreathing(key).max_route_km == ROUTE_LIMIT_KM[key]


@pytest.mark.parametrize("key", AIR_TYPES)
def test_routes_within_the_catalogued_range_fly_and_longer_ones_are_refused(key: str) -> None:
    threat = CAT.airbreathing(key)
    limit_m = 1000.0 * ROUTE_LIMIT_KM[key]
    for factor in (0.95, 0.999):
        route = _route_of_length(threat, factor * limit_m)
        assert route.length_m() == pytest.approx(factor * limit_m, rel=1e-9)
        fl = fly_airbreathing([route], t_end_s=60.0)  # validated whole, flown for a minute
        assert fl.end_time_s[0] == pytest.approx(60.0)
    for factor in (1.001, 1.1):
        route = _route_of_length(threat, factor * limit_m)
        if threat.kind == "aircraft":
            limit = (
                f"twice the {threat.nominal_range_km:,.0f} km combat radius of {key} "
                f"(out and back), {ROUTE_LIMIT_KM[key]:,.0f} km"
            )
        else:
            limit = f"the nominal range of {key}, {threat.nominal_range_km:,.0f} km"
        message = (
            f"routes[0]: route length {factor * limit_m / 1000.0:,.1f} km "
            f"(sum of its great-circle legs) exceeds {limit}"
        )
        with pytest.raises(ValueError) as info:
            fly_airbreathing([route], t_end_s=60.0)
        assert str(info.value) == message


def test_patrol_length_is_flight_time_times_top_commanded_speed() -> None:
    """A loop (or hold) has no final waypoint: its length is end - start times the highest
    commanded speed, here the fighter's 250 m/s cruise or a 400 m/s leg."""
    wps = (
        Waypoint(-23.6, 133.7, 9000.0),
        Waypoint(-23.9, 134.1, 9000.0),
        Waypoint(-23.4, 134.4, 9000.0),
    )
    ok = AirRoute(FIGHTER, wps, start_time_s=100.0, on_final="loop", end_time_s=100.0 + 4000.0)
    assert ok.length_m() == pytest.approx(4000.0 * 250.0)  # 1,000 km < 1,100 km
    ok.validate()
    fast = AirRoute(
        FIGHTER,
        (*wps[:2], Waypoint(-23.4, 134.4, 9000.0, 400.0)),
        start_time_s=100.0,
        on_final="loop",
        end_time_s=100.0 + 4000.0,
    )
    assert fast.length_m() == pytest.approx(4000.0 * 400.0)
    with pytest.raises(ValueError) as info:
        fast.validate("p")
    assert str(info.value) == (
        "p: route length 1,600.0 km (flight time × highest commanded speed) exceeds twice the "
        "550 km combat radius of fighter (out and back), 1,100 km"
    )
    # An "end" route stopped early by end_time_s is as long as the time allows.
    long = _route_of_length(CRUISE, 3.0e6)
    stopped = AirRoute(CRUISE, long.waypoints, start_time_s=10.0, end_time_s=10.0 + 3600.0)
    assert stopped.length_m() == pytest.approx(3600.0 * 240.0)
    stopped.validate()
    with pytest.raises(ValueError, match=r"route length 3,000\.0 km \(sum of its great-circle"):
        long.validate()


@pytest.mark.slow
def test_routes_at_95_percent_of_the_range_are_flown_to_the_end() -> None:
    """Flown to the end, the distance covered is the route length (less the cut corner)."""
    routes = [_route_of_length(CAT.airbreathing(k), 950.0 * ROUTE_LIMIT_KM[k]) for k in AIR_TYPES]
    fl = fly_airbreathing(routes, step_s=5.0)
    assert fl.reached_final.all()
    tr = fl.trajectories
    for i, route in enumerate(routes):
        k = tr.n_knots[i]
        flown = float(np.linalg.norm(np.diff(tr.pos_ecef_m[i, :k], axis=0), axis=1).sum())
        assert flown == pytest.approx(route.length_m(), rel=0.01)
        assert flown < 0.96 * 1000.0 * ROUTE_LIMIT_KM[AIR_TYPES[i]]
