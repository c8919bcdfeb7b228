"""Transition and measurement models: closed forms, Jacobians, conventions, Stone Soup parity."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from argus.tracking.models import (
    CombinedTransition,
    ConstantAcceleration,
    ConstantVelocity,
    CoordinatedTurn,
    LinearPosition,
    RandomWalk,
    RangeAzEl,
    enu_to_rae,
    polynomial_transition,
    rae_to_enu,
    unbiased_converted_measurement,
)
from tests._peers import import_peer


def _numeric_jacobian(fun, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:  # type: ignore[no-untyped-def]
    cols = []
    for i in range(x.shape[1]):
        dx = np.zeros_like(x)
        dx[:, i] = eps * np.maximum(1.0, np.abs(x[:, i]))
        cols.append((fun(x + dx) - fun(x - dx)) / (2 * dx[:, i : i + 1]))
    return np.stack(cols, axis=-1)


def test_cv_discrete_noise_is_dwna() -> None:
    t, s = 2.5, 3.0
    f, q = polynomial_transition(1, t, s, "discrete")
    assert np.allclose(f, [[1, t], [0, 1]])
    assert np.allclose(q, s**2 * np.array([[t**4 / 4, t**3 / 2], [t**3 / 2, t**2]]))


def test_cv_continuous_noise_is_cwna() -> None:
    t, qc = 2.5, 0.7
    _, q = polynomial_transition(1, t, qc, "continuous")
    assert np.allclose(q, qc * np.array([[t**3 / 3, t**2 / 2], [t**2 / 2, t]]))


def test_ca_discrete_noise_is_piecewise_constant_jerk() -> None:
    t, s = 1.5, 0.4
    f, q = polynomial_transition(2, t, s, "discrete")
    gamma = np.array([t**3 / 6, t**2 / 2, t])
    assert np.allclose(f, [[1, t, t**2 / 2], [0, 1, t], [0, 0, 1]])
    assert np.allclose(q, s**2 * np.outer(gamma, gamma))


def test_kron_layout_position_first() -> None:
    m = ConstantVelocity(3, 1.0)
    f = m.matrix(2.0)
    x = np.array([[1.0, 2.0, 3.0, 10.0, 20.0, 30.0]])
    assert np.allclose(m.function(x, 2.0), [[21.0, 42.0, 63.0, 10.0, 20.0, 30.0]])
    assert f.shape == (6, 6) and m.covar(2.0).shape == (6, 6)
    ca = ConstantAcceleration(2, 1.0)
    assert ca.ndim_state == 6
    xa = np.array([[0.0, 0.0, 1.0, 2.0, 2.0, 4.0]])
    assert np.allclose(ca.function(xa, 1.0), [[2.0, 4.0, 3.0, 6.0, 2.0, 4.0]])


def test_polynomial_models_match_stonesoup() -> None:
    lin = import_peer("stonesoup.models.transition.linear")
    interval = dt.timedelta(seconds=3.0)
    for ours, theirs in (
        (ConstantVelocity(1, 0.8, "continuous"), lin.ConstantVelocity(0.8)),
        (ConstantAcceleration(1, 2.0, "continuous"), lin.ConstantAcceleration(2.0)),
    ):
        assert np.allclose(ours.matrix(3.0), theirs.matrix(time_interval=interval), atol=1e-12)
        assert np.allclose(ours.covar(3.0), theirs.covar(time_interval=interval), atol=1e-12)


def test_coordinated_turn_matches_stonesoup_and_limits() -> None:
    nonlin = import_peer("stonesoup.models.transition.nonlinear")
    state_mod = import_peer("stonesoup.types.state")
    ct = CoordinatedTurn(2, 1.0, 0.01)
    ss = nonlin.ConstantTurn(linear_noise_coeffs=np.array([1.0, 1.0]), turn_noise_coeff=0.01)
    rng = np.random.default_rng(1)
    x = np.column_stack(
        [rng.normal(0, 1e3, (20, 2)), rng.normal(0, 200, (20, 2)), rng.normal(0, 0.05, 20)]
    )
    ours = ct.function(x, 4.0)
    for row, out in zip(x, ours, strict=True):
        sv = state_mod.State(row[[0, 2, 1, 3, 4]].reshape(-1, 1))
        theirs = ss.function(sv, time_interval=dt.timedelta(seconds=4.0)).ravel()
        assert np.allclose(out[[0, 2, 1, 3, 4]], theirs, rtol=1e-9, atol=1e-6)
    # ω → 0 is constant velocity
    x0 = x.copy()
    x0[:, 4] = 0.0
    cv = ConstantVelocity(2, 1.0).function(x0[:, :4], 4.0)
    assert np.allclose(ct.function(x0, 4.0)[:, :4], cv, atol=1e-9)
    # a quarter turn: (v, 0) heading east, ω = π/2 over 1 s → velocity (0, v), moved (v/ω, v/ω)
    w = np.pi / 2
    q = ct.function(np.array([[0.0, 0.0, 100.0, 0.0, w]]), 1.0)[0]
    assert np.allclose(q[:4], [100 / w, 100 / w, 0.0, 100.0], atol=1e-9)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("omega", [0.08, 1e-7, 0.0])
def test_coordinated_turn_jacobian(ndim: int, omega: float) -> None:
    ct = CoordinatedTurn(ndim, 1.0, 0.01)
    rng = np.random.default_rng(2)
    x = rng.normal(0, 100, (5, ct.ndim_state))
    x[:, -1] = omega
    num = _numeric_jacobian(lambda s: ct.function(s, 3.0), x, eps=1e-7)
    assert np.allclose(ct.jacobian(x, 3.0), num, rtol=1e-5, atol=1e-4)


def test_combined_transition_blocks() -> None:
    cv = CombinedTransition((ConstantVelocity(2, 1.0), RandomWalk(1, 0.1, decay=0.0)))
    assert cv.ndim_state == 5 and cv.linear
    x = np.array([[1.0, 2.0, 3.0, 4.0, 0.3]])
    assert np.allclose(cv.function(x, 1.0), [[4.0, 6.0, 3.0, 4.0, 0.0]])
    assert np.allclose(cv.jacobian(x, 1.0)[0], cv.matrix(1.0))
    assert cv.covar(2.0)[4, 4] == pytest.approx(0.02)


def test_rae_conventions_and_round_trip() -> None:
    # due north, level: az 0; due east: az +π/2 (clockwise from north); straight up: el π/2
    rae = enu_to_rae(np.array([[0.0, 1000.0, 0.0], [1000.0, 0.0, 0.0], [0.0, 0.0, 5.0]]))
    assert np.allclose(rae[:, 1][:2], [0.0, np.pi / 2])
    assert rae[2, 2] == pytest.approx(np.pi / 2)
    rng = np.random.default_rng(3)
    p = rng.normal(0, 1e4, (50, 3))
    assert np.allclose(rae_to_enu(enu_to_rae(p)), p)


def test_range_az_el_jacobian_and_wrap() -> None:
    model = RangeAzEl(6, (100.0, -200.0, 10.0))
    rng = np.random.default_rng(4)
    x = np.column_stack([rng.normal(0, 2e4, (10, 3)), rng.normal(0, 200, (10, 3))])
    x[:, 2] = np.abs(x[:, 2]) + 500
    num = _numeric_jacobian(model.function, x)
    assert np.allclose(model.jacobian(x), num, rtol=1e-5, atol=1e-9)
    res = model.residual(
        np.array([[1.0, np.pi - 0.01, 0.0]]), np.array([[1.0, -np.pi + 0.01, 0.0]])
    )
    assert res[0, 1] == pytest.approx(-0.02)


def test_linear_position() -> None:
    m = LinearPosition(6, 3)
    x = np.arange(12.0).reshape(2, 6)
    assert np.allclose(m.function(x), x[:, :3])
    assert np.allclose(m.jacobian(x)[1], np.eye(3, 6))


def test_unbiased_converted_measurement_is_unbiased_and_consistent() -> None:
    """Large angular noise: the plain conversion is biased, the unbiased one is not, and its
    measurement-conditioned covariance is consistent (mean NEES ≈ 3)."""
    rng = np.random.default_rng(5)
    n = 200_000
    sig = np.array([30.0, np.deg2rad(4.0), np.deg2rad(3.0)])
    truth_rae = np.array([20_000.0, np.deg2rad(40.0), np.deg2rad(15.0)])
    truth = rae_to_enu(truth_rae[None])[0]
    z = truth_rae + rng.normal(0, 1, (n, 3)) * sig
    pos, cov = unbiased_converted_measurement(z, np.diag(sig**2))
    err = pos - truth
    se = err.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(err.mean(axis=0)) < 4 * se)
    plain_bias = (rae_to_enu(z) - truth).mean(axis=0)
    assert np.linalg.norm(plain_bias) > 10 * np.linalg.norm(se)
    nees = np.einsum("ki,kij,kj->k", err, np.linalg.inv(cov), err)
    assert nees.mean() == pytest.approx(3.0, abs=0.05)
    # covariance is symmetric positive definite
    assert np.all(np.linalg.eigvalsh(cov) > 0)
