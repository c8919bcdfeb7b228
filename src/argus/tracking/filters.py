"""Batched Kalman, extended Kalman and IMM filtering.

Every operation works on all tracks at once: means are (k, n), covariances (k, n, n), and the
update runs on a batch of track/measurement *pairs* (q of them; a track may appear in several
pairs, as JPDA needs). There is no per-track Python loop.

Equations (Bar-Shalom, Li & Kirubarajan 2001, §5.2 and §10.3; Blackman & Popoli 1999, ch. 2)::

    predict   x⁻ = f(x),  P⁻ = F P Fᵀ + Q           (F = ∂f/∂x for the EKF)
    innovate  ν = z - h(x⁻),  S = H P⁻ Hᵀ + R,  d² = νᵀ S⁻¹ ν
    update    K = P⁻ Hᵀ S⁻¹,  x = x⁻ + K ν,
              P = (I - K H) P⁻ (I - K H)ᵀ + K R Kᵀ    (Joseph form: symmetric, PSD)

The IMM (Blom & Bar-Shalom 1988; Bar-Shalom, Li & Kirubarajan 2001, §11.6) mixes the
mode-conditioned estimates with the Markov transition matrix ``Π`` before each prediction
(``c_j = Σ_i Π_ij μ_i``, ``μ_i|j = Π_ij μ_i / c_j``), filters each mode, and updates the mode
probabilities with the modes' measurement likelihoods (``μ_j ∝ c_j Λ_j``).

:func:`alpha_beta_steady_state` gives the closed-form steady state of the constant-velocity
Kalman filter with piecewise-constant white acceleration (Kalata 1984).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from argus.tracking.models import LinearPosition, MeasurementModel, TransitionModel
from argus.tracking.states import GaussianStates, IMMStates

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

__all__ = [
    "ExtendedKalmanPredictor",
    "ExtendedKalmanUpdater",
    "IMMMeasurementPrediction",
    "IMMPredictor",
    "IMMUpdater",
    "KalmanPredictor",
    "KalmanUpdater",
    "MeasurementPrediction",
    "PairInnovations",
    "alpha_beta_steady_state",
    "kalata_tracking_index",
    "kalman_predict",
    "kalman_update",
]

_LOG_2PI = math.log(2.0 * math.pi)


# ---- plain batched functions ----


def kalman_predict(
    mean: FloatArray, covar: FloatArray, f: FloatArray, q: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Linear prediction of ``k`` states; ``f`` is (n, n) or (k, n, n), ``q`` (n, n) or (k, n, n)."""
    n = mean.shape[1]
    if f.ndim == 2 and n <= _KRON_MAX_DIM:
        mean_p = mean @ f.T
        covar_p = _kron_congruence(covar, f) + q
    elif f.ndim == 2:
        mean_p = mean @ f.T
        covar_p = f @ covar @ f.T + q
    else:
        mean_p = np.einsum("kij,kj->ki", f, mean)
        covar_p = f @ covar @ np.swapaxes(f, -1, -2) + q
    return mean_p, _symmetrize(covar_p)


_KRON_MAX_DIM = 9
#: Row-block size bound for the (F ⊗ F) GEMM: OpenBLAS runs a GEMM single-threaded when
#: M·N·K <= 262,144; staying under it avoids thread start-up and, worse, spin-waiting threads
#: when the machine's cores are busy (a 100× slowdown was measured on a loaded 2-core machine).
_GEMM_SINGLE_THREAD_MNK = 200_000


