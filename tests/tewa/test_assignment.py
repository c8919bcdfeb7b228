"""Weapon–target assignment: hand-solved cases, exact == brute force, bounds, gating, stability."""

from __future__ import annotations

import math

import numpy as np
import pytest

from argus import geo
from argus.tewa.assignment import (
    AssignmentPlan,
    EngagementGeometry,
    WTAProblem,
    engagement_geometry,
    evaluate,
    make_problem,
    objective_value,
    roe_mask,
    solve_brute_force,
    solve_exact,
    solve_greedy,
    solve_heuristic,
    stabilize,
    upper_bound,
    violations,
)

A = geo.WGS84_A


def two_round_problem(channels: int | None = None) -> WTAProblem:
    """One weapon, two rounds; targets worth 10 and 6 with kill probabilities 0.5 and 0.9.

    x = (2, 0): 10·0.75 = 7.5;  x = (1, 1): 5 + 5.4 = 10.4;  x = (0, 2): 6·0.99 = 5.94.
    """
    return make_problem([10.0, 6.0], [[0.5, 0.9]], rounds=2, channels=channels)


def greedy_trap() -> WTAProblem:
    """Greedy takes the 0.9 shot first (9 + 1 = 10); the optimum crosses over (8 + 8.5 = 16.5)."""
    return make_problem([10.0, 10.0], [[0.9, 0.8], [0.85, 0.1]], rounds=1)


def random_tiny(rng: np.random.Generator) -> WTAProblem:
    w, t = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    p = rng.uniform(0.05, 1.0, (w, t))
    p[rng.random((w, t)) < 0.1] = 1.0  # certain kills exercise the log-survival floor
    return make_problem(
        rng.uniform(1, 100, t),
        p,
        rounds=rng.integers(0, 4, w),
        channels=rng.integers(1, 4, w),
        feasible=rng.random((w, t)) < 0.85,
        hostile=rng.random(t) < 0.9,
    )


# ---------------------------------------------------------------- hand-solved


def test_two_rounds_split_between_targets() -> None:
    prob = two_round_problem()
    for plan in (
        solve_exact(prob),
        solve_brute_force(prob),
        solve_heuristic(prob, max_iterations=5),
    ):
        np.testing.assert_array_equal(plan.x, [[1, 1]])
        assert plan.objective == pytest.approx(10.4)
    assert upper_bound(prob) == pytest.approx(10.4)  # slot bound: 5.4 + 5.0


def test_one_fire_channel_forces_both_rounds_onto_one_target() -> None:
    prob = two_round_problem(channels=1)
    for plan in (
        solve_exact(prob),
        solve_brute_force(prob),
        solve_heuristic(prob, max_iterations=5),
    ):
        np.testing.assert_array_equal(plan.x, [[2, 0]])
        assert plan.objective == pytest.approx(7.5)
        np.testing.assert_allclose(plan.kill_probability, [0.75, 0.0])
    # Greedy fires its first round at the better single shot (5.4 > 5) and is then stuck there.
    greedy = solve_greedy(prob)
    np.testing.assert_array_equal(greedy.x, [[0, 2]])
    assert greedy.objective == pytest.approx(5.94)


def test_greedy_is_myopic_the_others_are_not() -> None:
    prob = greedy_trap()
    greedy = solve_greedy(prob)
    np.testing.assert_array_equal(greedy.x, [[1, 0], [0, 1]])
    assert greedy.objective == pytest.approx(10.0)
    for plan in (
        solve_exact(prob),
        solve_brute_force(prob),
        solve_heuristic(prob, max_iterations=5),
    ):
        np.testing.assert_array_equal(plan.x, [[0, 1], [1, 0]])
        assert plan.objective == pytest.approx(16.5)


