"""Kalman, EKF and IMM filters: closed-form steady state, consistency, manoeuvres."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import solve_discrete_are

from argus.tracking.filters import (
    ExtendedKalmanPredictor,
    ExtendedKalmanUpdater,
    IMMPredictor,
    IMMUpdater,
    KalmanPredictor,
    KalmanUpdater,
    alpha_beta_steady_state,
    inv_and_logdet,
    kalata_tracking_index,
    kalman_predict,
    kalman_update,
)
from argus.tracking.metrics import nees, nees_bounds, per_axis_rmse
from argus.tracking.models import (
    CombinedTransition,
    ConstantAcceleration,
    ConstantVelocity,
    CoordinatedTurn,
    LinearPosition,
    RandomWalk,
    RangeAzEl,
    enu_to_rae,
)
from argus.tracking.states import GaussianStates


def _filter_batch(
    predictor: KalmanPredictor,
    updater: KalmanUpdater,
    model: LinearPosition | RangeAzEl,
    states: GaussianStates,
    z: np.ndarray,
    r: np.ndarray,
    dt: float,
) -> GaussianStates:
    """One predict + update of k independent filters, each with its own measurement."""
    k = len(states)
    pred = predictor.predict(states, dt)
    mp = updater.predict_measurement(pred, model)
    idx = np.arange(k)
    pairs = updater.innovations(pred, mp, model, idx, idx, z, np.broadcast_to(r, (k, *r.shape)))
    return updater.update(pred, mp, model, pairs)


def test_alpha_beta_closed_form_equals_riccati() -> None:
    for sigma_a, t, sigma_m in ((2.0, 1.0, 10.0), (0.5, 5.0, 30.0), (30.0, 2.0, 5.0)):
        lam = kalata_tracking_index(sigma_a, t, sigma_m)
        alpha, beta = alpha_beta_steady_state(lam)
        model = ConstantVelocity(1, sigma_a, "discrete")
        f, q = model.matrix(t), model.covar(t)
        h = np.array([[1.0, 0.0]])
        p_pred = solve_discrete_are(f.T, h.T, q, np.array([[sigma_m**2]]))
        gain = p_pred @ h.T / (p_pred[0, 0] + sigma_m**2)
        assert gain[0, 0] == pytest.approx(alpha, rel=1e-9)
        assert gain[1, 0] * t == pytest.approx(beta, rel=1e-9)
        # Kalata's relation λ² = β² / (1 - α)
        assert beta**2 / (1 - alpha) == pytest.approx(lam**2, rel=1e-9)


@pytest.mark.parametrize(
    ("sigma_a", "dt", "sigma_m"),
    [(2.0, 1.0, 10.0), (0.2, 4.0, 25.0), (20.0, 0.5, 3.0)],
)
def test_steady_state_rmse_matches_alpha_beta_and_nees_consistent(
    sigma_a: float, dt: float, sigma_m: float
) -> None:
    """Per-axis steady-state position RMSE within 5 % of √α(λ) σ_m; average NEES in its 95 % band.

    400 independent runs (batched as 400 tracks) × 300 steady-state steps × 2 axes = 240,000
    error samples. The errors of one run are correlated over a few steps only (the filter's
    memory is ~1/α steps; α ≥ 0.1 here), so the effective sample size is > 20,000 and the
    relative standard error of an RMSE estimate is < 0.5 %: a 5 % miss is a > 10-sigma event,
    while a wrong gain, a wrong Q or a wrong Joseph update moves the RMSE by far more than 5 %.
    """
    rng = np.random.default_rng(20261124)
    runs, burn_in, steps, d = 400, 100, 300, 2
    model = ConstantVelocity(d, sigma_a, "discrete")
    f, q = model.matrix(dt), model.covar(dt)
    q_chol = np.linalg.cholesky(q + 1e-12 * np.eye(2 * d))
    r = sigma_m**2 * np.eye(d)
    predictor, updater, meas = KalmanPredictor(model), KalmanUpdater(), LinearPosition(2 * d, d)

    x = np.zeros((runs, 2 * d))
    x[:, d:] = rng.normal(0, 50, (runs, d))
    p0 = np.diag([sigma_m**2] * d + [100.0**2] * d)
    states = GaussianStates(
        x + rng.multivariate_normal(np.zeros(2 * d), p0, runs),
        np.broadcast_to(p0, (runs, 2 * d, 2 * d)).copy(),
    )
    errors, nees_per_step = [], []
    for k in range(burn_in + steps):
        x = x @ f.T + rng.standard_normal(x.shape) @ q_chol.T
        z = x[:, :d] + rng.normal(0, sigma_m, (runs, d))
        states = _filter_batch(predictor, updater, meas, states, z, r, dt)
        if k >= burn_in:
            errors.append(states.mean[:, :d] - x[:, :d])
            nees_per_step.append(nees(x, states.mean, states.covar).mean())

    alpha, _ = alpha_beta_steady_state(kalata_tracking_index(sigma_a, dt, sigma_m))
    expected = np.sqrt(alpha) * sigma_m
    rmse_axes = per_axis_rmse(np.zeros((1, d)), np.concatenate(errors))
    assert np.all(np.abs(rmse_axes / expected - 1) < 0.05), (rmse_axes, expected)
    # the filter's own steady-state covariance agrees with the closed form
    assert states.covar[0, 0, 0] == pytest.approx(alpha * sigma_m**2, rel=1e-6)

    lo, hi = nees_bounds(2 * d, runs)
    per_step = np.array(nees_per_step)
    assert lo < per_step.mean() < hi
    inside = np.mean((per_step > lo) & (per_step < hi))
    assert inside > 0.9  # ≈ 95 % of the per-step run averages fall in the 95 % band


def test_joseph_update_equals_textbook_and_is_batched() -> None:
    rng = np.random.default_rng(1)
    k, n, m = 50, 6, 3
    a = rng.normal(size=(k, n, n))
    p = a @ np.swapaxes(a, 1, 2) + n * np.eye(n)
    x = rng.normal(size=(k, n))
    h = rng.normal(size=(m, n))
    r = np.diag([1.0, 2.0, 3.0])
    z = rng.normal(size=(k, m))
    mean, covar, _, s = kalman_update(x, p, z, h, r)
    for i in range(0, k, 7):
        s_i = h @ p[i] @ h.T + r
        gain = p[i] @ h.T @ np.linalg.inv(s_i)
        assert np.allclose(mean[i], x[i] + gain @ (z[i] - h @ x[i]))
        assert np.allclose(covar[i], (np.eye(n) - gain @ h) @ p[i], atol=1e-9)
        assert np.allclose(s[i], s_i)
    f = rng.normal(size=(n, n))
    q = np.eye(n)
    mp, pp = kalman_predict(x, p, f, q)
    assert np.allclose(pp[3], f @ p[3] @ f.T + q) and np.allclose(mp[3], f @ x[3])


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_small_inverse_closed_forms(m: int) -> None:
    rng = np.random.default_rng(m)
    a = rng.normal(size=(20, m, m))
    s = a @ np.swapaxes(a, 1, 2) + np.eye(m)
    inv, logdet = inv_and_logdet(s)
    assert np.allclose(inv, np.linalg.inv(s))
    assert np.allclose(logdet, np.linalg.slogdet(s)[1])


def test_ekf_range_az_el_consistent_and_beats_raw_conversion() -> None:
    """A CV target seen by a radar in range/azimuth/elevation: the EKF's position error is
    well below the measurement's and its NEES stays near the state dimension."""
    rng = np.random.default_rng(2)
    runs, steps, dt = 200, 60, 2.0
    site = (1000.0, -2000.0, 20.0)
    model = RangeAzEl(6, site)
    sig = np.array([20.0, 2e-3, 2e-3])
    r = np.diag(sig**2)
    cv = ConstantVelocity(3, 0.5, "discrete")
    f, q_chol = cv.matrix(dt), np.linalg.cholesky(cv.covar(dt) + 1e-12 * np.eye(6))
    x = np.zeros((runs, 6))
    x[:, :3] = [30_000.0, 40_000.0, 3_000.0]
    x[:, 3:] = rng.normal(0, 1, (runs, 3)) * [150.0, 150.0, 5.0]
    p0 = np.diag([100.0**2] * 3 + [200.0**2] * 3)
    states = GaussianStates(
        x + rng.multivariate_normal(np.zeros(6), p0, runs), np.broadcast_to(p0, (runs, 6, 6)).copy()
    )
    predictor, updater = KalmanPredictor(cv), ExtendedKalmanUpdater()
    pos_err, raw_err, nees_all = [], [], []
    for k in range(steps):
        x = x @ f.T + rng.standard_normal(x.shape) @ q_chol.T
        z = enu_to_rae(x[:, :3] - np.array(site)) + rng.normal(0, 1, (runs, 3)) * sig
        states = _filter_batch(predictor, updater, model, states, z, r, dt)
        if k >= 20:
            pos_err.append(states.mean[:, :3] - x[:, :3])
            raw_err.append(model.to_position(z, r)[0] - x[:, :3])
            nees_all.append(nees(x, states.mean, states.covar))
    ekf = np.sqrt(np.mean(np.sum(np.concatenate(pos_err) ** 2, axis=1)))
    raw = np.sqrt(np.mean(np.sum(np.concatenate(raw_err) ** 2, axis=1)))
    assert ekf < 0.6 * raw
    assert 5.0 < np.mean(nees_all) < 7.0  # n = 6; the EKF's linearization is excellent here