def _kron_congruence(covar: FloatArray, f: FloatArray) -> FloatArray:
    """``F P Fᵀ`` for every ``P`` in the stack as row-blocked GEMMs: vec(F P Fᵀ) = (F ⊗ F) vec(P)."""
    k, n, _ = covar.shape
    n2 = n * n
    kron_t = np.kron(f, f).T
    flat = covar.reshape(k, n2)
    block = max(8, _GEMM_SINGLE_THREAD_MNK // (n2 * n2))
    if k <= block:
        return (flat @ kron_t).reshape(k, n, n)
    out = np.empty((k, n2))
    for start in range(0, k, block):  # blocks of rows, not tracks one by one
        np.matmul(flat[start : start + block], kron_t, out=out[start : start + block])
    return out.reshape(k, n, n)


def kalman_update(
    mean: FloatArray,
    covar: FloatArray,
    z: FloatArray,
    h: FloatArray,
    r: FloatArray,
    z_pred: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Joseph-form update of ``k`` states with one measurement each.

    ``h`` is (m, n) or (k, m, n), ``r`` (m, m) or (k, m, m). ``z_pred`` defaults to ``H x``
    (pass ``h(x)`` for an EKF). Returns the updated mean and covariance, the innovation and its
    covariance ``S``.
    """
    k = mean.shape[0]
    h3 = np.broadcast_to(h, (k, *h.shape[-2:]))
    r3 = np.broadcast_to(r, (k, *r.shape[-2:]))
    if z_pred is None:
        z_pred = np.einsum("kmn,kn->km", h3, mean)
    nu = z - z_pred
    pht = covar @ np.swapaxes(h3, -1, -2)
    s = _symmetrize(h3 @ pht + r3)
    gain = pht @ inv_and_logdet(s)[0]
    mean_u, covar_u = _joseph(mean, covar, nu, gain, h3, r3)
    return mean_u, covar_u, nu, s


def inv_and_logdet(s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Inverses and log-determinants of a stack of symmetric positive-definite matrices.

    Closed forms (adjugate) for 1×1, 2×2 and 3×3, which are an order of magnitude faster than
    LAPACK on stacks of tiny matrices; :func:`numpy.linalg.inv` otherwise.
    """
    m = s.shape[-1]
    if m == 1:
        det = s[..., 0, 0]
        return 1.0 / s, np.log(det)
    if m == 2:
        a, b, d = s[..., 0, 0], s[..., 0, 1], s[..., 1, 1]
        det = a * d - b * b
        inv = np.empty_like(s)
        inv[..., 0, 0] = d / det
        inv[..., 1, 1] = a / det
        inv[..., 0, 1] = inv[..., 1, 0] = -b / det
        return inv, np.log(det)
    if m == 3:
        a, b, c = s[..., 0, 0], s[..., 0, 1], s[..., 0, 2]
        e, f, i = s[..., 1, 1], s[..., 1, 2], s[..., 2, 2]
        c00 = e * i - f * f
        c01 = c * f - b * i
        c02 = b * f - c * e
        c11 = a * i - c * c
        c12 = b * c - a * f
        c22 = a * e - b * b
        det = a * c00 + b * c01 + c * c02
        inv = np.empty_like(s)
        inv[..., 0, 0], inv[..., 1, 1], inv[..., 2, 2] = c00 / det, c11 / det, c22 / det
        inv[..., 0, 1] = inv[..., 1, 0] = c01 / det
        inv[..., 0, 2] = inv[..., 2, 0] = c02 / det
        inv[..., 1, 2] = inv[..., 2, 1] = c12 / det
        return inv, np.log(det)
    _, logdet = np.linalg.slogdet(s)
    return np.asarray(np.linalg.inv(s), dtype=np.float64), np.asarray(logdet, dtype=np.float64)


def _symmetrize(a: FloatArray) -> FloatArray:
    return 0.5 * (a + np.swapaxes(a, -1, -2))


def _joseph(
    mean: FloatArray,
    covar: FloatArray,
    nu: FloatArray,
    gain: FloatArray,
    h: FloatArray,
    r: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    n = mean.shape[1]
    mean_u = mean + np.einsum("knm,km->kn", gain, nu)
    a = np.eye(n) - gain @ h
    gain_t = np.swapaxes(gain, -1, -2)
    covar_u = a @ covar @ np.swapaxes(a, -1, -2) + gain @ r @ gain_t
    return mean_u, _symmetrize(covar_u)


def kalata_tracking_index(sigma_a: float, dt: float, sigma_m: float) -> float:
    """Kalata's tracking index ``λ = σ_a T² / σ_m`` (manoeuvre-to-measurement noise ratio)."""
    return sigma_a * dt**2 / sigma_m


def alpha_beta_steady_state(tracking_index: float) -> tuple[float, float]:
    """Steady-state gains ``(α, β)`` of the CV Kalman filter for Kalata's tracking index ``λ``.

    For the piecewise-constant white-acceleration model (noise ``σ_a``) with position measurements
    (noise ``σ_m``) every ``T`` seconds, the steady-state Kalman gain is ``[α, β/T]`` with
    (Kalata 1984, "The tracking index: a generalized parameter for α-β and α-β-γ target
    trackers", IEEE Trans. AES 20(2))::

        α = -(λ² + 8λ - (λ + 4) √(λ² + 8λ)) / 8
        β = (λ² + 4λ - λ √(λ² + 8λ)) / 4

    and the steady-state updated position variance is ``α σ_m²``, i.e. the per-axis position
    RMSE is ``√α σ_m``.
    """
    lam = float(tracking_index)
    if lam <= 0:
        raise ValueError(f"tracking_index must be > 0, got {lam}")
    root = math.sqrt(lam**2 + 8 * lam)
    alpha = -(lam**2 + 8 * lam - (lam + 4) * root) / 8
    beta = (lam**2 + 4 * lam - lam * root) / 4
    return alpha, beta


# ---- predictors ----


@dataclass(frozen=True)
class KalmanPredictor:
    """Linear Kalman prediction with a :class:`~argus.tracking.models.LinearTransitionModel`.

    Property: ``transition_model``.
    """

    transition_model: TransitionModel

    def __post_init__(self) -> None:
        self._check_model()

    def _check_model(self) -> None:
        if not self.transition_model.linear:
            raise TypeError(
                f"{type(self.transition_model).__name__} is not linear; use ExtendedKalmanPredictor"
            )

    @property
    def ndim_state(self) -> int:
        return self.transition_model.ndim_state

    def initial_states(self, mean: FloatArray, covar: FloatArray) -> GaussianStates:
        """States for new tracks from Gaussian priors."""
        return GaussianStates(mean, covar)

    def predict(self, states: GaussianStates, dt: float) -> GaussianStates:
        """Predict every state ``dt`` seconds ahead."""
        if len(states) == 0:
            return states.copy()
        model = self.transition_model
        f = model.matrix(dt) if hasattr(model, "matrix") else model.jacobian(states.mean, dt)[0]
        mean, covar = kalman_predict(states.mean, states.covar, f, model.covar(dt))
        return GaussianStates(mean, covar)


@dataclass(frozen=True)
class ExtendedKalmanPredictor(KalmanPredictor):
    """EKF prediction: ``x⁻ = f(x)``, ``P⁻ = J P Jᵀ + Q`` with the model's Jacobian ``J``.

    Property: ``transition_model`` (any :class:`~argus.tracking.models.TransitionModel`).
    """

    def _check_model(self) -> None:
        return None

    def predict(self, states: GaussianStates, dt: float) -> GaussianStates:
        if len(states) == 0:
            return states.copy()
        model = self.transition_model
        if model.linear:
            return super().predict(states, dt)
        jac = model.jacobian(states.mean, dt)
        mean = model.function(states.mean, dt)
        covar = _symmetrize(jac @ states.covar @ np.swapaxes(jac, -1, -2) + model.covar(dt))
        return GaussianStates(mean, covar)


# ---- updaters ----


@dataclass(frozen=True)
class MeasurementPrediction:
    """Predicted measurement of every track (k of them) under one measurement model."""

    z_pred: FloatArray
    """``h(x⁻)`` (k, m)."""
    h: FloatArray
    """``H`` (k, m, n) (the Jacobian for nonlinear models)."""
    hpht: FloatArray
    """``H P⁻ Hᵀ`` (k, m, m): ``S`` without the measurement noise."""
    pht: FloatArray
    """``P⁻ Hᵀ`` (k, n, m)."""


@dataclass(frozen=True)
class PairInnovations:
    """Innovations of ``q`` candidate (track, measurement) pairs."""

    track: IndexArray
    meas: IndexArray
    z: FloatArray
    """Measurements (q, m)."""
    r: FloatArray
    """Measurement covariances (q, m, m)."""
    nu: FloatArray
    """Innovations (q, m)."""
    s: FloatArray
    """Innovation covariances (q, m, m)."""
    s_inv: FloatArray
    d2: FloatArray
    """Squared Mahalanobis distances ``νᵀ S⁻¹ ν`` (q,)."""
    log_likelihood: FloatArray
    """``log N(ν; 0, S)`` (q,) (for an IMM: of the mode mixture)."""

    def __len__(self) -> int:
        return int(self.track.shape[0])

    def take(self, index: IndexArray | npt.NDArray[np.bool_]) -> PairInnovations:
        return PairInnovations(
            self.track[index],
            self.meas[index],
            self.z[index],
            self.r[index],
            self.nu[index],
            self.s[index],
            self.s_inv[index],
            self.d2[index],
            self.log_likelihood[index],
        )


def _pair_innovations(
    mp: MeasurementPrediction,
    model: MeasurementModel,
    track: IndexArray,
    meas: IndexArray,
    z: FloatArray,
    r: FloatArray,
) -> PairInnovations:
    zq = z[meas]
    rq = r[meas]
    nu = model.residual(zq, mp.z_pred[track])
    s = _symmetrize(mp.hpht[track] + rq)
    s_inv, logdet = inv_and_logdet(s)
    d2 = np.einsum("qi,qij,qj->q", nu, s_inv, nu)
    loglik = -0.5 * (d2 + logdet + nu.shape[1] * _LOG_2PI)
    return PairInnovations(track, meas, zq, rq, nu, s, s_inv, d2, loglik)


@dataclass(frozen=True)
class KalmanUpdater:
    """Kalman update (Joseph form) for linear measurement models.

    Property: ``force_symmetric`` (symmetrize ``S`` and ``P``; always on, kept for clarity).
    """

    force_symmetric: bool = True

    def _check_model(self, model: MeasurementModel) -> None:
        if not model.linear:
            raise TypeError(f"{type(model).__name__} is not linear; use ExtendedKalmanUpdater")

    def predict_measurement(
        self, states: GaussianStates, model: MeasurementModel
    ) -> MeasurementPrediction:
        """``h(x⁻)``, ``H``, ``H P⁻ Hᵀ`` and ``P⁻ Hᵀ`` of every track."""
        self._check_model(model)
        h = model.jacobian(states.mean)
        if isinstance(model, LinearPosition):  # H = [I 0]: slices, no products
            d = model.ndim_pos
            pht = states.covar[:, :, :d]
            hpht = states.covar[:, :d, :d]
        else:
            pht = states.covar @ np.swapaxes(h, -1, -2)
            hpht = h @ pht
        return MeasurementPrediction(model.function(states.mean), h, hpht, pht)

    def innovations(
        self,
        states: GaussianStates,
        mp: MeasurementPrediction,
        model: MeasurementModel,
        track: IndexArray,
        meas: IndexArray,
        z: FloatArray,
        r: FloatArray,
    ) -> PairInnovations:
        """Innovations, ``S``, ``d²`` and log-likelihoods of the given pairs."""
        return _pair_innovations(mp, model, track, meas, z, r)

    def update(
        self,
        states: GaussianStates,
        mp: MeasurementPrediction,
        model: MeasurementModel,
        pairs: PairInnovations,
    ) -> GaussianStates:
        """Updated states, one row per pair (track ``pairs.track[i]`` with ``pairs.meas[i]``)."""
        t = pairs.track
        gain = mp.pht[t] @ pairs.s_inv
        mean, covar = _joseph(states.mean[t], states.covar[t], pairs.nu, gain, mp.h[t], pairs.r)
        return GaussianStates(mean, covar)

    def missed(self, states: GaussianStates) -> GaussianStates:
        """States of tracks that received no measurement (the prediction)."""
        return states


@dataclass(frozen=True)
class ExtendedKalmanUpdater(KalmanUpdater):
    """EKF update: ``ν = z ⊖ h(x⁻)`` (angles wrapped), ``H = ∂h/∂x`` at ``x⁻``, Joseph form."""

    def _check_model(self, model: MeasurementModel) -> None:
        return None


# ---- IMM ----


@dataclass(frozen=True)
class IMMPredictor:
    """Interacting multiple model mixing + mode-matched prediction.

    Properties: ``predictors`` (one per mode, all on the same state layout),
    ``transition_matrix`` (``Π[i, j] = P(mode j now | mode i before)``, rows sum to 1),
    ``initial_mode_prob`` (for new tracks; uniform by default).
    """

    predictors: tuple[KalmanPredictor, ...]
    transition_matrix: FloatArray
    initial_mode_prob: FloatArray | None = None
    _pi: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        r = len(self.predictors)
        if r < 2:
            raise ValueError("an IMM needs at least two predictors")
        pi = np.asarray(self.transition_matrix, dtype=np.float64)
        if pi.shape != (r, r) or not np.allclose(pi.sum(axis=1), 1.0) or (pi < 0).any():
            raise ValueError(f"transition_matrix must be a ({r}, {r}) row-stochastic matrix")
        dims = {p.ndim_state for p in self.predictors}
        if len(dims) != 1:
            raise ValueError(f"all IMM modes must share one state layout, got sizes {dims}")
        object.__setattr__(self, "_pi", pi)

    @property
    def ndim_state(self) -> int:
        return self.predictors[0].ndim_state

    @property
    def n_modes(self) -> int:
        return len(self.predictors)

    def initial_states(self, mean: FloatArray, covar: FloatArray) -> IMMStates:
        r = self.n_modes
        mu = (
            np.full(r, 1.0 / r)
            if self.initial_mode_prob is None
            else np.asarray(self.initial_mode_prob, dtype=np.float64)
        )
        k = len(mean)
        return IMMStates(
            np.repeat(np.asarray(mean)[:, None, :], r, axis=1),
            np.repeat(np.asarray(covar)[:, None, :, :], r, axis=1),
            np.broadcast_to(mu, (k, r)).copy(),
        )

    def mix(self, states: IMMStates) -> IMMStates:
        """Mixed initial conditions ``x0_j, P0_j`` and predicted mode probabilities ``c_j``."""
        mu = states.mode_prob
        c = mu @ self._pi  # (k, r)
        w = mu[:, :, None] * self._pi[None, :, :] / np.maximum(c[:, None, :], 1e-300)  # (k,i,j)
        x0 = np.einsum("kij,kin->kjn", w, states.mode_mean)
        dx = states.mode_mean[:, :, None, :] - x0[:, None, :, :]  # (k, i, j, n)
        spread = states.mode_covar[:, :, None] + dx[..., :, None] * dx[..., None, :]
        p0 = np.einsum("kij,kijab->kjab", w, spread)
        return IMMStates(x0, p0, c)

    def predict(self, states: IMMStates, dt: float) -> IMMStates:
        if len(states) == 0:
            return states.copy()
        mixed = self.mix(states)
        means, covars = [], []
        for j, predictor in enumerate(self.predictors):
            pred = predictor.predict(
                GaussianStates(mixed.mode_mean[:, j], mixed.mode_covar[:, j]), dt
            )
            means.append(pred.mean)
            covars.append(pred.covar)
        return IMMStates(np.stack(means, axis=1), np.stack(covars, axis=1), mixed.mode_prob)


@dataclass(frozen=True)
class IMMMeasurementPrediction(MeasurementPrediction):
    """Combined (moment-matched) prediction for gating, plus the per-mode predictions."""

    modes: MeasurementPrediction | None = None
    """Per-mode predictions, flattened to ``k * r`` rows (track-major)."""
    n_modes: int = 1


@dataclass(frozen=True)
class IMMUpdater:
    """IMM update: mode-matched updates and mode-probability update.

    Gating and assignment costs use the moment-matched predicted Gaussian; the likelihood of a
    pair is that of the mode mixture, ``Σ_j c_j N(ν_j; 0, S_j)``.

    Property: ``updater`` (the mode-matched updater, Kalman or extended Kalman).
    """

    updater: KalmanUpdater = field(default_factory=ExtendedKalmanUpdater)

    @staticmethod
    def _flat(states: IMMStates) -> GaussianStates:
        k, r, n = states.mode_mean.shape
        return GaussianStates(
            states.mode_mean.reshape(k * r, n), states.mode_covar.reshape(k * r, n, n)
        )

    def predict_measurement(
        self, states: IMMStates, model: MeasurementModel
    ) -> IMMMeasurementPrediction:
        combined = self.updater.predict_measurement(
            GaussianStates(states.mean, states.covar), model
        )
        modes = self.updater.predict_measurement(self._flat(states), model)
        return IMMMeasurementPrediction(
            combined.z_pred,
            combined.h,
            combined.hpht,
            combined.pht,
            modes=modes,
            n_modes=states.n_modes,
        )

    def _mode_pairs(
        self,
        mp: IMMMeasurementPrediction,
        model: MeasurementModel,
        pairs: PairInnovations,
    ) -> PairInnovations:
        assert mp.modes is not None
        r = mp.n_modes
        q = len(pairs)
        track = (pairs.track[:, None] * r + np.arange(r)).reshape(-1)
        meas = np.repeat(np.arange(q), r)
        return _pair_innovations(mp.modes, model, track, meas, pairs.z, pairs.r)

    def innovations(
        self,
        states: IMMStates,
        mp: IMMMeasurementPrediction,
        model: MeasurementModel,
        track: IndexArray,
        meas: IndexArray,
        z: FloatArray,
        r: FloatArray,
    ) -> PairInnovations:
        combined = _pair_innovations(mp, model, track, meas, z, r)
        if len(combined) == 0:
            return combined
        per_mode = self._mode_pairs(mp, model, combined)
        log_c = np.log(np.maximum(states.mode_prob[track], 1e-300))  # (q, r)
        ll = per_mode.log_likelihood.reshape(len(combined), mp.n_modes) + log_c
        mix_ll = np.logaddexp.reduce(ll, axis=1)
        return PairInnovations(
            combined.track,
            combined.meas,
            combined.z,
            combined.r,
            combined.nu,
            combined.s,
            combined.s_inv,
            combined.d2,
            mix_ll,
        )

    def update(
        self,
        states: IMMStates,
        mp: IMMMeasurementPrediction,
        model: MeasurementModel,
        pairs: PairInnovations,
    ) -> IMMStates:
        """Mode-matched Joseph updates and ``μ_j ∝ c_j Λ_j``, one row per pair."""
        assert mp.modes is not None
        r = mp.n_modes
        q = len(pairs)
        flat = self._flat(states)
        per_mode = self._mode_pairs(mp, model, pairs)
        upd = self.updater.update(flat, mp.modes, model, per_mode)
        n = states.ndim_state
        log_c = np.log(np.maximum(states.mode_prob[pairs.track], 1e-300))
        ll = per_mode.log_likelihood.reshape(q, r) + log_c
        ll -= ll.max(axis=1, keepdims=True)
        mu = np.exp(ll)
        mu /= mu.sum(axis=1, keepdims=True)
        return IMMStates(upd.mean.reshape(q, r, n), upd.covar.reshape(q, r, n, n), mu)

    def missed(self, states: IMMStates) -> IMMStates:
        return states