def test_plan_fields_are_consistent() -> None:
    prob = make_problem([10.0, 20.0, 5.0], [[0.5, 0.6, 0.0], [0.7, 0.2, 0.9]], rounds=[2, 1])
    plan = solve_exact(prob)
    assert isinstance(plan, AssignmentPlan)
    q = 1.0 - prob.kill_prob
    surv = np.prod(q**plan.x, axis=0)
    np.testing.assert_allclose(plan.kill_probability, 1.0 - surv)
    np.testing.assert_allclose(plan.expected_value_saved, prob.values * (1.0 - surv))
    assert plan.objective == pytest.approx(plan.expected_value_saved.sum())
    assert plan.objective == pytest.approx(objective_value(prob, plan.x))
    assert plan.upper_bound >= plan.objective
    assert plan.gap == pytest.approx((plan.upper_bound - plan.objective) / plan.upper_bound)
    assert plan.proven_optimal and plan.status == "optimal" and plan.solver == "exact-oa-milp"
    assert plan.runtime_s >= 0
    np.testing.assert_array_equal(plan.rounds_used, plan.x.sum(axis=1))
    assert plan.x[0, 2] == 0  # p = 0 is never worth a round
    # Best: weapon 0 both rounds on target 1 (20·0.84 = 16.8), weapon 1 on target 2 (4.5)? or target 0 (7)?
    assert plan.objective == pytest.approx(objective_value(prob, [[0, 2, 0], [1, 0, 0]]))
    assert plan.objective == pytest.approx(16.8 + 7.0)


# ---------------------------------------------------------------- exact == brute force, bounds


def test_exact_equals_brute_force_on_many_tiny_instances() -> None:
    rng = np.random.default_rng(2026)
    milp_solves = 0
    for k in range(120):
        prob = random_tiny(rng)
        brute = solve_brute_force(prob)
        # Odd instances: MILP from scratch (no heuristic incumbent, no slot-bound shortcut).
        exact = solve_exact(prob, mip_rel_gap=1e-9, warm_start=k % 2 == 0)
        milp_solves += exact.iterations
        assert exact.proven_optimal, exact.status
        assert exact.objective == pytest.approx(brute.objective, rel=1e-7, abs=1e-9)
        assert exact.upper_bound >= brute.objective - 1e-7
        assert not [e for e in _violations(prob, exact.x)]
    assert milp_solves >= 60  # the outer-approximation loop itself was exercised


def _violations(prob: WTAProblem, x: np.ndarray) -> list[str]:
    return violations(prob, x)


def test_heuristic_and_greedy_never_beat_the_optimum_and_report_a_valid_gap() -> None:
    rng = np.random.default_rng(7)
    for _ in range(80):
        prob = random_tiny(rng)
        best = solve_brute_force(prob).objective
        heur = solve_heuristic(prob, time_limit_s=10.0, max_iterations=10)
        greedy = solve_greedy(prob)
        assert heur.objective <= best + 1e-9
        assert greedy.objective <= best + 1e-9
        assert heur.objective >= greedy.objective - 1e-9  # it starts from MMR and only improves
        assert heur.upper_bound >= best - 1e-9
        if heur.upper_bound > 0:
            assert heur.gap == pytest.approx((heur.upper_bound - heur.objective) / heur.upper_bound)


def test_upper_bound_methods_agree_and_bound_the_optimum() -> None:
    rng = np.random.default_rng(11)
    for _ in range(40):
        prob = random_tiny(rng)
        b1 = upper_bound(prob, method="assignment")
        b2 = upper_bound(prob, method="lp")
        assert b1 == pytest.approx(b2, rel=1e-7, abs=1e-9)
        assert b1 >= solve_brute_force(prob).objective - 1e-9
        assert upper_bound(prob, slots=8) <= b1 + 1e-9  # more slots: never looser
    with pytest.raises(ValueError, match="slots must be >= 2"):
        upper_bound(two_round_problem(), slots=1)


def test_heuristic_within_one_percent_on_a_benchmark_sized_instance() -> None:
    # 20 × 20, one round each, values U[25, 100], kill probabilities U[0.6, 0.9] (Ahuja et al.).
    rng = np.random.default_rng(20)
    prob = make_problem(rng.uniform(25, 100, 20), rng.uniform(0.6, 0.9, (20, 20)), rounds=1)
    exact = solve_exact(prob, time_limit_s=60)
    heur = solve_heuristic(prob, time_limit_s=30, max_iterations=50)
    assert exact.proven_optimal
    assert heur.objective <= exact.objective + 1e-9
    assert heur.objective >= 0.99 * exact.objective
    assert solve_greedy(prob).objective < exact.objective


