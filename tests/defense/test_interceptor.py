"""Interceptor flight, guidance, seeker and fuzing: numbers that would be wrong if the code were."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus.defense.interceptor import (
    FUZE_ARM_TIME_S,
    SM6_CLASS,
    InterceptorType,
    closest_approach,
    fly_engagements,
    fly_out_distance_m,
    keyed_normal,
    keyed_uniform,
    launch,
    retarget,
    seeker_measure,
    self_destruct,
    speed_profile_mps,
    step,
)
from tests.defense._geometry import LAUNCHER, constant_velocity, enu_point, enu_vector

#: No autopilot lag: the achieved acceleration is the command (exact straight-line checks).
NO_LAG = replace(SM6_CLASS, name="no lag", autopilot_lag_s=0.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pk", 1.5),
        ("lethal_radius_m", -1.0),
        ("max_speed_mps", 0.0),
        ("max_accel_g", float("nan")),
        ("nav_constant", 0.0),
        ("seeker_noise_rad", -1e-3),
        ("launch_speed_mps", 5_000.0),
        ("min_intercept_alt_m", 40_000.0),
    ],
)
def test_validation_names_the_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        replace(SM6_CLASS, **{field: value})


def test_sm6_class_range_is_reachable_within_its_flight_time() -> None:
    reach = float(fly_out_distance_m(SM6_CLASS, SM6_CLASS.max_flight_time_s))
    assert SM6_CLASS.max_range_m <= reach < 1.01 * SM6_CLASS.max_range_m
    assert 0.7 <= SM6_CLASS.pk <= 0.85


def _straight_ahead(n: int, itype: InterceptorType = NO_LAG):  # type: ignore[no-untyped-def]
    """n interceptors launched north-up at 45°, a stationary "target" far ahead on that line."""
    d = enu_vector(np.tile([0.0, 1.0, 1.0], (n, 1)))
    state = launch([itype], np.zeros(n, dtype=np.int64), np.tile(LAUNCHER, (n, 1)), d, 0.0, 0)
    far = LAUNCHER + 1e7 * d / np.linalg.norm(d, axis=1, keepdims=True)
    return state, far


def test_straight_flight_covers_the_envelope_distance_and_holds_the_speed_profile() -> None:
    state, far = _straight_ahead(2)
    zero = np.zeros_like(far)
    for _ in range(150):  # 15 s: through the 6 s boost and beyond
        state, _res = step(state, 0.1, far, zero, true_target_pos=far, true_target_pos_next=far)
    flown = np.linalg.norm(state.pos - LAUNCHER, axis=1)
    # the trapezoid is exact on the linear ramp: only the boost-end kink step is off, by < 1 m
    np.testing.assert_allclose(flown, fly_out_distance_m(NO_LAG, 15.0), atol=1.0)
    speed = np.linalg.norm(state.vel, axis=1)
    np.testing.assert_allclose(speed, NO_LAG.max_speed_mps, rtol=1e-12)
    t = np.array([0.0, 3.0, 6.0, 10.0])
    np.testing.assert_allclose(
        speed_profile_mps(t, 50.0, 1_200.0, 6.0), [50.0, 625.0, 1_200.0, 1_200.0]
    )


def _crossing_truth(n: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    start = np.stack(
        [rng.uniform(-15e3, 15e3, n), rng.uniform(25e3, 35e3, n), rng.uniform(3e3, 9e3, n)], 1
    )
    vel = np.stack([rng.uniform(-250, 250, n), rng.uniform(-300, -100, n), np.zeros(n)], 1)
    return constant_velocity(enu_point(start), enu_vector(vel))


@pytest.mark.parametrize("law", ["pn", "apn"])
def test_pn_against_a_constant_velocity_target_misses_by_far_less_than_the_lethal_radius(
    law: str,
) -> None:
    n = 8
    res = fly_engagements(
        [SM6_CLASS], np.zeros(n, dtype=np.int64), np.tile(LAUNCHER, (n, 1)), 0.0,
        _crossing_truth(n), law=law, use_seeker=False, dt_near_s=0.005,  # type: ignore[arg-type]
    )  # fmt: skip
    assert res.detonated.all() and not res.self_destructed.any()
    assert np.max(res.miss_m) < 0.05 * SM6_CLASS.lethal_radius_m


def test_pure_pursuit_misses_a_crossing_target_that_pn_hits() -> None:
    n = 8
    res = fly_engagements(
        [SM6_CLASS], np.zeros(n, dtype=np.int64), np.tile(LAUNCHER, (n, 1)), 0.0,
        _crossing_truth(n), law="pursuit", use_seeker=False, dt_near_s=0.005,
    )  # fmt: skip
    assert np.median(res.miss_m) > SM6_CLASS.lethal_radius_m


@settings(max_examples=25, deadline=None)
@given(
    east=st.floats(-30e3, 30e3),
    north=st.floats(-30e3, 30e3),
    up=st.floats(100.0, 20e3),
    ve=st.floats(-2e3, 2e3),
    vn=st.floats(-2e3, 2e3),
    launch_az=st.floats(0.0, 2 * np.pi),
)
def test_g_limit_and_max_speed_are_never_exceeded(
    east: float, north: float, up: float, ve: float, vn: float, launch_az: float
) -> None:
    # launched in an arbitrary direction, often away from the target: demands saturate
    d = enu_vector([[np.sin(launch_az), np.cos(launch_az), 0.3]])
    state = launch([SM6_CLASS], [0], LAUNCHER[None], d, 0.0, 0)
    tp, tv = enu_point([[east, north, up]]), enu_vector([[ve, vn, -50.0]])
    for k in range(40):
        t0, t1 = tp + tv * (0.1 * k), tp + tv * (0.1 * (k + 1))
        if not state.alive[0]:  # passed its CPA and detonated
            break
        v_before = state.vel[0].copy()
        state, _ = step(
            state, 0.1, t0, tv, np.zeros((1, 3)), true_target_pos=t0, true_target_pos_next=t1,
            kill_uniform=np.zeros(1),
        )  # fmt: skip
        assert np.linalg.norm(state.accel_mps2) <= SM6_CLASS.max_accel_mps2 * (1 + 1e-12)
        assert np.linalg.norm(state.vel) <= SM6_CLASS.max_speed_mps * (1 + 1e-12)
        # the airframe acceleration is lateral (across the velocity it was applied at)
        a = state.accel_mps2[0]
        assert abs(np.dot(a, v_before)) <= 1e-9 * np.linalg.norm(v_before) * max(
            np.linalg.norm(a), 1.0
        )


def test_flight_time_limit_self_destructs_without_a_kill() -> None:
    short = replace(NO_LAG, name="short", max_flight_time_s=5.0, max_range_m=5_000.0)
    p0, v0 = enu_point([[0.0, 80e3, 5e3]]), enu_vector([[0.0, -200.0, 0.0]])
    res = fly_engagements([short], [0], LAUNCHER[None], 0.0, constant_velocity(p0, v0))
    assert res.self_destructed[0] and not res.detonated[0] and not res.kill[0]
    assert np.isnan(res.miss_m[0])
    assert res.t_end_s[0] == pytest.approx(5.0, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(
    r0=st.tuples(*[st.floats(-500.0, 500.0)] * 3),
    dr=st.tuples(*[st.floats(-800.0, 800.0)] * 3),
)
def test_closed_form_cpa_equals_a_brute_force_search(
    r0: tuple[float, float, float], dr: tuple[float, float, float]
) -> None:
    rel0 = np.array([r0])
    rel1 = rel0 + np.array([dr])
    inside, s, miss = closest_approach(rel0, rel1)
    grid = np.linspace(0.0, 1.0, 200_001)
    ranges = np.linalg.norm(rel0 + grid[:, None] * (rel1 - rel0), axis=1)
    k = int(np.argmin(ranges))
    assert miss[0] == pytest.approx(ranges[k], abs=1e-6 * max(1.0, np.linalg.norm(dr)))
    assert miss[0] <= ranges[k] + 1e-9  # the closed form is the true minimum
    if 0 < k < grid.size - 1:
        assert abs(s[0] - grid[k]) < 1e-4 + 1e-3 * (ranges[k] < 1e-6)
    # a CPA strictly inside the step is one where the range rate turns
    if inside[0]:
        assert 0.0 < s[0] < 1.0 or miss[0] == pytest.approx(ranges[-1])


def test_a_cpa_at_the_step_boundary_is_not_lost() -> None:
    # closing through the whole first step, then (the relative velocity turned) opening from
    # the start of the second: the minimum is at the boundary, which neither step sees alone
    first = closest_approach(np.array([[-20.0, 3.0, 0.0]]), np.array([[-1.0, 3.0, 0.0]]))
    assert not first[0][0]
    rel0, rel1 = np.array([[-1.0, 3.0, 0.0]]), np.array([[-1.0, 13.0, 0.0]])
    assert not closest_approach(rel0, rel1)[0][0]
    inside, s, miss = closest_approach(rel0, rel1, closing_before=np.array([True]))
    assert inside[0] and s[0] == 0.0 and miss[0] == pytest.approx(np.sqrt(10.0))


def test_detonation_point_and_time_at_the_cpa_of_a_fly_by() -> None:
    # an interceptor at 1,000 m/s passing 4 m beside a stationary target, mid-step
    itype = replace(NO_LAG, name="fly-by", launch_speed_mps=1_000.0, max_speed_mps=1_000.0)
    d = enu_vector([[0.0, 1.0, 0.0]])
    state = launch([itype], [0], enu_point([[0.0, -25.0, 1e3]]), d, 0.0, 0)
    state = replace(state, launch_time_s=np.array([-2.0]))  # 2 s into its flight: armed
    target = enu_point([[4.0, 0.0, 1e3]])
    ahead = enu_point([[0.0, 1e6, 1e3]])  # guidance told to fly straight on
    zero = np.zeros((1, 3))
    state, res = step(
        state, 0.05, ahead, zero, true_target_pos=target, true_target_pos_next=target,
        kill_uniform=np.zeros(1),
    )  # fmt: skip
    assert res.detonated[0] and res.kill[0] and not state.alive[0]
    assert res.miss_m[0] == pytest.approx(4.0, abs=1e-3)
    np.testing.assert_allclose(res.point[0], enu_point([[0.0, 0.0, 1e3]])[0], atol=1e-2)
    assert res.t_cpa_s[0] == pytest.approx(0.025, abs=1e-5)


def _endgame(n: int, miss_offset_m: float):  # type: ignore[no-untyped-def]
    """n armed interceptors 500 m short of stationary targets, offset sideways."""
    itype = replace(NO_LAG, name="endgame", launch_speed_mps=1_200.0, seeker_range_m=0.0)
    d = enu_vector(np.tile([0.0, 1.0, 0.0], (n, 1)))
    start = enu_point(np.tile([0.0, -500.0, 2e3], (n, 1)))
    state = launch([itype], np.zeros(n, dtype=np.int64), start, d, -FUZE_ARM_TIME_S, 0)
    target = enu_point(np.tile([miss_offset_m, 0.0, 2e3], (n, 1)))
    return state, target


def test_kill_fraction_within_the_lethal_radius_is_pk() -> None:
    n = 20_000
    state, target = _endgame(n, 3.0)
    zero = np.zeros_like(target)
    # one 1 s step: the CPA is inside it; no guidance input (the track is the truth)
    state, res = step(
        state, 1.0, target, zero, true_target_pos=target, true_target_pos_next=target,
        law="pursuit", rng=np.random.default_rng(11),
    )  # fmt: skip
    assert res.detonated.all() and (res.miss_m <= NO_LAG.lethal_radius_m).all()
    pk = NO_LAG.pk
    bound = 5.0 * np.sqrt(pk * (1 - pk) / n)  # 5σ binomial
    assert abs(res.kill.mean() - pk) < bound


def test_no_kill_outside_the_lethal_radius_whatever_the_draw() -> None:
    state, target = _endgame(100, 12.0)
    zero = np.zeros_like(target)
    _, res = step(
        state, 1.0, target, zero, true_target_pos=target, true_target_pos_next=target,
        law="pursuit", kill_uniform=np.zeros(100),
    )  # fmt: skip
    assert res.detonated.all() and (res.miss_m > 10.0).all() and not res.kill.any()


def test_seeker_noise_model() -> None:
    n = 4_000
    state, target = _endgame(n, 0.0)
    p = replace(state.params, seeker_range_m=np.full(n, 1e4), seeker_noise_rad=np.full(n, 2e-3))
    state = replace(state, params=p)
    tv = enu_vector(np.tile([0.0, -300.0, 0.0], (n, 1)))
    exact = seeker_measure(state, target, tv)
    np.testing.assert_allclose(exact.pos, target, atol=1e-9)
    assert exact.valid.all()
    noisy = seeker_measure(state, target, tv, rng=np.random.default_rng(3))
    err = noisy.pos - target
    los = (target - state.pos) / 500.0
    assert np.abs(np.einsum("ij,ij->i", err, los)).max() < 1e-6  # range exact
    # cross-LOS error: 2 axes of σ R = 1 m each
    assert np.sqrt(np.mean(np.sum(err**2, axis=1)) / 2) == pytest.approx(1.0, rel=0.05)
    far = seeker_measure(state, target + 2e4 * los, tv)
    assert not far.valid.any() and np.isnan(far.pos).all()


def test_self_destruct_and_retarget() -> None:
    state, target = _endgame(3, 0.0)
    state = replace(state, seeker_locked=np.ones(3, dtype=np.bool_))
    state = retarget(state, [1], 7)
    assert state.target_id.tolist() == [0, 7, 0]
    assert state.seeker_locked.tolist() == [True, False, True]
    state = self_destruct(state, np.array([True, False, False]))
    assert state.alive.tolist() == [False, True, True]
    before = state.pos.copy()
    zero = np.zeros_like(target)
    state, res = step(
        state, 0.01, target, zero, true_target_pos=target, true_target_pos_next=target
    )
    np.testing.assert_array_equal(state.pos[0], before[0])  # a dead interceptor does not move
    assert not res.detonated[0] and not res.self_destructed[0]


def test_keyed_noise_does_not_depend_on_the_batch() -> None:
    ids = np.arange(1_000)
    all_rows = keyed_normal(4, ids, 17, 3)
    np.testing.assert_array_equal(keyed_normal(4, ids[[5]], 17, 3), all_rows[[5]])
    assert abs(all_rows.mean()) < 0.1 and abs(all_rows.std() - 1.0) < 0.05
    u = keyed_uniform(4, ids, 0, 1)
    assert u.min() > 0.0 and u.max() < 1.0 and not np.array_equal(u, keyed_uniform(4, ids, 1, 1))


def test_vectorized_engagements_equal_a_loop_of_single_ones() -> None:
    n = 4
    truth = _crossing_truth(n)

    def track(t, ids, pos, vel, acc):  # type: ignore[no-untyped-def]
        return pos + 20.0 * keyed_normal(9, ids, 0, 3), vel + 2.0 * np.sin(t)[:, None], acc

    kw = {"track": track, "dt_far_s": 0.1, "dt_near_s": 0.005, "seed": 3}
    lp = np.tile(LAUNCHER, (n, 1))
    batch = fly_engagements([SM6_CLASS], np.zeros(n, dtype=np.int64), lp, 0.0, truth, **kw)
    assert batch.seeker_acquired.all() and batch.detonated.all()
    for k in range(n):
        one = fly_engagements([SM6_CLASS], [0], lp[[k]], 0.0, truth, engagement_id=[k], **kw)
        assert one.detonated[0] == batch.detonated[k] and one.kill[0] == batch.kill[k]
        np.testing.assert_allclose(one.miss_m[0], batch.miss_m[k], rtol=0, atol=1e-9)
        np.testing.assert_allclose(one.point[0], batch.point[k], rtol=0, atol=1e-9)
        np.testing.assert_allclose(one.t_end_s[0], batch.t_end_s[k], rtol=0, atol=1e-9)


def test_apn_beats_pn_against_a_manoeuvring_target_when_g_limited() -> None:
    # the target pulls a constant 5 g sideways from t = 4 s, known to the guidance (the track
    # is the truth). PN's demand grows to N/(N-2) a_T = 10 g at the end: an 8 g interceptor
    # saturates and misses; APN's demand starts at N a_T/2 and decays (Zarchan ch. 8), so it
    # saturates early, with time to recover. A 12 g interceptor hits with both.
    n = 6
    rng = np.random.default_rng(2)
    p0 = enu_point(np.stack([rng.uniform(-1e3, 1e3, n), np.full(n, 12e3), np.full(n, 3e3)], 1))
    v0 = enu_vector(np.tile([0.0, -250.0, 0.0], (n, 1)))
    a0 = enu_vector(np.tile([5.0 * 9.80665, 0.0, 0.0], (n, 1)))

    def truth(t, ids):  # type: ignore[no-untyped-def]
        tm = np.maximum(t - 4.0, 0.0)[:, None]
        pos = p0[ids] + v0[ids] * t[:, None] + 0.5 * a0[ids] * tm**2
        return pos, v0[ids] + a0[ids] * tm, a0[ids] * (tm > 0)

    lp, idx = np.tile(LAUNCHER, (n, 1)), np.zeros(n, dtype=np.int64)

    def misses(g: float, law: str) -> np.ndarray:
        itype = replace(NO_LAG, name=f"{g} g", max_accel_g=g)
        res = fly_engagements(
            [itype],
            idx,
            lp,
            0.0,
            truth,
            law=law,
            use_seeker=False,
            dt_near_s=0.005,  # type: ignore[arg-type]
        )
        assert res.detonated.all()
        return res.miss_m

    assert np.min(misses(8.0, "pn")) > 3 * SM6_CLASS.lethal_radius_m
    assert np.max(misses(8.0, "apn")) < 0.1
    assert np.max(misses(12.0, "pn")) < 0.1