def _turning_truth(dt: float) -> np.ndarray:
    """Straight 40 s east at 250 m/s, a 3 °/s turn for 60 s, straight again for 60 s."""
    ct = CoordinatedTurn(2, 0.0, 0.0)
    x = np.array([[0.0, 0.0, 250.0, 0.0, 0.0]])
    out = []
    for k in range(80):
        x[0, 4] = np.deg2rad(3.0) if 40 <= k * dt < 100 else 0.0
        out.append(x[0].copy())
        x = ct.function(x, dt)
    return np.array(out)


def _run_turning(predictor, updater, init, truth, z, sigma_m, dt):  # type: ignore[no-untyped-def]
    meas = LinearPosition(5, 2)
    runs = z.shape[0]
    states, errs, probs = init, [], []
    idx = np.arange(runs)
    r = np.broadcast_to(sigma_m**2 * np.eye(2), (runs, 2, 2))
    for k in range(len(truth)):
        if k:
            states = predictor.predict(states, dt)
        mp = updater.predict_measurement(states, meas)
        pairs = updater.innovations(states, mp, meas, idx, idx, z[:, k], r)
        states = updater.update(states, mp, meas, pairs)
        errs.append(states.mean[:, :2] - truth[k, :2])
        if hasattr(states, "mode_prob"):
            probs.append(states.mode_prob.mean(axis=0))
    e = np.array(errs)
    return float(np.sqrt((e**2).sum(-1).mean())), np.array(probs)