def test_exact_reports_bound_and_gap_at_its_time_limit() -> None:
    rng = np.random.default_rng(3)
    w, t = 14, 20
    prob = make_problem(
        rng.uniform(10, 100, t),
        rng.uniform(0.2, 0.9, (w, t)) * (rng.random((w, t)) < 0.6),
        rounds=rng.integers(1, 5, w),
        channels=rng.integers(1, 4, w),
    )
    plan = solve_exact(prob, time_limit_s=0.05)
    assert plan.status == "time_limit"
    assert not plan.proven_optimal
    assert plan.upper_bound >= plan.objective > 0
    assert 0 < plan.gap < 1
    assert plan.gap == pytest.approx((plan.upper_bound - plan.objective) / plan.upper_bound)


def test_heuristic_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(5)
    prob = make_problem(
        rng.uniform(10, 100, 15),
        rng.uniform(0.2, 0.9, (10, 15)),
        rounds=rng.integers(1, 4, 10),
        channels=2,
    )
    a = solve_heuristic(prob, time_limit_s=60, max_iterations=30, seed=4)
    b = solve_heuristic(prob, time_limit_s=60, max_iterations=30, seed=4)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.iterations == b.iterations <= 30


# ---------------------------------------------------------------- gating and constraints


def test_roe_gating_never_assigns_friendly_or_non_hostile_targets() -> None:
    p = [[0.9, 0.9, 0.9]]
    values = [100.0, 50.0, 10.0]
    np.testing.assert_array_equal(
        roe_mask(3, hostile=[True, False, True], friendly=[True, False, False]),
        [False, False, True],
    )
    prob = make_problem(
        values, p, rounds=3, friendly=[True, False, False], hostile=[True, False, True]
    )
    for plan in (
        solve_exact(prob),
        solve_heuristic(prob, max_iterations=5),
        solve_greedy(prob),
        solve_brute_force(prob),
    ):
        assert plan.x[0, 0] == 0 and plan.x[0, 1] == 0
        assert plan.x[0, 2] == 3
        assert plan.objective == pytest.approx(10.0 * (1 - 0.1**3))
    none = make_problem(values, p, rounds=3, friendly=True)
    assert solve_exact(none).objective == 0.0
    assert solve_heuristic(none).x.sum() == 0


def test_envelope_mask_is_respected() -> None:
    prob = make_problem([100.0, 1.0], [[0.9, 0.9]], rounds=2, feasible=[[False, True]])
    plan = solve_exact(prob)
    np.testing.assert_array_equal(plan.x, [[0, 2]])
    with pytest.raises(ValueError, match="weapon 0 fires at target 0, which is not allowed"):
        evaluate(prob, [[1, 1]])


def test_rounds_and_channels_are_respected_everywhere() -> None:
    rng = np.random.default_rng(9)
    prob = make_problem(
        rng.uniform(10, 100, 12),
        rng.uniform(0.3, 0.9, (6, 12)),
        rounds=[4, 3, 2, 5, 1, 3],
        channels=[1, 2, 2, 3, 1, 1],
    )
    for plan in (
        solve_greedy(prob),
        solve_heuristic(prob, max_iterations=20),
        solve_exact(prob, time_limit_s=30),
    ):
        assert (plan.x.sum(axis=1) <= prob.rounds).all()
        assert ((plan.x > 0).sum(axis=1) <= prob.channels).all()


def test_make_problem_validation() -> None:
    with pytest.raises(ValueError, match="kill_prob\\[0, 1\\] must be in \\[0, 1\\]"):
        make_problem([1.0, 1.0], [[0.5, 1.5]])
    with pytest.raises(ValueError, match="values\\[1\\] must be finite and >= 0"):
        make_problem([1.0, -1.0], [[0.5, 0.5]])
    with pytest.raises(ValueError, match="kill_prob must have shape \\(weapons, 2\\)"):
        make_problem([1.0, 1.0], [[0.5, 0.5, 0.5]])
    with pytest.raises(ValueError, match="rounds\\[0\\] must be >= 0"):
        make_problem([1.0], [[0.5]], rounds=[-1])
    with pytest.raises(ValueError, match="rounds must be integers"):
        make_problem([1.0], [[0.5]], rounds=[1.5])


