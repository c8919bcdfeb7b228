"""The engagement envelope: closed-form intercepts checked by hand and against the flight model."""

from __future__ import annotations

import numpy as np
import pytest

from argus.defense.envelope import engagement_envelope, fly_out_intercept, predict_intercept
from argus.defense.interceptor import SM6_CLASS, fly_engagements, fly_out_distance_m
from tests.defense._geometry import LAUNCHER, constant_velocity, enu_point, enu_vector


def test_head_on_intercept_by_hand() -> None:
    # target 10 km out closing at 100 m/s, interceptor 400 m/s: closing 500 m/s -> 20 s, 8 km
    t, pip = predict_intercept([[0.0, 0.0, 0.0]], [[10_000.0, 0, 0]], [[-100.0, 0, 0]], 400.0)
    assert t.shape == (1, 1) and pip.shape == (1, 1, 3)
    assert t[0, 0] == pytest.approx(20.0, rel=1e-12)
    np.testing.assert_allclose(pip[0, 0], [8_000.0, 0, 0], atol=1e-9)


def test_crossing_intercept_by_hand() -> None:
    # target from (-3000, 4000) at 300 m/s along +x; interceptor 400 m/s from the origin:
    # 7e4 t² + 1.8e6 t - 25e6 = 0 -> t = 10 s, PIP (0, 4000) at 4 km = 400 m/s x 10 s
    t, pip = predict_intercept([[0.0, 0, 0]], [[-3_000.0, 4_000, 0]], [[300.0, 0, 0]], 400.0)
    assert t[0, 0] == pytest.approx(10.0, rel=1e-12)
    np.testing.assert_allclose(pip[0, 0], [0.0, 4_000.0, 0.0], atol=1e-8)


def test_no_intercept_of_a_faster_receding_target_and_broadcast_shapes() -> None:
    launchers = np.array([[0.0, 0, 0], [0.0, 20_000, 0]])
    targets = np.array([[10_000.0, 0, 0], [5_000.0, 0, 0], [0.0, 5_000, 0]])
    vels = np.array([[600.0, 0, 0], [-100.0, 0, 0], [0.0, 0, 0]])
    t, pip = predict_intercept(launchers, targets, vels, [500.0, 250.0])
    assert t.shape == (2, 3) and pip.shape == (2, 3, 3)
    assert np.isinf(t[0, 0]) and np.isnan(pip[0, 0]).all()  # runs away faster
    assert t[0, 2] == pytest.approx(10.0)  # stationary at 5 km, 500 m/s
    assert t[1, 2] == pytest.approx(60.0)  # 15 km at 250 m/s
    # every finite solution: the interceptor's distance equals the target's, at the PIP
    dist = np.linalg.norm(pip - launchers[:, None, :], axis=-1)
    speed = np.array([500.0, 250.0])[:, None]
    ok = np.isfinite(t)
    np.testing.assert_allclose(dist[ok], (speed * t)[ok], rtol=1e-10)


def test_fly_out_intercept_follows_the_boost_profile() -> None:
    lp = np.zeros((3, 3))
    tp = np.array([[3_000.0, 0, 0], [60_000.0, 0, 0], [40_000.0, 30_000.0, 0]])
    tv = np.array([[-200.0, 0, 0], [-300.0, 0, 0], [0.0, -250.0, 0]])
    t, pip = fly_out_intercept(lp, tp, tv, SM6_CLASS)
    assert t[0] < SM6_CLASS.boost_time_s < t[1]  # the first inside the boost (bisection)
    reach = fly_out_distance_m(SM6_CLASS, t)
    np.testing.assert_allclose(np.linalg.norm(pip - lp, axis=1), reach, rtol=1e-9)
    np.testing.assert_allclose(pip, tp + tv * t[:, None], rtol=1e-12)


def test_limits_range_time_and_altitude() -> None:
    targets = enu_point(
        [[0.0, 60e3, 10e3], [0.0, 260e3, 10e3], [0.0, 60e3, 40e3], [0.0, 10e3, 0.0]]
    )
    vel = enu_vector([[0.0, -300.0, 0], [0.0, -100.0, 0], [0.0, -300.0, 0], [0.0, -250.0, 0]])
    env = engagement_envelope(LAUNCHER[None], SM6_CLASS, targets, vel)
    assert env.feasible.tolist() == [[True, False, False, False]]
    assert env.too_far.tolist() == [[False, True, False, False]]
    assert env.too_high.tolist() == [[False, False, True, False]]
    assert env.too_low.tolist() == [[False, False, False, True]]
    assert env.pip_alt_m[0, 0] == pytest.approx(10e3, abs=400.0)  # Earth curvature over 50 km


def test_a_type_per_launcher() -> None:
    from dataclasses import replace

    short = replace(SM6_CLASS, name="short", max_range_m=30e3, max_flight_time_s=40.0)
    launchers = np.stack([LAUNCHER, LAUNCHER, LAUNCHER])
    target = enu_point([[0.0, 60e3, 8e3]])
    vel = enu_vector([[0.0, -300.0, 0.0]])
    env = engagement_envelope(launchers, [SM6_CLASS, short, SM6_CLASS], target, vel)
    assert env.feasible[:, 0].tolist() == [True, False, True]
    assert env.too_far[1, 0] and env.range_m[1, 0] > 30e3
    # the same solve for the same type, whichever launcher row it is on
    assert env.t_intercept_s[0, 0] == env.t_intercept_s[2, 0] == env.t_intercept_s[1, 0]


def test_one_type_per_launcher_is_required() -> None:
    with pytest.raises(ValueError, match="types: one per launcher"):
        engagement_envelope(
            np.zeros((2, 3)) + LAUNCHER, [SM6_CLASS], LAUNCHER[None], np.zeros((1, 3))
        )


def test_the_flight_model_reaches_what_the_envelope_calls_feasible() -> None:
    start = np.array([[5e3, 60e3, 8e3], [-20e3, 45e3, 3e3], [0.0, 30e3, 200.0], [0.0, 300e3, 9e3]])
    vel_enu = np.array(
        [[0.0, -300.0, 0.0], [250.0, -100.0, 0.0], [-250.0, 0.0, 0.0], [0, -50.0, 0]]
    )
    p0, v0 = enu_point(start), enu_vector(vel_enu)
    env = engagement_envelope(LAUNCHER[None], SM6_CLASS, p0, v0)
    assert env.feasible[0].tolist() == [True, True, True, False]
    assert env.too_far[0, 3]
    res = fly_engagements(
        [SM6_CLASS], np.zeros(4, dtype=np.int64), np.tile(LAUNCHER, (4, 1)), 0.0,
        constant_velocity(p0, v0), dt_far_s=0.1, dt_near_s=0.005, use_seeker=False,
    )  # fmt: skip
    ok = env.feasible[0]
    assert res.detonated[ok].all()
    assert (res.miss_m[ok] < SM6_CLASS.lethal_radius_m).all()
    # the planning time matches the guided flight within 2 %
    np.testing.assert_allclose(res.t_end_s[ok], env.t_intercept_s[0, ok], rtol=0.02)
    # out of range: the interceptor runs out of flight time first
    assert not res.detonated[3] and res.self_destructed[3] and not res.kill[3]
    assert res.t_end_s[3] == pytest.approx(SM6_CLASS.max_flight_time_s, abs=1e-6)