def test_imm_beats_cv_on_a_manoeuvring_target() -> None:
    """IMM (CV + coordinated turn) against CV filters tuned from gentle to manoeuvre-level noise:
    the IMM's position RMSE is lower than every one of them, and its turn-mode probability is
    high in the turn and low on the straight legs."""
    dt, sigma_m, runs = 2.0, 50.0, 100
    rng = np.random.default_rng(3)
    truth = _turning_truth(dt)
    z = truth[None, :, :2] + rng.normal(0, sigma_m, (runs, len(truth), 2))
    m0 = np.zeros((runs, 5))
    m0[:, :2] = z[:, 0]
    m0[:, 2] = 250.0
    p0 = np.broadcast_to(np.diag([sigma_m**2, sigma_m**2, 50.0**2, 50.0**2, 0.02**2]), (runs, 5, 5))

    cv_mode = CombinedTransition((ConstantVelocity(2, 0.5, "discrete"), RandomWalk(1, 1e-4)))
    ct_mode = CoordinatedTurn(2, 0.5, 0.01)
    imm = IMMPredictor(
        (ExtendedKalmanPredictor(cv_mode), ExtendedKalmanPredictor(ct_mode)),
        np.array([[0.95, 0.05], [0.05, 0.95]]),
    )
    imm_rmse, probs = _run_turning(
        imm, IMMUpdater(), imm.initial_states(m0, p0.copy()), truth, z, sigma_m, dt
    )
    for sigma_a in (0.5, 2.0, 5.0, 10.0, 20.0):
        cv = CombinedTransition((ConstantVelocity(2, sigma_a, "discrete"), RandomWalk(1, 0.0)))
        cv_rmse, _ = _run_turning(
            KalmanPredictor(cv),
            KalmanUpdater(),
            GaussianStates(m0.copy(), p0.copy()),
            truth,
            z,
            sigma_m,
            dt,
        )
        assert imm_rmse < 0.9 * cv_rmse, (sigma_a, imm_rmse, cv_rmse)
    t = np.arange(len(truth)) * dt
    in_turn = (t >= 60) & (t < 100)
    straight = t >= 120
    assert probs[in_turn, 1].mean() > 0.7
    assert probs[straight, 1].mean() < 0.5