# ---------------------------------------------------------------- stability across cycles


def test_hysteresis_keeps_the_previous_plan_for_a_small_gain() -> None:
    prob = make_problem([10.0, 10.3], [[0.5, 0.5]], rounds=1)  # switching gains 3 %
    new = solve_exact(prob)
    np.testing.assert_array_equal(new.x, [[0, 1]])
    kept = stabilize(prob, [[1, 0]], new, hysteresis=0.05)
    assert kept.kept_previous and kept.status == "kept"
    np.testing.assert_array_equal(kept.x, [[1, 0]])
    assert kept.objective == pytest.approx(5.0)
    assert kept.upper_bound == new.upper_bound
    switched = stabilize(prob, [[1, 0]], new, hysteresis=0.0)
    assert not switched.kept_previous
    np.testing.assert_array_equal(switched.x, [[0, 1]])


def test_hysteresis_switches_for_a_large_gain() -> None:
    prob = make_problem([10.0, 11.0], [[0.5, 0.5]], rounds=1)  # switching gains 10 %
    new = solve_exact(prob)
    plan = stabilize(prob, [[1, 0]], new, hysteresis=0.05)
    assert not plan.kept_previous
    np.testing.assert_array_equal(plan.x, [[0, 1]])
    assert stabilize(prob, None, new) is new


def test_previous_plan_is_repaired_before_comparison() -> None:
    # Target 0 turned friendly and the weapon lost a round: the old 2 rounds on target 0 are
    # dropped; the one remaining round is re-used greedily, so keeping equals the candidate.
    prob = make_problem(
        [10.0, 8.0, 6.0], [[0.5, 0.5, 0.5]], rounds=1, friendly=[True, False, False]
    )
    new = solve_exact(prob)
    plan = stabilize(prob, [[2, 0, 0]], new, hysteresis=0.05)
    assert plan.kept_previous
    np.testing.assert_array_equal(plan.x, [[0, 1, 0]])
    assert plan.objective == pytest.approx(new.objective)
    # Channels shrank from 2 to 1: the less valuable engagement is dropped.
    prob2 = make_problem([10.0, 8.0], [[0.5, 0.5]], rounds=2, channels=1)
    plan2 = stabilize(prob2, [[1, 1]], solve_exact(prob2), hysteresis=0.5)
    assert plan2.kept_previous
    np.testing.assert_array_equal(plan2.x, [[2, 0]])
    with pytest.raises(ValueError, match="hysteresis must be >= 0"):
        stabilize(prob2, [[1, 1]], solve_exact(prob2), hysteresis=-0.1)


# ---------------------------------------------------------------- geometry


def _head_on(
    speed: float,
    max_range_km: float,
    min_range_km: float = 0.0,
    max_target_speed: float = 1000.0,
    heading: float = 270.0,
) -> tuple[float, EngagementGeometry]:
    lam = math.degrees(math.asin(30_000 / A))  # 30 km east of the battery on the equator
    g = engagement_geometry(
        0.0, 0.0, min_range_km, max_range_km, 1000.0, max_target_speed, 0.0, lam, speed, heading
    )
    return lam, g


def test_engagement_geometry_head_on_intercept() -> None:
    lam, g = _head_on(300.0, 25.0)
    t_hit = 30_000 / (1000 + 300 * math.cos(math.radians(lam)))
    assert g.intercept_time_s[0, 0] == pytest.approx(t_hit, rel=1e-12)  # ≈ 23.08 s
    assert g.intercept_range_km[0, 0] == pytest.approx(t_hit, rel=1e-12)  # interceptor at 1 km/s
    assert g.feasible[0, 0]
    assert g.kill_prob[0, 0] == 0.7  # default
    assert not _head_on(300.0, 20.0)[1].feasible[0, 0]  # intercept beyond max range
    assert not _head_on(300.0, 25.0, min_range_km=24.0)[1].feasible[0, 0]
    assert not _head_on(300.0, 25.0, max_target_speed=250.0)[1].feasible[0, 0]
    # Receding faster than the interceptor: no intercept at all.
    _, away = _head_on(1200.0, 1000.0, heading=90.0)
    assert away.intercept_time_s[0, 0] == math.inf and not away.feasible[0, 0]
    # Receding slower: caught from behind at 30 km / (1000 - 500 cos λ) s.
    _, chase = _head_on(500.0, 100.0, heading=90.0)
    assert chase.intercept_time_s[0, 0] == pytest.approx(
        30_000 / (1000 - 500 * math.cos(math.radians(lam))), rel=1e-12
    )


