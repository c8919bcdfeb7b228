"""OSPA / GOSPA against Stone Soup and brute force; RMSE, NEES, SIAP-style measures."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus.tracking.metrics import (
    assign_to_truth,
    gospa,
    gospa_components,
    nees,
    nees_bounds,
    ospa,
    per_axis_rmse,
    position_velocity_rmse,
    rmse,
    siap_measures,
)
from tests._peers import import_peer

T0 = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)


def _states(points: np.ndarray) -> list:  # type: ignore[type-arg]
    from stonesoup.types.state import State

    return [State(np.asarray(p, dtype=float).reshape(-1, 1), timestamp=T0) for p in points]


def _ss_ospa(x: np.ndarray, y: np.ndarray, c: float, p: float) -> float:
    from stonesoup.metricgenerator.ospametric import OSPAMetric

    # Stone Soup's argument order: (track_states, truth_states)
    return float(OSPAMetric(c=c, p=p).compute_OSPA_distance(_states(y), _states(x)).value)


def _ss_gospa(x: np.ndarray, y: np.ndarray, c: float, p: float) -> dict[str, float]:
    from stonesoup.metricgenerator.ospametric import GOSPAMetric

    metric, _ = GOSPAMetric(c=c, p=p).compute_gospa_metric(_states(y), _states(x))
    return {k: float(v) for k, v in metric.value.items()}


def _random_sets(rng: np.random.Generator, max_size: int = 7):  # type: ignore[no-untyped-def]
    m, n = (int(v) for v in rng.integers(0, max_size, 2))
    d = int(rng.integers(1, 4))
    return rng.normal(0, 5, (m, d)), rng.normal(0, 5, (n, d)), float(rng.uniform(0.5, 12))


def _brute_ospa(x: np.ndarray, y: np.ndarray, c: float, p: float) -> float:
    if len(x) > len(y):
        x, y = y, x
    m, n = len(x), len(y)
    if n == 0:
        return 0.0
    best = math.inf
    for perm in itertools.permutations(range(n), m):
        s = sum(min(c, float(np.linalg.norm(x[i] - y[j]))) ** p for i, j in enumerate(perm))
        best = min(best, s)
    return ((best + c**p * (n - m)) / n) ** (1 / p)


def _brute_gospa(x: np.ndarray, y: np.ndarray, c: float, p: float, alpha: float) -> float:
    if len(x) > len(y):
        x, y = y, x
    m, n = len(x), len(y)
    best = math.inf
    for perm in itertools.permutations(range(n), m):
        s = sum(min(c, float(np.linalg.norm(x[i] - y[j]))) ** p for i, j in enumerate(perm))
        best = min(best, s)
    if m == 0:
        best = 0.0
    return (best + c**p / alpha * (n - m)) ** (1 / p)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_gospa_equals_stonesoup_on_random_sets(p: float) -> None:
    """Distance to 1e-9 always (empty sets and unequal sizes included); the parts to 1e-9
    except for optimal pairs at least c apart that Stone Soup books as localisation (see
    test_stonesoup_books_a_pair_c_apart_as_localisation_when_its_float_test_fails)."""
    import_peer("stonesoup")
    rng = np.random.default_rng(int(p))
    n_empty = n_unequal = n_beyond = 0
    for _ in range(150):
        x, y, c = _random_sets(rng)
        if len(x) + len(y) == 0:
            continue
        n_empty += (len(x) == 0) or (len(y) == 0)
        n_unequal += len(x) != len(y)
        ours = gospa_components(x, y, c, p)
        theirs = _ss_gospa(x, y, c, p)
        assert ours.distance == pytest.approx(theirs["distance"], abs=1e-9)
        assert gospa(x, y, c, p) == pytest.approx(theirs["distance"], abs=1e-9)
        # Our parts: pairs closer than c are localisation, every other truth is missed and every
        # other estimate false (c^p/2 each). k_far optimal pairs are at least c apart.
        k_far = (ours.n_missed + ours.n_false - abs(len(x) - len(y))) // 2
        n_beyond += k_far > 0
        # Stone Soup may book k of them as localisation c^p instead of missed + false c^p/2.
        k = round((theirs["localisation"] - ours.localisation) / c**p)
        assert 0 <= k <= k_far
        assert theirs["localisation"] == pytest.approx(ours.localisation + k * c**p, abs=1e-9)
        assert theirs["missed"] == pytest.approx(ours.missed - k * c**p / 2, abs=1e-9)
        assert theirs["false"] == pytest.approx(ours.false - k * c**p / 2, abs=1e-9)
    assert n_empty > 5 and n_unequal > 50
    assert 40 < n_beyond < 75, n_beyond  # both kinds of draws are well represented


@pytest.mark.parametrize(
    ("c", "p", "books_localisation"),
    [
        (8.438033120738872, 2.0, True),
        (4.357341255680277, 2.0, True),
        (8.0, 2.0, False),
        (8.438033120738872, 3.0, False),
    ],
)
def test_stonesoup_books_a_pair_c_apart_as_localisation_when_its_float_test_fails(
    c: float, p: float, books_localisation: bool
) -> None:
    """One truth, one estimate 100 apart: GOSPA (alpha = 2) books one missed and one false target,
    c^p/2 each, and so do we. Stone Soup 1.9.1 clips the distance to c, then tests
    ``-np.power(c, p) == -c ** p``; where the two differ in the last bit (numpy squares for
    p = 2, Python calls pow) it books the pair as localisation c^p with missed = false = 0."""
    import_peer("stonesoup")
    x, y = np.array([[0.0, 0.0]]), np.array([[100.0, 0.0]])
    ours = gospa_components(x, y, c, p)
    assert (ours.localisation, ours.n_missed, ours.n_false) == (0.0, 1, 1)
    assert ours.missed == ours.false == pytest.approx(c**p / 2, rel=1e-15)
    theirs = _ss_gospa(x, y, c, p)
    assert theirs["distance"] == pytest.approx(c, rel=1e-12)
    assert (float(np.power(np.array([c]), p)[0]) != c**p) is books_localisation
    if books_localisation:
        assert theirs["localisation"] == pytest.approx(c**p, rel=1e-12)
        assert theirs["missed"] == theirs["false"] == 0.0
    else:
        assert theirs["localisation"] == 0.0
        assert theirs["missed"] == pytest.approx(ours.missed, rel=1e-12)
        assert theirs["false"] == pytest.approx(ours.false, rel=1e-12)


def test_ospa_equals_stonesoup_p1_on_random_sets() -> None:
    """With p = 1 Stone Soup's assignment objective is the OSPA objective: equal to 1e-9."""
    import_peer("stonesoup")
    rng = np.random.default_rng(11)
    n_empty = 0
    for _ in range(200):
        x, y, c = _random_sets(rng)
        if len(x) + len(y) == 0:
            continue  # Stone Soup cannot take two empty sets (no timestamp); ours gives 0
        n_empty += (len(x) == 0) or (len(y) == 0)
        assert ospa(x, y, c, 1.0) == pytest.approx(_ss_ospa(x, y, c, 1.0), abs=1e-9)
    assert n_empty > 5
    assert ospa(np.zeros((0, 2)), np.zeros((0, 2)), 5.0, 1.0) == 0.0


