"""Gating (KD-tree + chi-square), GNN on split components, JPDA marginals."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from argus.tracking.association import (
    GNNAssociator,
    JPDAAssociator,
    gnn_assign,
    jpda_weights,
    mixture_reduce,
    pair_components,
)
from argus.tracking.filters import ExtendedKalmanUpdater, KalmanUpdater
from argus.tracking.gating import ChiSquareGate, chi2_gate_threshold, kdtree_candidates
from argus.tracking.models import LinearPosition, RangeAzEl, enu_to_rae
from argus.tracking.states import GaussianStates


def test_kdtree_candidates_equal_brute_force() -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        k, j = int(rng.integers(0, 300)), int(rng.integers(0, 300))
        tp = rng.uniform(0, 100, (k, 2))
        mp = rng.uniform(0, 100, (j, 2))
        r = rng.uniform(0, 20, k)
        t, m = kdtree_candidates(tp, r, mp)
        if k and j:
            d = np.linalg.norm(tp[:, None] - mp[None], axis=-1)
            tt, mm = np.nonzero(d <= r[:, None])
        else:
            tt = mm = np.zeros(0, dtype=int)
        assert set(zip(t.tolist(), m.tolist(), strict=True)) == set(
            zip(tt.tolist(), mm.tolist(), strict=True)
        )
        assert np.all(np.diff(t) >= 0)


def _gated_pairs(gate: ChiSquareGate, states: GaussianStates, model, z, r, updater):  # type: ignore[no-untyped-def]
    mp = updater.predict_measurement(states, model)
    ct, cm = gate.candidates(states.mean, states.covar, model, z, r)
    pairs = updater.innovations(states, mp, model, ct, cm, z, r)
    pairs = pairs.take(pairs.d2 <= gate.threshold(model.ndim_meas))
    return set(zip(pairs.track.tolist(), pairs.meas.tolist(), strict=True))


@pytest.mark.parametrize("kind", ["position", "rae"])
def test_kdtree_pregate_keeps_every_chi_square_pair(kind: str) -> None:
    rng = np.random.default_rng(1)
    k, j = 200, 300
    mean = np.zeros((k, 6))
    mean[:, :3] = rng.uniform(-5e3, 5e3, (k, 3)) + np.array([0.0, 0.0, 6e3])
    a = rng.normal(size=(k, 6, 6)) * rng.uniform(5, 80, (k, 1, 1))
    covar = a @ np.swapaxes(a, 1, 2) + np.eye(6)
    states = GaussianStates(mean, covar)
    pos = np.concatenate(
        [
            mean[:150, :3] + rng.normal(0, 60, (150, 3)),
            rng.uniform(-5e3, 5e3, (150, 3)) + np.array([0.0, 0.0, 6e3]),
        ]
    )
    if kind == "position":
        model: LinearPosition | RangeAzEl = LinearPosition(6, 3)
        z, r = pos, np.broadcast_to(np.diag([400.0, 900.0, 100.0]), (j, 3, 3))
    else:
        model = RangeAzEl(6, (-2e4, 1e4, 0.0))
        z = enu_to_rae(pos - np.array(model.site_enu))
        r = np.broadcast_to(np.diag([30.0**2, 1e-3**2, 1e-3**2]), (j, 3, 3))
    updater = ExtendedKalmanUpdater()
    full = _gated_pairs(ChiSquareGate(0.999, use_kdtree=False), states, model, z, r, updater)
    fast = _gated_pairs(ChiSquareGate(0.999), states, model, z, r, updater)
    assert len(full) > 150
    assert fast == full


def test_gnn_prefers_global_optimum_over_greedy() -> None:
    # track 0 is nearest to meas 0 (cost 1) but then track 1 must take meas 1 (cost 10);
    # globally better: 0→1 (2), 1→0 (2)
    track = np.array([0, 0, 1, 1])
    meas = np.array([0, 1, 0, 1])
    cost = np.array([1.0, 2.0, 2.0, 10.0])
    sel = gnn_assign(track, meas, cost, 2, 2)
    assert sorted(zip(track[sel].tolist(), meas[sel].tolist(), strict=True)) == [(0, 1), (1, 0)]


def test_gnn_missed_cost_and_cardinality() -> None:
    # two tracks compete for one measurement: the cheaper takes it, the other is missed
    sel = gnn_assign(np.array([0, 1]), np.array([0, 0]), np.array([4.0, 1.0]), 2, 1)
    assert sel.tolist() == [1]
    # one track, one cheap and one costly: a finite missed cost below the costly pair's cost
    track, meas = np.array([0, 0, 1]), np.array([0, 1, 1])
    cost = np.array([5.0, 1.0, 8.0])
    # without a missed cost both tracks are assigned (maximum cardinality): 0→0, 1→1 (13)
    assert sorted(gnn_assign(track, meas, cost, 2, 2).tolist()) == [0, 2]
    # with missed cost 6: 0→1 (1) + track 1 missed (6) = 7 beats 0→0 + 1→1 = 13
    assert gnn_assign(track, meas, cost, 2, 2, missed_cost=6.0).tolist() == [1]
    assert gnn_assign(np.zeros(0, int), np.zeros(0, int), np.zeros(0), 3, 3).size == 0


def _dense_gnn_cost(track, meas, cost, nt, nm, miss):  # type: ignore[no-untyped-def]
    mat = np.full((nt, nm + nt), np.inf)
    mat[track, meas] = cost
    mat[np.arange(nt), nm + np.arange(nt)] = miss
    rows, cols = linear_sum_assignment(mat)
    return mat[rows, cols].sum()


def test_gnn_on_components_equals_one_dense_assignment() -> None:
    """Splitting into connected components (and the vectorized single-track / single-measurement
    path) gives the same optimum as one dense assignment over everything."""
    rng = np.random.default_rng(2)
    for _ in range(40):
        nt, nm = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        tp, mp = rng.uniform(0, 100, (nt, 2)), rng.uniform(0, 100, (nm, 2))
        d = np.linalg.norm(tp[:, None] - mp[None], axis=-1)
        track, meas = np.nonzero(d < 12)
        cost = d[track, meas] ** 2
        miss = float(rng.choice([50.0, 1e6]))
        sel = gnn_assign(track, meas, cost, nt, nm, missed_cost=miss)
        assert len(set(track[sel])) == len(sel) and len(set(meas[sel])) == len(sel)
        ours = cost[sel].sum() + miss * (nt - len(sel))
        assert ours == pytest.approx(_dense_gnn_cost(track, meas, cost, nt, nm, miss), rel=1e-12)


def test_pair_components() -> None:
    # tracks 0,1 share meas 0; track 2 alone with meas 2 and 3; track 3 with meas 4
    track = np.array([0, 1, 2, 2, 3])
    meas = np.array([0, 0, 2, 3, 4])
    c = pair_components(track, meas, 4, 5)
    assert c.label[0] == c.label[1] and len(set(c.label.tolist())) == 3
    lab = c.label
    assert c.n_tracks[lab[0]] == 2 and c.n_meas[lab[0]] == 1
    assert c.n_tracks[lab[2]] == 1 and c.n_meas[lab[2]] == 2


def _brute_jpda(track, meas, g, nt, nm, b):  # type: ignore[no-untyped-def]
    w = {(int(t), int(m)): float(v) for t, m, v in zip(track, meas, g, strict=True)}
    opts = [[None] + [m for (t, m) in w if t == i] for i in range(nt)]
    beta = np.zeros(len(track))
    beta0 = np.zeros(nt)
    total = 0.0
    for event in itertools.product(*opts):
        used = [m for m in event if m is not None]
        if len(used) != len(set(used)):
            continue
        p = 1.0
        for i, m in enumerate(event):
            p *= b if m is None else w[(i, m)]
        total += p
        for i, m in enumerate(event):
            if m is None:
                beta0[i] += p
            else:
                beta[next(k for k in range(len(track)) if track[k] == i and meas[k] == m)] += p
    return beta / total, beta0 / total


def test_jpda_exact_marginals_match_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        nt, nm = int(rng.integers(1, 5)), int(rng.integers(1, 6))
        pairs = [(t, m) for t in range(nt) for m in range(nm) if rng.random() < 0.6]
        if not pairs:
            continue
        track = np.array([p[0] for p in pairs])
        meas = np.array([p[1] for p in pairs])
        g = rng.uniform(0.05, 5.0, len(pairs))
        beta, beta0 = jpda_weights(track, meas, np.log(g), nt, nm, 0.1)
        bb, bb0 = _brute_jpda(track, meas, g, nt, nm, 0.1)
        assert np.allclose(beta, bb, atol=1e-12)
        seen = np.unique(track)
        assert np.allclose(beta0[seen], bb0[seen], atol=1e-12)
        # marginals of each track sum to one
        assert np.allclose(np.bincount(track, beta, minlength=nt) + beta0, 1.0)


def test_jpda_single_track_is_pda_and_large_clusters_are_approximated() -> None:
    g = np.array([2.0, 0.5])
    beta, beta0 = jpda_weights(np.array([0, 0]), np.array([0, 1]), np.log(g), 1, 2, 0.2)
    assert np.allclose(beta, g / 2.7) and beta0[0] == pytest.approx(0.2 / 2.7)
    # a chain of 12 tracks sharing measurements: 3^12 events > 1000 → Fitzgerald's approximation
    nt = 12
    track = np.repeat(np.arange(nt), 2)
    meas = np.stack([np.arange(nt), np.arange(nt) + 1], axis=1).ravel()
    gg = np.full(len(track), 1.0)
    approx, a0 = jpda_weights(track, meas, np.log(gg), nt, nt + 1, 0.1, max_exact_events=1000)
    exact, _ = jpda_weights(track, meas, np.log(gg), nt, nt + 1, 0.1)
    assert np.all(approx > 0) and np.all(a0 >= 0)
    assert np.allclose(np.bincount(track, approx, minlength=nt) + a0, 1.0)
    assert np.abs(approx - exact).max() < 0.2  # a cheap approximation, not the exact answer


def test_mixture_reduce_moments() -> None:
    prior = GaussianStates(np.array([[0.0, 0.0]]), np.eye(2)[None])
    post = GaussianStates(np.array([[2.0, 0.0], [0.0, 4.0]]), np.stack([0.5 * np.eye(2)] * 2))
    out = mixture_reduce(prior, post, np.array([0, 0]), np.array([0.25, 0.25]), np.array([0.5]))
    assert np.allclose(out.mean, [[0.5, 1.0]])
    dx = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]]) - [0.5, 1.0]
    w = np.array([0.5, 0.25, 0.25])
    cov = 0.5 * np.eye(2) + 0.25 * 0.5 * np.eye(2) * 2 + np.einsum("k,ki,kj->ij", w, dx, dx)
    assert np.allclose(out.covar[0], cov)


def test_associators_on_pair_innovations() -> None:
    states = GaussianStates(
        np.array([[0.0, 0.0, 0.0, 0.0], [10.0, 0.0, 0.0, 0.0]]), np.stack([np.eye(4)] * 2)
    )
    model = LinearPosition(4, 2)
    z = np.array([[9.5, 0.0], [0.2, 0.1], [50.0, 50.0]])
    r = np.broadcast_to(np.eye(2), (3, 2, 2))
    upd = KalmanUpdater()
    mp = upd.predict_measurement(states, model)
    ct, cm = ChiSquareGate().candidates(states.mean, states.covar, model, z, r)
    pairs = upd.innovations(states, mp, model, ct, cm, z, r)
    pairs = pairs.take(pairs.d2 <= chi2_gate_threshold(0.9997, 2))
    chosen = pairs.take(GNNAssociator().associate(pairs, 2, 3))
    assert sorted(zip(chosen.track.tolist(), chosen.meas.tolist(), strict=True)) == [(0, 1), (1, 0)]
    beta, beta0 = JPDAAssociator(0.9, 1e-4).weights(pairs, 2, 3)
    assert np.all(beta > 0.9) and np.all(beta0 < 0.1)