def test_engagement_geometry_kill_probability_table() -> None:
    table = [[0.8, np.nan], [0.6, 0.7]]
    lat = [0.0, 0.0]
    lon = [0.1, 0.1]
    g = engagement_geometry(
        battery_lat_deg=[0.0, 0.0, 0.0],
        battery_lon_deg=[0.0, 0.0, 0.0],
        min_range_km=0.0,
        max_range_km=50.0,
        interceptor_speed_mps=1000.0,
        max_target_speed_mps=1000.0,
        target_lat_deg=lat,
        target_lon_deg=lon,
        target_speed_mps=[200.0, 200.0],
        target_heading_deg=[270.0, 270.0],
        weapon_type=[0, 1, -1],
        threat_class=[0, 1],
        pk_table=table,
        default_pk=0.5,
    )
    np.testing.assert_allclose(g.kill_prob, [[0.8, 0.5], [0.6, 0.7], [0.5, 0.5]])
    prob = make_problem([10.0, 20.0], g.kill_prob, rounds=1, feasible=g.feasible)
    assert solve_exact(prob).objective == pytest.approx(solve_brute_force(prob).objective)


@pytest.mark.parametrize(("w", "t"), [(0, 3), (3, 0), (0, 0)])
def test_empty_problems(w: int, t: int) -> None:
    prob = make_problem(np.full(t, 10.0), np.full((w, t), 0.5), rounds=1)
    for plan in (
        solve_exact(prob),
        solve_heuristic(prob),
        solve_greedy(prob),
        solve_brute_force(prob),
    ):
        assert plan.x.shape == (w, t)
        assert plan.objective == 0.0
    assert upper_bound(prob) == 0.0
    assert stabilize(prob, np.zeros((w, t), dtype=int), solve_greedy(prob)).objective == 0.0


# ---------------------------------------------------------------- salvo caps


def random_tiny_capped(rng: np.random.Generator) -> WTAProblem:
    """2-3 weapons × 2-3 targets, up to 4 rounds, salvo caps 1-2 (scalar, per weapon or per pair)."""
    w, t = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    p = rng.uniform(0.05, 1.0, (w, t))
    p[rng.random((w, t)) < 0.1] = 1.0
    kind = int(rng.integers(3))
    cap: int | np.ndarray = (
        int(rng.integers(1, 3))
        if kind == 0
        else rng.integers(1, 3, w)
        if kind == 1
        else rng.integers(0, 3, (w, t))  # 0 forbids the pair
    )
    return make_problem(
        rng.uniform(1, 100, t),
        p,
        rounds=rng.integers(0, 5, w),
        channels=rng.integers(1, 4, w),
        feasible=rng.random((w, t)) < 0.9,
        max_salvo=cap,
    )


def test_salvo_cap_hand_solved() -> None:
    # One weapon, 4 rounds, cap 2, V = (10, 1), p = 0.5: uncapped, all 4 go to the valuable
    # target (10·0.9375 = 9.375 > 10·0.875 + 1·0.5 = 9.25); capped, 2 + 2: 10·0.75 + 1·0.75.
    free = make_problem([10.0, 1.0], [[0.5, 0.5]], rounds=4)
    np.testing.assert_array_equal(solve_exact(free).x, [[4, 0]])
    prob = make_problem([10.0, 1.0], [[0.5, 0.5]], rounds=4, max_salvo=2)
    np.testing.assert_array_equal(prob.max_salvo, [[2, 2]])
    for plan in (
        solve_exact(prob),
        solve_exact(prob, warm_start=False),
        solve_brute_force(prob),
        solve_heuristic(prob, max_iterations=5),
        solve_greedy(prob),
    ):
        np.testing.assert_array_equal(plan.x, [[2, 2]])
        assert plan.objective == pytest.approx(8.25)
    for method in ("auto", "assignment", "lp"):
        assert upper_bound(prob, method=method) == pytest.approx(8.25)
    # The motivating case: 8 rounds at one aircraft, p = 0.8: P(kill) 0.99999744 -> 0.96.
    one = make_problem([100.0], [[0.8]], rounds=8)
    assert solve_exact(one).kill_probability[0] == pytest.approx(1 - 0.2**8)
    capped = make_problem([100.0], [[0.8]], rounds=8, max_salvo=2)
    plan = solve_exact(capped)
    np.testing.assert_array_equal(plan.x, [[2]])
    assert plan.kill_probability[0] == pytest.approx(0.96)
    assert upper_bound(capped) == pytest.approx(96.0)  # not 99.999744: slots are capped too