@pytest.mark.parametrize("p", [2.0, 3.0])
def test_ospa_equals_stonesoup_p_gt_1(p: float) -> None:
    """p > 1: Stone Soup's OSPAMetric assigns by minimizing Σ d (not Σ d^p) and then reports
    (Σ d^p / n)^(1/p). On sets where the two objectives pick the same assignment (estimates are
    perturbed, shuffled truths plus far-away extras; empty and unequal sizes included) the values
    agree to 1e-9; on arbitrary sets ours is the true minimum (checked against brute force) and
    never exceeds Stone Soup's."""
    import_peer("stonesoup")
    rng = np.random.default_rng(int(10 * p))
    for _ in range(150):
        m = int(rng.integers(0, 7))
        d = int(rng.integers(1, 4))
        c = float(rng.uniform(2, 10))
        x = rng.normal(0, 50, (m, d))
        keep = rng.random(m) < 0.7
        y = x[keep] + rng.normal(0, 0.3, (int(keep.sum()), d))
        extra = int(rng.integers(0, 3))
        y = np.concatenate([y, rng.normal(0, 50, (extra, d)) + 500.0])[
            rng.permutation(len(y) + extra)
        ]
        if len(x) + len(y) == 0:
            continue
        assert ospa(x, y, c, p) == pytest.approx(_ss_ospa(x, y, c, p), abs=1e-9)
    n_diff = 0
    for _ in range(100):
        x, y, c = _random_sets(rng, max_size=6)
        if len(x) + len(y) == 0:
            continue
        ours, theirs = ospa(x, y, c, p), _ss_ospa(x, y, c, p)
        assert ours == pytest.approx(_brute_ospa(x, y, c, p), abs=1e-9)
        assert ours <= theirs + 1e-12
        n_diff += theirs - ours > 1e-9
    assert n_diff > 0  # the difference is real, not hypothetical


def test_ospa_and_gospa_match_brute_force_and_properties() -> None:
    rng = np.random.default_rng(5)
    for _ in range(100):
        x, y, c = _random_sets(rng, max_size=6)
        p = float(rng.choice([1.0, 2.0, 3.5]))
        alpha = float(rng.choice([1.0, 1.5, 2.0]))
        if len(x) + len(y):
            assert ospa(x, y, c, p) == pytest.approx(_brute_ospa(x, y, c, p), abs=1e-9)
            assert ospa(x, y, c, p) == pytest.approx(ospa(y, x, c, p), abs=1e-12)
            assert 0 <= ospa(x, y, c, p) <= c + 1e-12
        assert gospa(x, y, c, p, alpha) == pytest.approx(_brute_gospa(x, y, c, p, alpha), abs=1e-9)
        assert ospa(x, x, c, p) == 0.0
    # p = ∞: c for unequal sizes, bottleneck otherwise
    x = np.array([[0.0, 0.0], [10.0, 0.0]])
    y = np.array([[0.0, 1.0], [10.0, 3.0]])
    assert ospa(x, y, 5.0, math.inf) == pytest.approx(3.0)
    assert ospa(x, y[:1], 5.0, math.inf) == 5.0


