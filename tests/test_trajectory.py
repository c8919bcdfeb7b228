"""Quintic Hermite trajectories: exactness, segment search, padding."""

from __future__ import annotations

import numpy as np
import pytest

from argus.trajectory import TrajectorySet, knots_to_trajectories, quintic_hermite


def _poly(t: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A quintic in each axis: c (6, 3) coefficients; returns p, v, a at times t."""
    p = sum(c[k] * t[:, None] ** k for k in range(6))
    v = sum(k * c[k] * t[:, None] ** (k - 1) for k in range(1, 6))
    a = sum(k * (k - 1) * c[k] * t[:, None] ** (k - 2) for k in range(2, 6))
    return p, v, a


def test_quintic_hermite_reproduces_quintics_exactly() -> None:
    rng = np.random.default_rng(1)
    c = rng.normal(size=(6, 3))
    knots = np.array([0.0, 0.7, 1.9, 2.0, 3.5])
    p, v, a = _poly(knots, c)
    tr = TrajectorySet(knots[None], p[None], v[None], a[None], np.array([5]))
    t = np.linspace(0.0, 3.5, 301)
    ps, vs, acc, ok = tr.sample(t)
    pe, ve, ae = _poly(t, c)
    assert ok.all()
    np.testing.assert_allclose(ps[0], pe, atol=1e-10)
    np.testing.assert_allclose(vs[0], ve, atol=1e-9)
    np.testing.assert_allclose(acc[0], ae, atol=1e-8)


def test_segment_end_values() -> None:
    p0, v0, a0 = np.zeros((1, 3)), np.ones((1, 3)), np.zeros((1, 3))
    p1, v1, a1 = np.full((1, 3), 2.0), np.ones((1, 3)), np.zeros((1, 3))
    h = np.array([2.0])
    for s, want in ((0.0, p0), (1.0, p1)):
        pos, vel, _ = quintic_hermite(p0, v0, a0, p1, v1, a1, h, np.array([s]))
        np.testing.assert_allclose(pos, want)
        np.testing.assert_allclose(vel, v0)


def test_rows_with_different_spans_and_validity() -> None:
    # Two straight-line trajectories with different time spans and knot counts.
    t1 = np.array([0.0, 1.0, 2.0])
    t2 = np.array([5.0, 7.0, 9.0, 11.0, 13.0])
    v1, v2 = np.array([1.0, 0.0, 0.0]), np.array([0.0, -2.0, 0.0])
    tr = TrajectorySet.from_ragged(
        [t1, t2],
        [t1[:, None] * v1, (t2[:, None] - 5.0) * v2],
        [np.tile(v1, (3, 1)), np.tile(v2, (5, 1))],
        [np.zeros((3, 3)), np.zeros((5, 3))],
    )
    np.testing.assert_allclose(tr.start_s, [0.0, 5.0])
    np.testing.assert_allclose(tr.end_s, [2.0, 13.0])
    p, _, _, ok = tr.state_at([0, 1, 1, 0], [1.5, 12.0, 4.0, 2.0])
    np.testing.assert_array_equal(ok, [True, True, False, True])
    np.testing.assert_allclose(p[0], [1.5, 0, 0])
    np.testing.assert_allclose(p[1], [0, -14.0, 0])
    np.testing.assert_allclose(p[3], [2.0, 0, 0])
    assert np.isnan(p[2]).all()
    both = TrajectorySet.concatenate([tr.subset([1]), tr.subset([0])])
    np.testing.assert_allclose(both.end_s, [13.0, 2.0])


def test_duplicated_knot_keeps_one_sided_accelerations() -> None:
    # A phase change at t = 1: acceleration 0 before, 2 after (velocity continuous).
    t = np.array([[0.0, 1.0, 2.0]])
    r = np.array([[[0, 0, 0], [1, 0, 0], [3, 0, 0]]], dtype=float)
    v = np.array([[[1, 0, 0], [1, 0, 0], [3, 0, 0]]], dtype=float)
    am = np.array([[[0, 0, 0], [0, 0, 0], [2, 0, 0]]], dtype=float)
    ap = np.array([[[0, 0, 0], [2, 0, 0], [2, 0, 0]]], dtype=float)
    tr = knots_to_trajectories(t, r, v, am, ap, np.array([3]))
    assert tr.n_knots[0] == 4
    _, vel, acc, _ = tr.state_at([0, 0, 0], [0.5, 1.0, 1.5])
    np.testing.assert_allclose(acc[:, 0], [0.0, 2.0, 2.0])
    np.testing.assert_allclose(vel[:, 0], [1.0, 1.0, 2.0])


def test_shape_validation() -> None:
    with pytest.raises(ValueError, match="pos_ecef_m"):
        TrajectorySet(
            np.zeros((1, 2)),
            np.zeros((1, 3, 3)),
            np.zeros((1, 2, 3)),
            np.zeros((1, 2, 3)),
            np.array([2]),
        )