def test_ca_filter_tracks_constant_acceleration_better_than_cv() -> None:
    dt, sigma_m, runs, steps = 1.0, 10.0, 100, 60
    rng = np.random.default_rng(4)
    t = np.arange(steps) * dt
    truth = np.stack([0.5 * 8.0 * t**2, 100.0 * t], axis=1)  # 8 m/s² along x
    z = truth[None] + rng.normal(0, sigma_m, (runs, steps, 2))
    meas = LinearPosition(6, 2)
    ca = KalmanPredictor(ConstantAcceleration(2, 0.5, "discrete"))
    meas_cv = LinearPosition(4, 2)
    cv = KalmanPredictor(ConstantVelocity(2, 0.5, "discrete"))
    s_ca = GaussianStates(
        np.zeros((runs, 6)),
        np.broadcast_to(np.diag([1e4] * 2 + [1e4] * 2 + [100.0] * 2), (runs, 6, 6)).copy(),
    )
    s_cv = GaussianStates(
        np.zeros((runs, 4)), np.broadcast_to(np.diag([1e4] * 4), (runs, 4, 4)).copy()
    )
    r = sigma_m**2 * np.eye(2)
    e_ca, e_cv = [], []
    for k in range(steps):
        s_ca = _filter_batch(ca, KalmanUpdater(), meas, s_ca, z[:, k], r, dt if k else 0.0)
        s_cv = _filter_batch(cv, KalmanUpdater(), meas_cv, s_cv, z[:, k], r, dt if k else 0.0)
        if k >= 20:
            e_ca.append(s_ca.mean[:, :2] - truth[k])
            e_cv.append(s_cv.mean[:, :2] - truth[k])
    rmse_ca = np.sqrt(np.mean(np.concatenate(e_ca) ** 2))
    rmse_cv = np.sqrt(np.mean(np.concatenate(e_cv) ** 2))
    assert rmse_ca < 0.5 * rmse_cv
    assert rmse_ca < sigma_m


def test_imm_predictor_validates_inputs() -> None:
    p = KalmanPredictor(ConstantVelocity(2, 1.0))
    with pytest.raises(ValueError, match="row-stochastic"):
        IMMPredictor((p, p), np.array([[0.5, 0.4], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="state layout"):
        IMMPredictor((p, KalmanPredictor(ConstantVelocity(3, 1.0))), np.eye(2))
    with pytest.raises(TypeError, match="ExtendedKalmanPredictor"):
        KalmanPredictor(CoordinatedTurn(2))