def test_gospa_worked_example() -> None:
    # one truth localized 3 m off, one missed, one false estimate; c = 10, p = 2, α = 2
    truth = np.array([[0.0, 0.0], [100.0, 0.0]])
    est = np.array([[3.0, 0.0], [-100.0, 0.0]])
    g = gospa_components(truth, est, 10.0, 2.0)
    assert (g.localisation, g.missed, g.false) == (9.0, 50.0, 50.0)
    assert g.distance == pytest.approx(math.sqrt(109.0))
    assert (g.n_missed, g.n_false) == (1, 1)
    assert gospa(truth, est, 10.0, 2.0) == pytest.approx(math.sqrt(109.0))


def test_metric_input_errors() -> None:
    with pytest.raises(ValueError, match="c must be"):
        ospa(np.zeros((1, 2)), np.zeros((1, 2)), 0.0)
    with pytest.raises(ValueError, match="columns"):
        ospa(np.zeros((1, 2)), np.zeros((1, 3)), 1.0)
    with pytest.raises(ValueError, match="alpha"):
        gospa(np.zeros((1, 2)), np.zeros((1, 2)), 1.0, 2.0, alpha=3.0)


def test_rmse_and_nees() -> None:
    truth = np.zeros((4, 2))
    est = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    assert rmse(truth, est) == pytest.approx(2.5)
    assert np.allclose(per_axis_rmse(truth, est), [1.5, 2.0])
    state_t = np.zeros((2, 4))
    state_e = np.array([[3.0, 4.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    pos, vel = position_velocity_rmse(state_t, state_e, 2)
    assert pos == pytest.approx(np.sqrt(12.5)) and vel == pytest.approx(np.sqrt(0.5))
    covar = np.broadcast_to(np.diag([4.0, 16.0]), (4, 2, 2))
    assert np.allclose(nees(truth, est, covar), [9 / 4 + 1.0, 0, 0, 0])
    lo, hi = nees_bounds(4, 50)
    assert lo < 4 < hi and hi - lo == pytest.approx(2 * 1.96 * math.sqrt(8 / 50), rel=0.05)


def test_siap_measures() -> None:
    # two truths over three scans; track 7 follows truth 0 throughout, truth 1 is picked up by
    # track 8, then by track 9 (an id change); track 5 is spurious in scan 1
    truth_ids = [np.array([0, 1])] * 3
    truth_pos = [np.array([[0.0, 0.0], [100.0, 0.0]])] * 3
    track_ids = [np.array([7]), np.array([7, 8, 5]), np.array([7, 9])]
    track_pos = [
        np.array([[1.0, 0.0]]),
        np.array([[1.0, 0.0], [101.0, 0.0], [500.0, 0.0]]),
        np.array([[1.0, 0.0], [99.0, 0.0]]),
    ]
    r = siap_measures(truth_ids, truth_pos, track_ids, track_pos, max_distance=10.0)
    assert r.completeness == pytest.approx(5 / 6)
    assert r.spuriousness == pytest.approx(1 / 6)
    assert r.id_changes == 1
    assert r.id_changes_per_truth == pytest.approx(0.5)
    ti, ki = assign_to_truth(truth_pos[1], track_pos[1], 10.0)
    assert sorted(zip(ti.tolist(), ki.tolist(), strict=True)) == [(0, 0), (1, 1)]


_points = st.integers(0, 5).flatmap(
    lambda n: st.lists(st.tuples(st.floats(-50, 50), st.floats(-50, 50)), min_size=n, max_size=n)
)


@settings(max_examples=80, deadline=None)
@given(_points, _points, _points, st.floats(1.0, 30.0), st.sampled_from([1.0, 2.0, 3.0]))
def test_ospa_and_gospa_are_metrics(
    a: list[tuple[float, float]],
    b: list[tuple[float, float]],
    c3: list[tuple[float, float]],
    c: float,
    p: float,
) -> None:
    """Identity, symmetry, boundedness and the triangle inequality (Schuhmacher et al. 2008;
    Rahmathullah et al. 2017 for GOSPA with α = 2)."""
    x, y, z = (np.array(v, dtype=float).reshape(-1, 2) for v in (a, b, c3))
    for f in (ospa, gospa):
        assert f(x, x, c, p) == pytest.approx(0.0, abs=1e-9)
        assert f(x, y, c, p) == pytest.approx(f(y, x, c, p), abs=1e-9)
        assert f(x, z, c, p) <= f(x, y, c, p) + f(y, z, c, p) + 1e-9
    assert ospa(x, y, c, p) <= c + 1e-12