def test_exact_equals_brute_force_with_salvo_caps() -> None:
    rng = np.random.default_rng(2031)
    milp_solves = 0
    for k in range(60):
        prob = random_tiny_capped(rng)
        brute = solve_brute_force(prob)
        exact = solve_exact(prob, mip_rel_gap=1e-9, warm_start=k % 2 == 0)
        milp_solves += exact.iterations
        assert exact.proven_optimal, exact.status
        assert exact.objective == pytest.approx(brute.objective, rel=1e-7, abs=1e-9)
        assert (brute.x <= prob.max_salvo).all() and (exact.x <= prob.max_salvo).all()
        assert not violations(prob, exact.x)
        # Upper bounds stay valid with caps; the column-generation LP ("auto") == the full LP.
        ub = upper_bound(prob)
        assert ub >= brute.objective - 1e-9
        assert exact.upper_bound >= brute.objective - 1e-7
        assert ub == pytest.approx(upper_bound(prob, method="lp"), rel=1e-7, abs=1e-9)
        assert upper_bound(prob, slots=8) >= brute.objective - 1e-9
        for plan in (solve_greedy(prob), solve_heuristic(prob, time_limit_s=10, max_iterations=5)):
            assert not violations(prob, plan.x)
            assert plan.objective <= brute.objective + 1e-9
    assert milp_solves >= 30  # the outer-approximation loop itself was exercised


def test_no_solver_exceeds_the_salvo_cap() -> None:
    rng = np.random.default_rng(17)
    for _ in range(4):
        w, t = int(rng.integers(6, 11)), int(rng.integers(8, 15))
        prob = make_problem(
            rng.uniform(10, 100, t),
            rng.uniform(0.3, 0.95, (w, t)),
            rounds=rng.integers(1, 9, w),
            channels=rng.integers(1, 4, w),
            feasible=rng.random((w, t)) < 0.7,
            max_salvo=rng.integers(1, 4, (w, t)),
        )
        prev = rng.integers(0, 5, (w, t))  # last cycle's plan, over the caps
        plans = [
            solve_greedy(prob),
            solve_heuristic(prob, time_limit_s=10, max_iterations=30, seed=2),
            solve_exact(prob, time_limit_s=2),  # feasible (capped) even at the time limit
        ]
        plans.append(stabilize(prob, prev, plans[1], hysteresis=10.0))  # keeps the repaired one
        assert plans[-1].kept_previous
        for plan in plans:
            assert (plan.x <= prob.max_salvo).all(), plan.solver
            assert not violations(prob, plan.x), plan.solver
        assert plans[1].objective >= plans[0].objective - 1e-9
        if plans[2].proven_optimal:
            assert plans[2].objective >= plans[1].objective - 1e-6 * plans[1].objective
        assert upper_bound(prob) >= plans[2].objective - 1e-9
        # Caps only remove options: the capped bound is no looser than the uncapped one.
        free = make_problem(prob.values, prob.kill_prob, prob.rounds, prob.channels, prob.feasible)
        assert upper_bound(prob) <= upper_bound(free) + 1e-9


def test_without_caps_results_are_unchanged() -> None:
    """Objectives recorded with the solver before salvo caps existed (same seeded instance)."""

    def instance(max_salvo: int | None = None) -> WTAProblem:
        rng = np.random.default_rng(2010)
        w, t = 6, 9
        return make_problem(
            rng.uniform(10, 100, t),
            rng.uniform(0.2, 0.9, (w, t)) * (rng.random((w, t)) < 0.7),
            rounds=rng.integers(1, 6, w),
            channels=rng.integers(1, 3, w),
            max_salvo=max_salvo,
        )

    prob = instance()
    np.testing.assert_array_equal(prob.max_salvo, np.broadcast_to(prob.rounds[:, None], prob.shape))
    greedy = solve_greedy(prob)
    heur = solve_heuristic(prob, time_limit_s=60, max_iterations=3, seed=1)
    exact = solve_exact(prob, mip_rel_gap=1e-9)
    assert greedy.objective == pytest.approx(383.34153379727337, rel=1e-12)
    assert heur.objective == pytest.approx(397.02303338997075, rel=1e-12)
    assert exact.objective == pytest.approx(407.65399962885516, rel=1e-12)
    assert upper_bound(prob) == pytest.approx(480.75919489206, rel=1e-12)
    # A cap no weapon can reach is the same as none.
    loose = instance(max_salvo=100)
    np.testing.assert_array_equal(solve_greedy(loose).x, greedy.x)
    np.testing.assert_array_equal(solve_heuristic(loose, max_iterations=3, seed=1).x, heur.x)
    assert upper_bound(loose) == upper_bound(prob)


def test_salvo_cap_validation_and_broadcasting() -> None:
    p = [[0.5, 0.5], [0.5, 0.5]]
    # (W,) is per weapon even when W == T; caps above the rounds are clipped to them.
    prob = make_problem([1.0, 1.0], p, rounds=[3, 2], max_salvo=[1, 5])
    np.testing.assert_array_equal(prob.max_salvo, [[1, 1], [2, 2]])
    prob = make_problem([1.0, 1.0], p, rounds=3, max_salvo=[[0, 2], [3, 1]])
    np.testing.assert_array_equal(prob.max_salvo, [[0, 2], [3, 1]])
    assert not prob.allowed[0, 0]  # a zero cap forbids the pair
    assert solve_exact(prob).x[0, 0] == 0
    with pytest.raises(ValueError, match="weapon 0 fires 3 rounds at target 1, salvo cap is 2"):
        evaluate(prob, [[0, 3], [0, 0]])
    bad_caps: list[tuple[object, str]] = [
        (-1, "max_salvo must be >= 0"),
        ([1, -2], "max_salvo\\[1\\] must be >= 0"),
        ([[1, 1], [1, -1]], "max_salvo\\[1, 1\\] must be >= 0"),
        (1.5, "max_salvo must be non-negative integers"),
        (np.nan, "max_salvo must be non-negative integers"),
        (True, "max_salvo must be non-negative integers"),
        ([1, 2, 3], "max_salvo must be a scalar, \\(2,\\) per weapon or \\(2, 2\\)"),
        ([[1, 2, 3]], "max_salvo must be a scalar"),
    ]
    for bad, msg in bad_caps:
        with pytest.raises(ValueError, match=msg):
            make_problem([1.0, 1.0], p, rounds=3, max_salvo=bad)  # type: ignore[arg-type]
    # 2.0 is an integer value.
    assert make_problem([1.0], [[0.5]], rounds=3, max_salvo=2.0).max_salvo[0, 0] == 2
    # Built directly without max_salvo, a problem is uncapped.
    direct = WTAProblem(
        values=prob.values,
        kill_prob=prob.kill_prob,
        rounds=prob.rounds,
        channels=prob.channels,
        feasible=prob.feasible,
        engageable=prob.engageable,
        allowed=prob.allowed,
    )
    np.testing.assert_array_equal(direct.max_salvo, [[3, 3], [3, 3]])


def test_stabilize_repairs_a_previous_plan_over_the_cap() -> None:
    prob = make_problem([10.0, 1.0], [[0.5, 0.5]], rounds=4, max_salvo=2)
    plan = stabilize(prob, [[4, 0]], solve_exact(prob), hysteresis=0.05)
    assert plan.kept_previous
    np.testing.assert_array_equal(plan.x, [[2, 2]])  # trimmed to the cap, then refilled
    assert plan.objective == pytest.approx(8.25)
